#!/usr/bin/env python3
"""Dissemination and overlay figures for a 1,000-peer network (simulated,
real seed and peer cores): flooding against Plumtree, several seeds each
(median, min, max), and the overlay's degree distribution (log-log plot,
fitted power-law exponent, connectivity) for both overlay models.
Writes gossip_report.json, gossip_degrees.svg and gossip_coverage.svg.

Usage: bench/gossip_report.py --build build [--peers 1000] [--runs 5] [--out bench/results]"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import svgplot  # noqa: E402


def run(build, peers, mode, overlay, seed, ihave):
    out = subprocess.run([os.path.join(build, "bench", "gossip_sim"), "--peers", str(peers), "--mode", mode,
                          "--overlay", overlay, "--seed", str(seed), "--ihave-timeout-ms", str(ihave)],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def summ(vals):
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "runs": len(vals)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--peers", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--ihave-timeout-ms", type=int, default=50)
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    res = {}
    for mode in ("flood", "plumtree"):
        rows = []
        for seed in range(1, a.runs + 1):
            r = run(a.build, a.peers, mode, "preferential", seed, a.ihave_timeout_ms)
            rows.append(r)
            print(f"{mode} seed {seed}: complete {r['messages_complete']}/{r['messages']}, time p50/p100 "
                  f"{r['time_ms']['p50']:.1f}/{r['time_ms']['p100']:.1f} ms, redundancy {r['sent_per_delivery_minus_one']:.3f}",
                  file=sys.stderr, flush=True)
        res[mode] = {
            "time_ms": {p: summ([r["time_ms"][p] for r in rows]) for p in ("p50", "p90", "p99", "p100", "p100_worst")},
            "hops": {p: summ([r["hops"][p] for r in rows]) for p in ("p50", "p90", "p99", "p100", "p100_worst")},
            "sent_per_delivery_minus_one": summ([r["sent_per_delivery_minus_one"] for r in rows]),
            "messages_complete": [r["messages_complete"] for r in rows],
            "messages": [r["messages"] for r in rows],
        }
        if mode == "flood":
            res["overlay_preferential"] = {k: rows[0][k] for k in ("mean_degree", "degree_max", "powerlaw_alpha", "k_min",
                                                                   "connected", "degree_histogram")}
            res["overlay_preferential"]["alpha_runs"] = summ([r["powerlaw_alpha"] for r in rows])
            res["overlay_preferential"]["connected_runs"] = [r["connected"] for r in rows]
    e = run(a.build, a.peers, "flood", "exponential", 1, a.ihave_timeout_ms)
    res["overlay_exponential"] = {k: e[k] for k in ("mean_degree", "degree_max", "powerlaw_alpha", "k_min", "connected",
                                                    "degree_histogram")}
    res["peers"] = a.peers
    res["ihave_timeout_ms"] = a.ihave_timeout_ms
    with open(os.path.join(a.out, "gossip_report.json"), "w") as f:
        json.dump(res, f, indent=1)
    # Degree distribution, log-log: fraction of peers with degree k.
    series = []
    for name, key in (("preferential attachment", "overlay_preferential"), ("documents' 40·1.5^(−k/10)", "overlay_exponential")):
        h = res[key]["degree_histogram"]
        total = sum(c for _, c in h)
        series.append((f"{name} (alpha {res[key]['powerlaw_alpha']:.2f})", [(k, c / total) for k, c in h]))
    pk = res["overlay_preferential"]
    kmin, alpha = pk["k_min"], pk["powerlaw_alpha"]
    h = pk["degree_histogram"]
    frac_kmin = next((c for k, c in h if k == kmin), 1) / sum(c for _, c in h)
    fit = [(k, frac_kmin * (k / kmin) ** (-alpha)) for k in range(kmin, pk["degree_max"] + 1)]
    series.append((f"fit k^-{alpha:.2f}", fit))
    svgplot.lines(os.path.join(a.out, "gossip_degrees.svg"), f"Overlay degree distribution, {a.peers} peers (log-log)",
                  series, "degree k", "fraction of peers", loglog=True)
    svgplot.bars(os.path.join(a.out, "gossip_coverage.svg"),
                 f"Time until a message reaches 50/90/99/100% of {a.peers} peers (ms; median over seeds, min-max)",
                 ["50%", "90%", "99%", "100%"], ["flood", "plumtree"],
                 lambda g, s: res[s]["time_ms"]["p" + g.rstrip("%")])
    f = lambda s, d=1: f"{s['median']:.{d}f} ({s['min']:.{d}f}–{s['max']:.{d}f})"
    print(f"| mode | time to 50% ms | 90% | 99% | 100% | hops 50/90/99/100% | sent per delivery − 1 | complete |")
    print("|---|---|---|---|---|---|---|---|")
    for mode in ("flood", "plumtree"):
        r = res[mode]
        hops = "/".join(f"{r['hops'][p]['median']:.0f}" for p in ("p50", "p90", "p99", "p100"))
        print(f"| {mode} | {f(r['time_ms']['p50'])} | {f(r['time_ms']['p90'])} | {f(r['time_ms']['p99'])} | "
              f"{f(r['time_ms']['p100'])} | {hops} | {f(r['sent_per_delivery_minus_one'], 3)} | "
              f"{min(r['messages_complete'])}/{r['messages'][0]} |")
    for key in ("overlay_preferential", "overlay_exponential"):
        o = res[key]
        print(f"{key}: mean degree {o['mean_degree']:.2f}, max {o['degree_max']}, alpha {o['powerlaw_alpha']:.2f} "
              f"(k >= {o['k_min']}), connected {o['connected']}")


if __name__ == "__main__":
    main()
