#!/usr/bin/env python3
"""Crash-to-removal latency on real processes: runs the 3-seed, 30-peer
loopback scenario (tests/processes/peers_processes_test.py) --runs times;
each run kills five peers with kill -9 and measures, per seed, the time from
the kill to that seed's REMOVED line (wall clock, ms resolution). Prints the
distribution over all removals and false removals.

Usage: bench/peers_removal.py --confab build-release/tools/confab [--runs 5]"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TEST = os.path.join(HERE, "..", "tests", "processes", "peers_processes_test.py")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--confab", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    lat, false_removals, failed_runs, per_run_p50 = [], 0, 0, []
    for r in range(a.runs):
        p = subprocess.run([sys.executable, TEST, a.confab], capture_output=True, text=True, timeout=600)
        false_removals += p.stdout.count("was removed")
        if p.returncode != 0:
            failed_runs += 1
        for line in p.stdout.splitlines():
            if line.startswith("{") and "crash_to_removal_s" in line:
                d = json.loads(line)
                lat += d["crash_to_removal_s"]
                per_run_p50.append(d["p50"])
        print(f"run {r+1}/{a.runs}: exit {p.returncode}", file=sys.stderr, flush=True)
    lat.sort()
    q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else None
    res = {"removals": len(lat), "p50_ms": q(0.5), "p99_ms": q(0.99), "max_ms": lat[-1] * 1000 if lat else None,
           "per_run_p50_ms": [x * 1000 for x in per_run_p50], "false_removals": false_removals,
           "failed_runs": failed_runs, "runs": a.runs}
    with open(os.path.join(a.out, "peers_removal.json"), "w") as f:
        json.dump(res, f, indent=1)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
