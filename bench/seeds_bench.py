#!/usr/bin/env python3
"""Seed membership figures on real `confab seed` processes over loopback.

For 3 and 5 seeds, each repeated --runs times on a fresh cluster:
- registrations committed per second and commit latency p50/p99 (first
  send of a registration to its first answer; `confab seed-load`, N peers,
  W outstanding);
- time from kill -9 of the leader to a survivor's "LEADER elected" line in
  its event log (wall-clock stamps to the millisecond; the new leader has a
  majority's votes at that instant);
- PL divergence after quiescence: the number of seeds whose PL digest
  differs from the others' (must be 0).
Writes seeds_bench.json and seeds_bench.svg into --out and prints a
markdown table. Needs a release build (meson setup build-release
--buildtype=release).

Usage: bench/seeds_bench.py --confab build-release/tools/confab [--runs 5] [--peers 20000]"""
import argparse
import datetime
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "processes"))
sys.path.insert(0, HERE)
from seeds_cluster import Cluster  # noqa: E402
import svgplot  # noqa: E402
from svgplot import summarize  # noqa: E402


def one_run(confab, n, port, peers, window):
    c = Cluster(confab, n, port)
    try:
        c.start_all()
        leader, _ = c.wait_leader()
        if not leader:
            raise RuntimeError("no leader")
        p = c.load(peers, window=window, retry_ms=2000, timeout_ms=120000)
        out, _ = p.communicate(timeout=300)
        load = json.loads(out.strip().splitlines()[-1])
        seeds = c.wait_agree(timeout_s=10)
        digests = [s["pl_digest"] for s in seeds if s["answered"]]
        common = max(set(digests), key=digests.count)
        divergent = sum(1 for s in seeds if not s["answered"] or s["pl_digest"] != common)
        leader = c.leader()
        victim = c.index_of(leader)
        killed_at = datetime.datetime.now(datetime.timezone.utc)
        c.kill9(victim)
        # The survivors' event logs stamp the election to the millisecond.
        failover_ms = None
        deadline = time.monotonic() + 20
        while failover_ms is None and time.monotonic() < deadline:
            time.sleep(0.05)
            for i in range(n):
                if i == victim:
                    continue
                for line in c.events(i).splitlines():
                    if "LEADER elected" not in line:
                        continue
                    at = datetime.datetime.strptime(line.split()[0], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                        tzinfo=datetime.timezone.utc)
                    if at > killed_at:
                        ms = (at - killed_at).total_seconds() * 1000
                        failover_ms = ms if failover_ms is None else min(failover_ms, ms)
        return load, divergent, failover_ms
    finally:
        c.stop_all()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--confab", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--peers", type=int, default=20000)
    ap.add_argument("--window", type=int, default=512)
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    results = {}
    port = 31000
    for n in (3, 5):
        rate, p50, p99, fail, div = [], [], [], [], []
        for r in range(a.runs):
            load, divergent, failover = one_run(a.confab, n, port, a.peers, a.window)
            port += 10
            rate.append(load["registrations_per_s"])
            p50.append(load["commit_ms_p50"])
            p99.append(load["commit_ms_p99"])
            div.append(divergent)
            if failover is not None:
                fail.append(failover)
            print(f"{n} seeds run {r+1}/{a.runs}: {load['registrations_per_s']:.0f} reg/s, p50 {load['commit_ms_p50']:.1f} ms, "
                  f"p99 {load['commit_ms_p99']:.1f} ms, failover {failover:.0f} ms, divergent seeds {divergent}",
                  file=sys.stderr, flush=True)
        results[n] = {"registrations_per_s": summarize(rate), "commit_ms_p50": summarize(p50),
                      "commit_ms_p99": summarize(p99), "failover_ms": summarize(fail),
                      "divergent_seeds_max": max(div), "peers": a.peers, "window": a.window}
    with open(os.path.join(a.out, "seeds_bench.json"), "w") as f:
        json.dump(results, f, indent=1)
    svgplot.bars(os.path.join(a.out, "seeds_bench.svg"),
                 f"Seeds: registrations committed/s ({a.peers} peers, {a.window} outstanding; median, min-max)",
                 ["3 seeds", "5 seeds"], ["registrations/s"],
                 lambda g, s: results[int(g[0])]["registrations_per_s"])
    svgplot.bars(os.path.join(a.out, "seeds_failover.svg"),
                 "Seeds: kill -9 of the leader to a new leader named by a majority (ms; median, min-max)",
                 ["3 seeds", "5 seeds"], ["failover ms"], lambda g, s: results[int(g[0])]["failover_ms"])
    f = lambda s: f"{s['median']:.1f} ({s['min']:.1f}–{s['max']:.1f})"
    print("| seeds | registrations/s | commit p50 ms | commit p99 ms | leader kill → new leader ms | PL divergence |")
    print("|---|---|---|---|---|---|")
    for n, r in results.items():
        print(f"| {n} | {f(r['registrations_per_s'])} | {f(r['commit_ms_p50'])} | {f(r['commit_ms_p99'])} | "
              f"{f(r['failover_ms'])} | {r['divergent_seeds_max']} |")


if __name__ == "__main__":
    main()
