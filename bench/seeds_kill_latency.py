#!/usr/bin/env python3
"""Commit latency of registrations around a leader kill, against the same
load without a kill, on real `confab seed` processes over loopback.

Each run starts 3 fresh seeds, registers --peers synthetic peers with
`confab seed-load` (--window outstanding, re-sent after --retry-ms), and in
the "kill" runs sends kill -9 to the leader --kill-after-s into the load.
seed-load's own summary gives commit latency (first send of a registration
to its first answer) p50, p99 and max, and how many registrations had to
be re-sent. Runs alternate (quiet, kill, quiet, kill, ...), --runs of each;
the table gives the median with min and max.

Usage: seeds_kill_latency.py PATH/TO/confab [--runs 5] [--peers 6000]
       [--window 128] [--retry-ms 500] [--kill-after-s 0.3] [--out DIR]
Writes DIR/seeds_kill_latency.json and .svg; prints a markdown table."""
import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "processes"))
sys.path.insert(0, HERE)
from seeds_cluster import Cluster, free_ports  # noqa: E402
import svgplot  # noqa: E402


def one(confab, kill, a):
    c = Cluster(confab, 3, free_ports(3))
    try:
        c.start_all()
        leader, _ = c.wait_leader()
        if not leader:
            return None
        load = c.load(a.peers, window=a.window, retry_ms=a.retry_ms, timeout_ms=60000)
        killed_at = None
        if kill:
            time.sleep(a.kill_after_s)
            c.kill9(c.index_of(leader))
            killed_at = a.kill_after_s
        out, _ = load.communicate(timeout=120)
        summary = json.loads(out.strip().splitlines()[-1])
        summary["killed"] = kill
        summary["killed_at_s"] = killed_at
        return summary
    finally:
        c.stop_all()


def spread(xs):
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs)} if xs else None


def med(xs):
    return f"{statistics.median(xs):.1f} ({min(xs):.1f}–{max(xs):.1f})"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("confab")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--peers", type=int, default=6000)
    ap.add_argument("--window", type=int, default=128)
    ap.add_argument("--retry-ms", type=int, default=500)
    ap.add_argument("--kill-after-s", type=float, default=0.3)
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rows = {False: [], True: []}
    for i in range(a.runs):
        for kill in (False, True):
            r = one(a.confab, kill, a)
            print(f"run {i + 1}/{a.runs} {'kill' if kill else 'quiet'}: "
                  f"{json.dumps(r) if r else 'no leader'}", file=sys.stderr, flush=True)
            if r:
                rows[kill].append(r)
    with open(os.path.join(a.out, "seeds_kill_latency.json"), "w") as f:
        json.dump({"settings": vars(a), "quiet": rows[False], "kill": rows[True]}, f, indent=1)
    print("| load | acknowledged | registrations/s | commit p50 ms | p99 ms | max ms | re-sent |")
    print("|---|---|---|---|---|---|---|")
    for kill in (False, True):
        rs = rows[kill]
        if not rs:
            continue
        print(f"| {'leader killed' if kill else 'no kill'} | {min(r['acknowledged'] for r in rs)}–"
              f"{max(r['acknowledged'] for r in rs)} of {a.peers} | {med([r['registrations_per_s'] for r in rs])} | "
              f"{med([r['commit_ms_p50'] for r in rs])} | {med([r['commit_ms_p99'] for r in rs])} | "
              f"{med([r['commit_ms_max'] for r in rs])} | {med([r['resent'] for r in rs])} |")
    svgplot.bars(os.path.join(a.out, "seeds_kill_latency.svg"),
                 f"Commit latency, 3 seeds, {a.peers} registrations (median of {a.runs} runs)",
                 ["p50", "p99", "max"], ["no kill", "leader killed"],
                 lambda g, s: spread([r[f"commit_ms_{g}"] for r in rows[s == "leader killed"]]), " ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
