#!/usr/bin/env python3
"""Dedup table figures: confab's lock-free table against
absl::flat_hash_set + std::mutex, inserts per second at 1 and 2 threads,
median of --runs repetitions with min and max, and the ratio; bytes per
entry. Writes dedup_compare.json and dedup_compare.svg into --out.

Usage: bench/dedup_compare.py --build build [--runs 5] [--out bench/results]"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import svgplot  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--min-time", default="0.5")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    out = subprocess.run([os.path.join(a.build, "bench", "dedup_benchmark"), "--benchmark_format=json",
                          f"--benchmark_repetitions={a.runs}", f"--benchmark_min_time={a.min_time}"],
                         capture_output=True, text=True, check=True).stdout
    data = json.loads(out)
    runs = {}
    bpe = {}
    for b in data["benchmarks"]:
        if b.get("run_type") != "iteration":
            continue
        name = b["run_name"]  # BM_x/real_time/threads:N
        impl = "lock-free" if "lockfree" in name else "mutex + flat_hash_set"
        threads = int(name.rsplit("threads:", 1)[1])
        runs.setdefault((impl, threads), []).append(b["items_per_second"])
        if "bytes_per_entry" in b:
            bpe[impl] = b["bytes_per_entry"]
    summary = {}
    for (impl, t), v in runs.items():
        summary[f"{impl}/{t}"] = {"median": statistics.median(v), "min": min(v), "max": max(v), "runs": len(v)}
    with open(os.path.join(a.out, "dedup_compare.json"), "w") as f:
        json.dump({"inserts_per_s": summary, "bytes_per_entry": bpe}, f, indent=1)
    svgplot.bars(os.path.join(a.out, "dedup_compare.svg"), "Dedup inserts/s (median of runs, min-max)",
                 ["1 thread", "2 threads"], ["lock-free", "mutex + flat_hash_set"],
                 lambda g, s: summary.get(f"{s}/{g[0]}"))
    print("| threads | lock-free inserts/s | mutex + flat_hash_set inserts/s | ratio |")
    print("|---|---|---|---|")
    for t in (1, 2):
        lf, mx = summary[f"lock-free/{t}"], summary[f"mutex + flat_hash_set/{t}"]
        print(f"| {t} | {lf['median']/1e6:.1f} M ({lf['min']/1e6:.1f}–{lf['max']/1e6:.1f}) | "
              f"{mx['median']/1e6:.1f} M ({mx['min']/1e6:.1f}–{mx['max']/1e6:.1f}) | {lf['median']/mx['median']:.2f}× |")
    print(f"bytes per entry: lock-free {bpe.get('lock-free', 0):.1f}, flat_hash_set {bpe.get('mutex + flat_hash_set', 0):.1f}")


if __name__ == "__main__":
    main()
