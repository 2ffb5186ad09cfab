#!/usr/bin/env python3
"""Votes per second and vote-to-broadcast latency: `confab vote-server`
against a Python threaded server written to document 001's design
(bench/vote_baseline.py), the same client driving both, same run.

For each size N and each server, --runs times on a fresh server:
1. N clients connect and register (the riddle; at most 500 handshakes at once);
   the server's resident memory is read then;
2. N-1 of them vote at once (alternately A and B, so no choice has more than
   half of N): votes/s = (N-1) / the time from the first vote sent to the
   last "Vote recorded", and each vote's latency (sent -> recorded);
3. the last client votes A, which decides the poll: vote-to-broadcast
   latency = the time from that vote sent to each client's "CONSENSUS
   REACHED" line (p50, p99 over the N clients). Every client must receive
   it and the counts must be N/2+1 and the rest, or the run fails.
Prints a markdown table (median, min-max over runs, and confab's ratio to
the baseline), writes vote_compare.json and vote_compare.svg into --out.
The client (--client) is `confab vote-load` (C++, on the engine's reactor;
the default) or the asyncio client in this file; both run the same three
steps. On a 2-core machine the asyncio loop was the bottleneck for both
servers at 10,000 clients, so the C++ client is the one that measures them.

Usage: bench/vote_compare.py --confab build-release/tools/confab [--sizes 1000,10000] [--runs 3]
                             [--client cpp|python] [--out DIR]"""
import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "processes"))
sys.path.insert(0, HERE)
from seeds_cluster import free_ports  # noqa: E402
from vote_clients import register  # noqa: E402
import svgplot  # noqa: E402
from svgplot import summarize  # noqa: E402


def pct(vals, q):
    s = sorted(vals)
    return s[min(len(s) - 1, int(q * len(s)))]


def rss_mb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def drive(port, n, pid):
    gate = asyncio.Semaphore(500)
    conns = await asyncio.gather(*[register(port, gate) for _ in range(n)])
    rss = rss_mb(pid)

    async def vote(i, r, w):
        t0 = time.perf_counter()
        w.write(b"vote\r\nA\r\n" if i % 2 == 0 else b"vote\r\nB\r\n")
        await w.drain()
        while True:
            l = await r.readuntil(b"\n")
            if l.startswith(b"Vote recorded"):
                break
            if l.startswith(b"Error"):
                raise RuntimeError(l.decode())
        t1 = time.perf_counter()
        while b"[Select an option]" not in await r.readuntil(b"\n"):
            pass
        return t0, t1

    times = await asyncio.gather(*[vote(i, r, w) for i, (r, w) in enumerate(conns[:-1])])
    first = min(t0 for t0, _ in times)
    last = max(t1 for _, t1 in times)
    vote_ms = [(t1 - t0) * 1000 for t0, t1 in times]
    rl, wl = conns[-1]
    t_decide = time.perf_counter()
    wl.write(b"vote\r\nA\r\n")
    await wl.drain()

    async def told(r):
        while True:
            l = await asyncio.wait_for(r.readuntil(b"\n"), 60)
            if l.startswith(b"CONSENSUS REACHED"):
                return time.perf_counter(), l.decode()

    heard = await asyncio.gather(*[told(r) for r, _ in conns])
    want = f"A {n // 2 + (1 if n % 2 == 0 else 1)}"
    bad = [l for _, l in heard if want not in l]
    if bad:
        raise RuntimeError(f"a broadcast with the wrong counts: {bad[0].strip()} (wanted {want})")
    bcast_ms = [(t - t_decide) * 1000 for t, _ in heard]
    for _, w in conns:
        w.close()
    return {"rss_mb": rss, "votes_per_s": (n - 1) / (last - first), "vote_p50_ms": pct(vote_ms, 0.5), "vote_p99_ms": pct(vote_ms, 0.99),
            "broadcast_p50_ms": pct(bcast_ms, 0.5), "broadcast_p99_ms": pct(bcast_ms, 0.99)}


def drive_cpp(confab, port, n, pid):
    """The same three steps by `confab vote-load` (tools/confab/vote_load.hpp)."""
    p = subprocess.run([confab, "vote-load", "--server", f"127.0.0.1:{port}", "--clients", str(n), "--server-pid",
                        str(pid), "--timeout-s", "300"], capture_output=True, text=True, timeout=330)
    try:
        r = json.loads(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise RuntimeError(f"confab vote-load exited {p.returncode} without a result: {p.stderr[-400:]}")
    if p.returncode != 0:
        raise RuntimeError(f"confab vote-load found problems: {r.get('problems')}")
    return {"rss_mb": r["server_rss_mb"], "votes_per_s": r["votes_per_s"], "vote_p50_ms": r["vote_p50_ms"],
            "vote_p99_ms": r["vote_p99_ms"], "broadcast_p50_ms": r["broadcast_p50_ms"],
            "broadcast_p99_ms": r["broadcast_p99_ms"]}


def start(kind, a, port):
    if kind == "confab":
        argv = [a.confab, "vote-server", "--listen", f"127.0.0.1:{port}", "--connections-max", "60000"]
    else:
        argv = [sys.executable, os.path.join(HERE, "vote_baseline.py"), str(port)]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline()
    if "serving" not in line:
        p.kill()
        raise RuntimeError(f"{kind} did not start: {line}")
    return p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--confab", required=True)
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", default=".")
    ap.add_argument("--client", choices=["cpp", "python"], default="cpp")
    a = ap.parse_args()
    sizes = [int(x) for x in a.sizes.split(",")]
    kinds = ["confab", "python-threads"]
    results = {}
    step, steps = 0, len(sizes) * len(kinds) * a.runs
    for n in sizes:
        for run in range(a.runs):
            for kind in kinds:  # interleaved, so drift on the machine hits both alike
                step += 1
                port = free_ports(1)
                p = start(kind, a, port)
                try:
                    if a.client == "cpp":
                        r = drive_cpp(a.confab, port, n, p.pid)
                    else:
                        r = asyncio.run(asyncio.wait_for(drive(port, n, p.pid), 600))
                finally:
                    p.send_signal(signal.SIGTERM)
                    try:
                        p.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        p.kill()
                        p.wait()
                results.setdefault(n, {}).setdefault(kind, []).append(r)
                print(f"[{step}/{steps}] {n} clients {kind}: {r['votes_per_s']:.0f} votes/s, broadcast p99 "
                      f"{r['broadcast_p99_ms']:.1f} ms", file=sys.stderr, flush=True)
    table = {}
    for n in sizes:
        for kind in kinds:
            rs = results[n][kind]
            table.setdefault(n, {})[kind] = {k: summarize([r[k] for r in rs]) for k in rs[0]}
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "vote_compare.json"), "w") as f:
        json.dump({"sizes": sizes, "runs": a.runs, "client": a.client, "results": {str(k): v for k, v in table.items()}}, f, indent=1)
    svgplot.bars(os.path.join(a.out, "vote_compare.svg"),
                 "Votes/s on one server, same client (median, min-max)", [f"{n} clients" for n in sizes], kinds,
                 lambda g, s: table[int(g.split()[0])][s]["votes_per_s"])
    svgplot.bars(os.path.join(a.out, "vote_broadcast.svg"),
                 "Vote-to-broadcast p99 (ms) on one server (median, min-max)", [f"{n} clients" for n in sizes], kinds,
                 lambda g, s: table[int(g.split()[0])][s]["broadcast_p99_ms"])
    f = lambda s: f"{s['median']:.1f} ({s['min']:.1f}–{s['max']:.1f})"
    print("| clients | server | votes/s | vote p50 ms | vote p99 ms | broadcast p50 ms | broadcast p99 ms | server RSS MB |")
    print("|---|---|---|---|---|---|---|---|")
    for n in sizes:
        for kind in kinds:
            t = table[n][kind]
            print(f"| {n} | {kind} | {f(t['votes_per_s'])} | {f(t['vote_p50_ms'])} | {f(t['vote_p99_ms'])} | "
                  f"{f(t['broadcast_p50_ms'])} | {f(t['broadcast_p99_ms'])} | {f(t['rss_mb'])} |")
    for n in sizes:
        c, b = table[n]["confab"], table[n]["python-threads"]
        print(f"\n{n} clients: confab/baseline votes/s {c['votes_per_s']['median'] / b['votes_per_s']['median']:.2f}x; "
              f"baseline/confab broadcast p99 {b['broadcast_p99_ms']['median'] / c['broadcast_p99_ms']['median']:.2f}x")


if __name__ == "__main__":
    main()
