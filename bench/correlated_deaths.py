#!/usr/bin/env python3
"""Correlated deaths at scale: 20,000 peers with 10% killed at once, and
100,000 peers with 2,000 killed at once (bench/scenarios/), one `confab sim`
run each. From each run's report.json and trace.jsonl: dead peers left in
any seed's PL at the end, the time from the kill to the last removal, false
removals, the time until every live peer had `attach` live neighbours again,
delivery of the messages sent in the 10 s after the kill, the overlay's
exponent before and after, and whether the emulation kept up. Writes
bench/results/correlated_deaths.json, correlated_deaths.svg (killed peers
still listed by some seed, over the seconds after the kill) and
correlated_deaths_tail.svg (the same, cut at 50).

  python3 bench/correlated_deaths.py                          # both runs (about 9 minutes on 2 cores)
  python3 bench/correlated_deaths.py --only 20k
  python3 bench/correlated_deaths.py --reuse 20k=/tmp/md20k   # analyse a finished run's folder
  python3 bench/correlated_deaths.py --confab OLD/confab --label before --only 20k   # another build, same scenario

Runs are bounded by their scenario (172 s and 276 s of run time) and show
confab's own progress line.
"""
import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import svgplot  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIOS = {"20k": "scenarios/mass_death_20k.toml", "100k": "scenarios/large_100k.toml"}


def run(confab, name, out_dir):
    cfg = os.path.join(HERE, SCENARIOS[name])
    print(f"== {name}: confab sim --config {os.path.relpath(cfg)} --out {out_dir}", file=sys.stderr, flush=True)
    # Exit 1 means the run found problems (the report lists them); only 2 is a usage error.
    rc = subprocess.call([confab, "sim", "--config", cfg, "--out", out_dir])
    if rc not in (0, 1):
        print(f"correlated_deaths: confab sim exited {rc} for {name}", file=sys.stderr)
        sys.exit(rc)  # 2: bad usage or configuration, passed on as it came
    return out_dir


def repair_from_trace(out_dir, kill_at, killed, attach):
    """From the trace's link steps (so builds that do not report it can be
    compared): seconds from the kill until every live peer that ever linked
    had `attach` live neighbours again, and how many were below at the end."""
    steps = []
    with open(os.path.join(out_dir, "trace.jsonl")) as f:
        for line in f:
            d = json.loads(line)
            if d["event"] in ("linked", "unlinked"):
                steps.append((d["t_s"], 1 if d["event"] == "linked" else 2, d["by"], d["suspect"]))
    steps += [(kill_at, 0, k, k) for k in killed]
    steps.sort(key=lambda x: (x[0], x[1]))
    nbrs, rev, live_deg, dead = {}, {}, {}, set()
    below, at_kill, repaired = 0, False, None

    def counts(g):
        return g not in killed

    def set_deg(g, d):
        nonlocal below
        was = live_deg.get(g, 0)
        live_deg[g] = d
        if at_kill and counts(g):
            below += (d < attach) - (was < attach)

    for t, kind, by, about in steps:
        if not at_kill and t >= kill_at:
            at_kill = True
            below = sum(1 for g, d in live_deg.items() if counts(g) and d < attach)
        if kind == 0:
            dead.add(by)
            for p in rev.get(by, ()):
                set_deg(p, live_deg.get(p, 0) - 1)
        elif kind == 1:
            live_deg.setdefault(by, 0)
            if about not in nbrs.setdefault(by, set()):
                nbrs[by].add(about)
                rev.setdefault(about, set()).add(by)
                if about not in dead:
                    set_deg(by, live_deg[by] + 1)
        else:
            if about in nbrs.get(by, set()):
                nbrs[by].discard(about)
                rev[about].discard(by)
                if about not in dead:
                    set_deg(by, live_deg[by] - 1)
        if at_kill:
            if below == 0 and repaired is None:
                repaired = t
            elif below > 0:
                repaired = None
    return (None if repaired is None else max(0.0, repaired - kill_at)), below


def analyse(out_dir):
    rep = json.load(open(os.path.join(out_dir, "report.json")))
    killed, kill_at, last_removal = set(), None, {}
    seeds = rep["seeds"]
    removed_by = {}
    with open(os.path.join(out_dir, "trace.jsonl")) as f:
        for line in f:
            d = json.loads(line)
            if d["event"] == "fault" and d.get("kind") == "kill" and kill_at is None:
                kill_at = d["planned_s"]
                killed.update(d["nodes"])
            elif d["event"] == "removed" and d.get("killed"):
                removed_by.setdefault(d["peer"], {}).setdefault(d["seed"], d["t_s"])
    # Both scenarios use the default attach (2): the report's scenario is text.
    repair_s, below_at_end = repair_from_trace(out_dir, kill_at, killed, 2)
    # A killed peer is gone when every seed removed it.
    for peer, by in removed_by.items():
        if len(by) == seeds:
            last_removal[peer] = max(by.values()) - kill_at
    times = sorted(last_removal.values())
    horizon = (times[-1] if times else 0) + 5
    curve, k = [], 0
    t = 0.0
    while t <= horizon:
        while k < len(times) and times[k] <= t:
            k += 1
        curve.append((t, len(killed) - k))
        t += 0.25
    fd, ak, em = rep["failure_detection"], rep.get("after_kill", {}), rep["emulator"]
    return {
        "peers": rep["peers"],
        "killed": len(killed),
        "dead_left_in_a_pl": len(killed) - len(last_removal),
        "pl_holding_dead_at_end": rep["membership"]["pl_holding_dead"],
        "false_removals": fd["false_removals"],
        "removal_every_seed_s": fd["crash_to_removal_every_seed_s"],
        "last_removal_s": times[-1] if times else None,
        "removed_after_10s": sum(1 for x in times if x > 10),
        "repair_s": repair_s,  # from the trace, as the report's after_kill.repair_s
        "repair_s_reported": ak.get("repair_s"),
        "below_min_degree_at_end": below_at_end,
        "messages_in_next_10s": ak.get("messages_in_next_10s"),
        "delivery_in_next_10s": ak.get("delivery_in_next_10s"),
        "powerlaw_alpha_before": ak.get("powerlaw_alpha_before"),
        "powerlaw_alpha_end": rep["overlay"]["powerlaw_alpha"],
        "messages_complete": f'{rep["dissemination"].get("messages_complete")}/{rep["dissemination"].get("messages")}',
        "lateness_p99_ms": em["lateness_us"]["p99"] / 1000,
        "faithful": em["faithful"],
        "cpu_s": rep["cost"]["cpu_s"],
        "peak_rss_mb": rep["cost"]["peak_rss_mb"],
        "wall_s": rep["wall_s"],
        "problems": rep["problems"],
        "curve": curve,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--confab", default=os.path.join(HERE, "..", "build", "tools", "confab"))
    ap.add_argument("--only", choices=sorted(SCENARIOS), action="append")
    ap.add_argument("--reuse", action="append", default=[], help="NAME=DIR: analyse a finished run")
    ap.add_argument("--label", default="confab", help="the name of this build in the results")
    ap.add_argument("--work", default="/tmp/confab-correlated")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    a = ap.parse_args()
    reuse = {}
    for r in a.reuse:
        name, _, path = r.partition("=")
        if name not in SCENARIOS or not path:
            ap.error(f"--reuse wants NAME=DIR with NAME one of {sorted(SCENARIOS)}, got {r!r}")
        reuse[name] = path
    names = a.only or sorted(SCENARIOS, key=lambda n: int(n[:-1]))
    path = os.path.join(a.out, "correlated_deaths.json")
    results = json.load(open(path)) if os.path.exists(path) else {}
    for name in names:
        out_dir = reuse.get(name) or run(a.confab, name, os.path.join(a.work, f"{a.label}-{name}"))
        results[f"{a.label} {name}"] = analyse(out_dir)
    os.makedirs(a.out, exist_ok=True)
    with open(path, "w") as f:
        json.dump(results, f, indent=1)
    svgplot.lines(os.path.join(a.out, "correlated_deaths.svg"),
                  "Killed peers still listed by some seed, seconds after the kill",
                  [(k, v["curve"]) for k, v in results.items()], "seconds after the kill", "dead peers listed",
                  points=False)
    # The tail, where the orphans are: the same curves cut at 50.
    svgplot.lines(os.path.join(a.out, "correlated_deaths_tail.svg"),
                  "The tail: killed peers still listed (cut at 50), seconds after the kill",
                  [(k, [(x, min(y, 50)) for x, y in v["curve"]]) for k, v in results.items()],
                  "seconds after the kill", "dead peers listed (at most 50 shown)", points=False)
    print("| run | killed | dead left in a PL | last removal (s) | removed after 10 s | false removals | "
          "every live peer at attach (s) | delivery, next 10 s | exponent before / end | emulator p99 (ms) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for k, v in results.items():
        rep = f'never ({v["below_min_degree_at_end"]} below)' if v["repair_s"] is None else f'{v["repair_s"]:.1f}'
        dl = "-" if v["delivery_in_next_10s"] is None else f'{v["delivery_in_next_10s"]:.4f} ({v["messages_in_next_10s"]} msgs)'
        last = "-" if v["last_removal_s"] is None else f'{v["last_removal_s"]:.1f}'
        alpha = "-" if v["powerlaw_alpha_before"] is None else f'{v["powerlaw_alpha_before"]:.2f} / {v["powerlaw_alpha_end"]:.2f}'
        print(f'| {k} | {v["killed"]} | {v["dead_left_in_a_pl"]} | {last} | {v["removed_after_10s"]} | '
              f'{v["false_removals"]} | {rep} | {dl} | {alpha} | {v["lateness_p99_ms"]:.0f}'
              f'{"" if v["faithful"] else " (not faithful)"} |')


if __name__ == "__main__":
    main()
