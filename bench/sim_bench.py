#!/usr/bin/env python3
"""Load-test figures: the RTT emulator on a live reactor and `confab sim`
over real TCP against the in-process transport, in the same run.

  python3 bench/sim_bench.py --confab build-release/tools/confab --runs 5 --out bench/results [--largest]

- `confab emulator-test` (100,000 frames/s, 1 M round trips, 10 ms ± 2.5 ms)
  `--runs` times: lateness p50/p99/p99.9 and the RTT p50/p90/p99 error
  against the configured distribution; median (min-max).
- `confab sim` on its default scenario (3 seeds, 1,000 peers) over tcp and
  over inproc, `--sim-runs` times each: CPU seconds and peak RSS per 1,000
  nodes, frames per peer per second, time until 99% of live peers have a
  message, crash to removal, emulator lateness; the ratio tcp / inproc.
- `--largest`: one run each at large sizes: 6,000 peers over TCP (io_uring
  direct descriptors; 10 originators) and 100,000 in-process.

Writes sim_bench.json and sim_bench.svg into --out and prints Markdown."""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import svgplot  # noqa: E402

BIG_INPROC = """[cluster]
peers = {peers}
transport = "inproc"
pl_sample_max = 48
[network]
wake_quantum_us = 200
[time]
scale = 2.0
join_window_s = {join}
[workload]
originators = 10
messages = 3
"""


def med(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return None
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "runs": len(xs)}


def fmt(s, digits=1):
    if not s:
        return "-"
    return f"{s['median']:.{digits}f} ({s['min']:.{digits}f}–{s['max']:.{digits}f})"


def emulator(confab, runs, samples, tmp):
    out = []
    for i in range(runs):
        path = os.path.join(tmp, f"emu{i}.json")
        subprocess.run([confab, "emulator-test", "--samples", str(samples), "--seed", str(i + 1), "--json", path],
                       check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
        with open(path) as f:
            out.append(json.load(f))
        print(f"sim_bench: emulator run {i + 1}/{runs}: p50 {out[-1]['lateness_us']['p50']} us, "
              f"p99 {out[-1]['lateness_us']['p99']} us", file=sys.stderr, flush=True)
    return {
        "runs": out,
        "lateness_p50_us": med([r["lateness_us"]["p50"] for r in out]),
        "lateness_p99_us": med([r["lateness_us"]["p99"] for r in out]),
        "lateness_p999_us": med([r["lateness_us"]["p999"] for r in out]),
        "rtt_error_pct": {q: med([abs(r["rtt_ms"][q]["error"]) * 100 for r in out]) for q in ("p50", "p90", "p99")},
        "all_within_2pct": all(r["distribution_ok"] for r in out),
    }


def sim(confab, transport, runs, tmp, extra, port, tag=""):
    out = []
    for i in range(runs):
        rep = os.path.join(tmp, f"sim-{tag}{transport}-{i}")
        t0 = time.monotonic()
        p = subprocess.run([confab, "sim", "--transport", transport, "--out", rep, "--quiet", "--seed", str(i + 1),
                            "--base-port", str(port), *extra], capture_output=True, text=True, timeout=3600)
        # 1 is a run that found problems (an unfaithful emulation on a busy
        # machine, say): its costs still count, and its problems are shown.
        if p.returncode not in (0, 1):
            print(p.stderr[-2000:], file=sys.stderr)
            raise SystemExit(f"sim_bench: confab sim over {transport} failed")
        with open(os.path.join(rep, "report.json")) as f:
            r = json.load(f)
        for problem in r["problems"]:
            print(f"sim_bench: {transport} run {i + 1}: {problem}", file=sys.stderr)
        out.append(r)
        print(f"sim_bench: sim {transport} run {i + 1}/{runs} ({time.monotonic() - t0:.0f} s): "
              f"{r['cost']['cpu_s_per_1000_nodes']:.2f} CPU s per 1,000 nodes, problems {r['problems']}",
              file=sys.stderr, flush=True)
    return summarize(out)


def summarize(out):
    return {
        "peers": out[0]["peers"],
        "runs": len(out),
        "cpu_s_per_1000": med([r["cost"]["cpu_s_per_1000_nodes"] for r in out]),
        "cpu_s": med([r["cost"]["cpu_s"] for r in out]),
        "wall_s": med([r["wall_s"] for r in out]),
        "rss_mb_per_1000": med([r["cost"]["peak_rss_mb_per_1000_nodes"] for r in out]),
        "rss_mb": med([r["cost"]["peak_rss_mb"] for r in out]),
        "frames_per_peer_s": med([r["traffic"]["frames_per_peer_s"] for r in out]),
        "t99_ms": med([r["dissemination"]["time_ms"]["to99"]["p50"] for r in out]),
        "removal_s": med([r["failure_detection"]["crash_to_removal_first_seed_s"]["p50"] for r in out]),
        "lateness_p50_us": med([r["emulator"]["lateness_us"]["p50"] for r in out]),
        "lateness_p99_us": med([r["emulator"]["lateness_us"]["p99"] for r in out]),
        "peak_connections": med([r["traffic"]["peak_connections"] for r in out]),
        "complete": all(r["dissemination"]["messages_complete"] == r["dissemination"]["messages"] for r in out),
        "problems": [p for r in out for p in r["problems"]],
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--confab", default="build-release/tools/confab")
    ap.add_argument("--runs", type=int, default=5, help="emulator self-test runs")
    ap.add_argument("--sim-runs", type=int, default=3, help="confab sim runs per transport")
    ap.add_argument("--samples", type=int, default=1000000)
    ap.add_argument("--peers", type=int, default=1000)
    ap.add_argument("--scale", type=float, default=None)
    ap.add_argument("--largest", action="store_true")
    ap.add_argument("--out", default="bench/results")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="confab-simbench-")
    port = 25000 + (os.getpid() % 500) * 4
    extra = ["--peers", str(a.peers)] + (["--scale", str(a.scale)] if a.scale else [])
    res = {"emulator": emulator(a.confab, a.runs, a.samples, tmp)}
    res["tcp"] = sim(a.confab, "tcp", a.sim_runs, tmp, extra, port)
    res["inproc"] = sim(a.confab, "inproc", a.sim_runs, tmp, extra, port)
    if a.largest:
        res["largest_tcp"] = sim(a.confab, "tcp", 1, tmp, ["--peers", "6000", "--originators", "10"], port, "largest-")
        cfg = os.path.join(tmp, "big.toml")
        with open(cfg, "w") as f:
            f.write(BIG_INPROC.format(peers=100000, join=150))
        res["largest_inproc"] = sim(a.confab, "inproc", 1, tmp, ["--config", cfg], port, "largest-")
    with open(os.path.join(a.out, "sim_bench.json"), "w") as f:
        json.dump(res, f, indent=1)
    series = ["tcp", "inproc"]
    svgplot.bars(os.path.join(a.out, "sim_bench.svg"),
                 f"confab sim, {a.peers} peers: CPU s and peak RSS MiB per 1,000 nodes (median, min-max)",
                 ["CPU s / 1,000 nodes", "RSS MiB / 1,000 nodes"], series,
                 lambda g, s: res[s]["cpu_s_per_1000" if g.startswith("CPU") else "rss_mb_per_1000"])
    e = res["emulator"]
    print(f"### RTT emulator on a live reactor ({a.runs} runs, median (min–max))\n")
    print("| lateness p50 (µs) | p99 (µs) | p99.9 (µs) | RTT p50 error (%) | p90 (%) | p99 (%) | all within 2% |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {fmt(e['lateness_p50_us'], 0)} | {fmt(e['lateness_p99_us'], 0)} | {fmt(e['lateness_p999_us'], 0)} | "
          f"{fmt(e['rtt_error_pct']['p50'], 2)} | {fmt(e['rtt_error_pct']['p90'], 2)} | {fmt(e['rtt_error_pct']['p99'], 2)} | "
          f"{'yes' if e['all_within_2pct'] else 'NO'} |")
    print(f"\n### confab sim, {a.peers} peers ({a.sim_runs} runs per transport, median (min–max))\n")
    print("| transport | CPU s / 1,000 nodes | peak RSS MiB / 1,000 nodes | frames/peer/s | to 99% (ms) | "
          "crash to removal (s) | lateness p50 / p99 (µs) | every message complete |")
    print("|---|---|---|---|---|---|---|---|")
    for s in [k for k in ("tcp", "inproc", "largest_tcp", "largest_inproc") if k in res]:
        r = res[s]
        print(f"| {s} ({r['peers']} peers) | {fmt(r['cpu_s_per_1000'], 2)} | {fmt(r['rss_mb_per_1000'], 1)} | "
              f"{fmt(r['frames_per_peer_s'], 1)} | {fmt(r['t99_ms'], 1)} | {fmt(r['removal_s'], 2)} | "
              f"{fmt(r['lateness_p50_us'], 0)} / {fmt(r['lateness_p99_us'], 0)} | {'yes' if r['complete'] else 'NO'} |")
    t, i = res["tcp"], res["inproc"]
    print(f"\nRatio tcp / inproc (medians): CPU {t['cpu_s_per_1000']['median'] / i['cpu_s_per_1000']['median']:.2f}×, "
          f"RSS {t['rss_mb_per_1000']['median'] / i['rss_mb_per_1000']['median']:.2f}×")


if __name__ == "__main__":
    main()
