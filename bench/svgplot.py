"""Tiny dependency-free SVG charts for the benchmark reports (no matplotlib
on a fresh Debian machine): grouped bars with min-max whiskers, line plots
(linear or log-log) with points; and `summarize`, the median, min and max
over runs that every report prints and the bars' whiskers show."""
import math
import statistics


def summarize(values):
    """{"median", "min", "max", "runs"} over the values that are not None;
    None when there are none."""
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "runs": len(vals)}


def _frame(w, h, title):
    return [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="11">',
            f'<rect width="{w}" height="{h}" fill="white"/>',
            f'<text x="{w/2}" y="16" text-anchor="middle" font-size="13">{title}</text>']


COLOURS = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02"]


def bars(path, title, groups, series, value, unit=""):
    """groups: labels along x; series: names per group; value(g, s) ->
    {"median", "min", "max"} or None."""
    w, h, left, bottom = 760, 360, 80, 60
    vals = [value(g, s) for g in groups for s in series]
    maxv = max((v["max"] for v in vals if v), default=1) * 1.1 or 1
    parts = _frame(w, h, title)
    parts += [f'<line x1="{left}" y1="{h-bottom}" x2="{w-10}" y2="{h-bottom}" stroke="black"/>',
              f'<line x1="{left}" y1="30" x2="{left}" y2="{h-bottom}" stroke="black"/>']
    for i in range(5):
        v = maxv * i / 4
        y = h - bottom - (h - bottom - 30) * i / 4
        parts.append(f'<text x="{left-5}" y="{y+4}" text-anchor="end">{v:.4g}{unit}</text>')
        parts.append(f'<line x1="{left}" y1="{y}" x2="{w-10}" y2="{y}" stroke="#ddd"/>')
    group_w = (w - left - 20) / len(groups)
    bar_w = group_w / (len(series) + 1)
    scale = (h - bottom - 30) / maxv
    for gi, g in enumerate(groups):
        x0 = left + gi * group_w + bar_w / 2
        for si, s in enumerate(series):
            v = value(g, s)
            if not v:
                continue
            x = x0 + si * bar_w
            parts.append(f'<rect x="{x:.1f}" y="{h-bottom-v["median"]*scale:.1f}" width="{bar_w-2:.1f}" '
                         f'height="{v["median"]*scale:.1f}" fill="{COLOURS[si % len(COLOURS)]}"/>')
            parts.append(f'<line x1="{x+bar_w/2-1:.1f}" x2="{x+bar_w/2-1:.1f}" y1="{h-bottom-v["min"]*scale:.1f}" '
                         f'y2="{h-bottom-v["max"]*scale:.1f}" stroke="black"/>')
        parts.append(f'<text x="{x0+len(series)*bar_w/2:.1f}" y="{h-bottom+15}" text-anchor="middle">{g}</text>')
    for si, s in enumerate(series):
        parts.append(f'<rect x="{left+10+si*170}" y="{h-22}" width="10" height="10" fill="{COLOURS[si % len(COLOURS)]}"/>')
        parts.append(f'<text x="{left+25+si*170}" y="{h-13}">{s}</text>')
    parts.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(parts))


def lines(path, title, series, xlabel, ylabel, loglog=False, points=True):
    """series: list of (name, [(x, y), ...])."""
    w, h, left, bottom = 760, 400, 80, 60
    pts = [(x, y) for _, s in series for x, y in s if (not loglog or (x > 0 and y > 0))]
    tx = (lambda v: math.log10(v)) if loglog else (lambda v: v)
    xs = [tx(x) for x, _ in pts] or [0, 1]
    ys = [tx(y) for _, y in pts] or [0, 1]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    if not loglog:
        y0 = min(0, y0)
    if x1 == x0:
        x1 = x0 + 1
    if y1 == y0:
        y1 = y0 + 1
    px = lambda v: left + (tx(v) - x0) / (x1 - x0) * (w - left - 20)
    py = lambda v: h - bottom - (tx(v) - y0) / (y1 - y0) * (h - bottom - 30)
    parts = _frame(w, h, title)
    parts += [f'<line x1="{left}" y1="{h-bottom}" x2="{w-10}" y2="{h-bottom}" stroke="black"/>',
              f'<line x1="{left}" y1="30" x2="{left}" y2="{h-bottom}" stroke="black"/>',
              f'<text x="{(w+left)/2}" y="{h-25}" text-anchor="middle">{xlabel}</text>',
              f'<text x="15" y="{(h-bottom)/2}" transform="rotate(-90 15 {(h-bottom)/2})" text-anchor="middle">{ylabel}</text>']
    for i in range(5):
        vx = x0 + (x1 - x0) * i / 4
        vy = y0 + (y1 - y0) * i / 4
        lx = 10 ** vx if loglog else vx
        ly = 10 ** vy if loglog else vy
        X = left + (w - left - 20) * i / 4
        Y = h - bottom - (h - bottom - 30) * i / 4
        parts.append(f'<text x="{X:.1f}" y="{h-bottom+14}" text-anchor="middle">{lx:.3g}</text>')
        parts.append(f'<text x="{left-5}" y="{Y+4:.1f}" text-anchor="end">{ly:.3g}</text>')
        parts.append(f'<line x1="{left}" y1="{Y:.1f}" x2="{w-10}" y2="{Y:.1f}" stroke="#eee"/>')
    for si, (name, s) in enumerate(series):
        c = COLOURS[si % len(COLOURS)]
        s = [(x, y) for x, y in s if (not loglog or (x > 0 and y > 0))]
        if len(s) > 1:
            d = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in s)
            parts.append(f'<polyline points="{d}" fill="none" stroke="{c}" stroke-width="1.5"/>')
        if points:
            for x, y in s:
                parts.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="2.5" fill="{c}"/>')
        parts.append(f'<rect x="{left+10+si*200}" y="{40}" width="10" height="10" fill="{c}"/>')
        parts.append(f'<text x="{left+25+si*200}" y="{49}">{name}</text>')
    parts.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(parts))
