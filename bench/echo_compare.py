#!/usr/bin/env python3
"""Side-by-side echo ping-pong: confab (io_uring, epoll) against a plain
Boost.Asio server, the same Asio server on Asio's io_uring backend, and a
raw liburing server (multishot accept and receive, provided buffers, no
framework: the floor), same client, same run.

Shows, per (connections, message size, server): requests/s, server CPU µs per
request, server syscalls per request, client-side RTT p50/p99 — median of
--runs runs with min and max —, requests/s and CPU per request as ratios
against the Asio server of the same run (median, min and max of the per-run
ratios), requests/s against Asio-io_uring and CPU per request against raw
liburing the same way, and the user-space memory per idle connection
at --idle connections. Writes JSON and an SVG chart beside it.

Needs: a built tree (meson setup build && ninja -C build), perf (linux-perf)
for the syscall counts (tracefs is mounted if missing), loopback only.
Server on core 0, client on core 1 (taskset). Every run is bounded in time.

  python3 bench/echo_compare.py --build build --runs 5 --out bench/results
"""
import argparse, json, os, re, signal, statistics, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from svgplot import summarize  # noqa: E402

SERVERS = [("confab-uring", ["--impl", "confab", "--backend", "uring"]),
           ("confab-epoll", ["--impl", "confab", "--backend", "epoll"]),
           ("asio", ["--impl", "asio"]),
           # the stronger peers: Asio 1.81 on its io_uring backend, and raw liburing (the floor)
           ("asio-uring", ["--impl", "asio-uring"]),
           ("raw-uring", ["--impl", "raw-uring"])]
# --ab-batching adds the io_uring server with batched waits off (an A/B of
# backend_options::batch_wait_us in the same run).
PLAIN = ("confab-uring-plain", ["--impl", "confab", "--backend", "uring", "--batch-wait-us", "0"])


def schedstat_ns(pid):
    total = 0
    for t in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{t}/schedstat") as f:
            total += int(f.read().split()[0])
    return total


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def start_server(build, args):
    p = subprocess.Popen(["taskset", "-c", "0", f"{build}/bench/echo_server"] + args,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    m = re.match(r"ready (\d+)", line)
    if not m:
        p.kill()
        raise SystemExit(f"server {args} did not start: {line!r} {p.stderr.read()}")
    return p, int(m.group(1))


def stop_server(p):
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def perf_available():
    if not os.path.isdir("/sys/kernel/tracing/events"):
        subprocess.run(["mount", "-t", "tracefs", "nodev", "/sys/kernel/tracing"], capture_output=True)
    r = subprocess.run(["perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter", "--", "true"],
                       capture_output=True, text=True)
    return r.returncode == 0 and "sys_enter" in r.stderr


def one_run(build, server_args, conns, size, warmup_ms, duration_ms, use_perf):
    srv, port = start_server(build, server_args)
    try:
        client = subprocess.Popen(["taskset", "-c", "1", f"{build}/bench/echo_client", "--port", str(port),
                                   "--connections", str(conns), "--bytes", str(size),
                                   "--warmup-ms", str(warmup_ms), "--duration-ms", str(duration_ms)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # Measure the server over the client's measurement window only.
        time.sleep(warmup_ms / 1000 + 0.05)
        window = duration_ms / 1000 - 0.1
        cpu0 = schedstat_ns(srv.pid)
        t0 = time.monotonic()
        syscalls = None
        if use_perf:
            r = subprocess.run(["perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter", "-p", str(srv.pid), "--",
                                "sleep", f"{window:.3f}"], capture_output=True, text=True)
            m = re.search(r"^(\d+),", r.stderr, re.M)
            syscalls = int(m.group(1)) if m else None
        else:
            time.sleep(window)
        cpu1 = schedstat_ns(srv.pid)
        t1 = time.monotonic()
        out, err = client.communicate(timeout=duration_ms / 1000 + 60)
        res = json.loads(out.strip().splitlines()[-1])
        rps = res["requests_per_s"]
        reqs_in_window = rps * (t1 - t0)
        return {
            "requests_per_s": rps,
            "p50_us": res["p50_us"],
            "p99_us": res["p99_us"],
            "failures": res["failures"],
            "server_cpu_us_per_request": (cpu1 - cpu0) / 1000 / reqs_in_window if reqs_in_window else None,
            "server_cpu_fraction": (cpu1 - cpu0) / 1e9 / (t1 - t0),
            "server_syscalls_per_request": (syscalls / reqs_in_window) if syscalls is not None and reqs_in_window else None,
        }
    finally:
        stop_server(srv)


def idle_memory(build, server_args, n):
    srv, port = start_server(build, server_args)
    try:
        time.sleep(0.2)
        base = rss_kib(srv.pid)
        client = subprocess.Popen(["taskset", "-c", "1", f"{build}/bench/echo_client", "--port", str(port),
                                   "--idle", str(n), "--hold-ms", "4000"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = client.stdout.readline()
        if not line.startswith("idle-ready"):
            raise SystemExit(f"idle client failed: {line!r} {client.stderr.read()}")
        time.sleep(0.5)  # let the server accept and arm every connection
        after = rss_kib(srv.pid)
        client.wait(timeout=30)
        return {"connections": n, "rss_before_kib": base, "rss_after_kib": after,
                "bytes_per_connection": (after - base) * 1024 / n}
    finally:
        stop_server(srv)


def svg_chart(results, path):
    # Grouped bars: requests/s median per configuration, one colour per server.
    configs = sorted({(r["connections"], r["bytes"]) for r in results})
    colours = {"confab-uring": "#1b9e77", "confab-uring-plain": "#66a61e", "confab-epoll": "#7570b3",
               "asio": "#d95f02", "asio-uring": "#e7298a", "raw-uring": "#666666"}
    w, h, left, bottom = 760, 360, 70, 50
    maxv = max(r["requests_per_s"]["median"] for r in results) * 1.1
    group_w = (w - left - 20) / len(configs)
    bar_w = group_w / (len(SERVERS) + 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="11">',
             f'<text x="{w/2}" y="16" text-anchor="middle" font-size="13">Echo ping-pong, requests/s (median of runs; bars min–max)</text>',
             f'<line x1="{left}" y1="{h-bottom}" x2="{w-10}" y2="{h-bottom}" stroke="black"/>',
             f'<line x1="{left}" y1="30" x2="{left}" y2="{h-bottom}" stroke="black"/>']
    for i in range(5):
        v = maxv * i / 4
        y = h - bottom - (h - bottom - 30) * i / 4
        parts.append(f'<text x="{left-5}" y="{y+4}" text-anchor="end">{v/1000:.0f}k</text>')
        parts.append(f'<line x1="{left}" y1="{y}" x2="{w-10}" y2="{y}" stroke="#ddd"/>')
    for gi, (c, b) in enumerate(configs):
        x0 = left + gi * group_w + bar_w / 2
        for si, (name, _) in enumerate(SERVERS):
            r = next((r for r in results if r["connections"] == c and r["bytes"] == b and r["server"] == name), None)
            if not r:
                continue
            s = r["requests_per_s"]
            scale = (h - bottom - 30) / maxv
            x = x0 + si * bar_w
            y = h - bottom - s["median"] * scale
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w-2:.1f}" height="{s["median"]*scale:.1f}" fill="{colours.get(name, "#999999")}"/>')
            parts.append(f'<line x1="{x+bar_w/2-1:.1f}" x2="{x+bar_w/2-1:.1f}" y1="{h-bottom-s["min"]*scale:.1f}" y2="{h-bottom-s["max"]*scale:.1f}" stroke="black"/>')
        parts.append(f'<text x="{x0+len(SERVERS)/2*bar_w:.1f}" y="{h-bottom+15}" text-anchor="middle">{c} conn, {b} B</text>')
    for si, (name, _) in enumerate(SERVERS):
        parts.append(f'<rect x="{left+10+si*120}" y="{h-18}" width="10" height="10" fill="{colours.get(name, "#999999")}"/>')
        parts.append(f'<text x="{left+25+si*120}" y="{h-9}">{name}</text>')
    parts.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(parts))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--connections", default="1,100,1000")
    ap.add_argument("--bytes", default="64,512")
    ap.add_argument("--warmup-ms", type=int, default=300)
    ap.add_argument("--duration-ms", type=int, default=2000)
    ap.add_argument("--idle", type=int, default=10000)
    ap.add_argument("--out", default="bench/results")
    ap.add_argument("--ab-batching", action="store_true",
                    help="also run the io_uring server with batched waits off (confab-uring-plain)")
    ap.add_argument("--variant", action="append", default=[], metavar="NAME=ARGS",
                    help="also run echo_server with these arguments under NAME, e.g. "
                         "'uring-direct=--impl confab --backend uring --direct 1' (repeatable)")
    a = ap.parse_args()
    if a.ab_batching:
        SERVERS.insert(1, PLAIN)
    for v in a.variant:
        name, sep, args = v.partition("=")
        if not sep or not name or not args.split():
            raise SystemExit(f"echo_compare: --variant wants NAME=ARGS, got {v!r}")
        SERVERS.insert(1, (name, args.split()))
    if a.runs < 1 or a.duration_ms < 200:
        raise SystemExit("echo_compare: --runs must be >= 1 and --duration-ms >= 200")
    os.makedirs(a.out, exist_ok=True)
    use_perf = perf_available()
    if not use_perf:
        print("note: perf cannot count syscalls here; syscalls per request left out", file=sys.stderr)
    conns = [int(x) for x in a.connections.split(",")]
    sizes = [int(x) for x in a.bytes.split(",")]
    results = []
    total = len(conns) * len(sizes) * len(SERVERS) * a.runs
    done = 0
    start = time.monotonic()
    for c in conns:
        for b in sizes:
            runs = {name: [] for name, _ in SERVERS}
            for run in range(a.runs):
                # Interleave servers within each run so drift hits all alike.
                for name, args in SERVERS:
                    runs[name].append(one_run(a.build, args, c, b, a.warmup_ms, a.duration_ms, use_perf))
                    done += 1
                    print(f"[{done}/{total}, {time.monotonic()-start:.0f}s] {c} conn {b} B {name}: "
                          f"{runs[name][-1]['requests_per_s']:.0f} req/s", file=sys.stderr, flush=True)
            for name, _ in SERVERS:
                rs = runs[name]
                base = runs["asio"]
                # Ratios against Asio run by run: servers are interleaved
                # within a run, so a run's pair saw the same machine state.
                rps_ratio = [r["requests_per_s"] / b["requests_per_s"] for r, b in zip(rs, base)]
                cpu_ratio = [r["server_cpu_us_per_request"] / b["server_cpu_us_per_request"]
                             for r, b in zip(rs, base)
                             if r["server_cpu_us_per_request"] and b["server_cpu_us_per_request"]]
                def ratio(key, base_name):
                    if base_name not in runs:
                        return None
                    return summarize([r[key] / q[key] for r, q in zip(rs, runs[base_name]) if r[key] and q[key]])
                results.append({"server": name, "connections": c, "bytes": b, "runs": len(rs),
                                "requests_per_s_vs_asio_uring": ratio("requests_per_s", "asio-uring"),
                                "cpu_per_request_vs_raw_uring": ratio("server_cpu_us_per_request", "raw-uring"),
                                **{k: summarize([r[k] for r in rs]) for k in
                                   ("requests_per_s", "server_cpu_us_per_request", "server_syscalls_per_request",
                                    "p50_us", "p99_us", "server_cpu_fraction")},
                                "requests_per_s_vs_asio": summarize(rps_ratio),
                                "cpu_per_request_vs_asio": summarize(cpu_ratio),
                                "per_run": rs,
                                "failures": sum(r["failures"] for r in rs)})
    memory = []
    if a.idle > 0:
        for name, args in SERVERS:
            if name == PLAIN[0]:
                continue  # batching cannot change idle memory
            memory.append({"server": name, **idle_memory(a.build, args, a.idle)})
            print(f"idle memory {name}: {memory[-1]['bytes_per_connection']:.0f} B/connection", file=sys.stderr)
    with open(os.path.join(a.out, "echo_compare.json"), "w") as f:
        json.dump({"results": results, "idle_memory": memory}, f, indent=1)
    svg_chart(results, os.path.join(a.out, "echo_compare.svg"))

    def fmt(s, f="{:.0f}"):
        return "n/a" if s is None else f"{f.format(s['median'])} ({f.format(s['min'])}–{f.format(s['max'])})"
    print("| connections | bytes | server | requests/s | server CPU µs/request | server syscalls/request | p50 µs | p99 µs "
          "| req/s vs asio | CPU vs asio | req/s vs asio-uring | CPU vs raw-uring |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['connections']} | {r['bytes']} | {r['server']} | {fmt(r['requests_per_s'])} | "
              f"{fmt(r['server_cpu_us_per_request'], '{:.2f}')} | {fmt(r['server_syscalls_per_request'], '{:.3f}')} | "
              f"{fmt(r['p50_us'])} | {fmt(r['p99_us'])} | {fmt(r['requests_per_s_vs_asio'], '{:.2f}×')} | "
              f"{fmt(r['cpu_per_request_vs_asio'], '{:.2f}×')} | {fmt(r['requests_per_s_vs_asio_uring'], '{:.2f}×')} | "
              f"{fmt(r['cpu_per_request_vs_raw_uring'], '{:.2f}×')} |")
    for m in memory:
        print(f"idle: {m['server']}: {m['bytes_per_connection']:.0f} bytes of RSS per idle connection at {m['connections']}")


if __name__ == "__main__":
    main()
