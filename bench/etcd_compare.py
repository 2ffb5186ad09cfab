#!/usr/bin/env python3
"""Seed membership side by side with etcd: 3 confab seeds against a
3-member etcd cluster (Debian's etcd-server 3.4), on loopback, fsync on.

Per run, interleaved (confab, etcd, confab, etcd, ...), each on a fresh
cluster:
- writes committed per second and commit latency p50/p99 under the same
  load concept: N writes, W outstanding, each timed from first send to its
  answer (the answer leaves only after a majority has the write on disk);
  confab: `confab seed-load` registering N synthetic peers; etcd: this
  script's asyncio client putting N keys through etcd's JSON gateway
  (/v3/kv/put, HTTP/1.1 keep-alive, one connection per outstanding write;
  etcd ships no load generator in Debian, and etcdctl's `check perf` is
  rate-limited). The client's CPU is reported: a figure taken while the
  client used most of a core is a floor for etcd, not its ceiling;
- kill -9 of the leader to a new leader: confab from a survivor's event
  log (stamped to the millisecond); etcd by polling the survivors'
  /v3/maintenance/status every 10 ms until one names a new leader.
etcd runs with its election settings matched to confab's seeds
(heartbeat 50 ms, election timeout 300 ms; --defaults for etcd's own,
100 and 1000 ms). Writes etcd_compare.json and etcd_compare.svg into --out
and prints a markdown table.

Usage: bench/etcd_compare.py --confab build-release/tools/confab [--runs 5] [--writes 20000] [--window 512]
Loopback only; every process it starts is stopped (kill) at the end of
its run; every run is bounded (120 s of load at most)."""
import argparse
import asyncio
import base64
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from seeds_bench import one_run as confab_run  # noqa: E402
from svgplot import summarize  # noqa: E402
import svgplot  # noqa: E402


class Etcd:
    def __init__(self, base_port, defaults):
        self.dir = tempfile.mkdtemp(prefix="confab-etcd-")
        self.client = [base_port + 2 * i for i in range(3)]
        self.peer = [base_port + 2 * i + 1 for i in range(3)]
        self.names = [f"e{i}" for i in range(3)]
        self.defaults = defaults
        self.procs = [None] * 3

    def start_all(self):
        cluster = ",".join(f"{self.names[i]}=http://127.0.0.1:{self.peer[i]}" for i in range(3))
        for i in range(3):
            args = ["etcd", "--name", self.names[i], "--data-dir", os.path.join(self.dir, self.names[i]),
                    "--listen-client-urls", f"http://127.0.0.1:{self.client[i]}",
                    "--advertise-client-urls", f"http://127.0.0.1:{self.client[i]}",
                    "--listen-peer-urls", f"http://127.0.0.1:{self.peer[i]}",
                    "--initial-advertise-peer-urls", f"http://127.0.0.1:{self.peer[i]}",
                    "--initial-cluster", cluster, "--initial-cluster-state", "new",
                    "--initial-cluster-token", f"confab-bench-{self.client[0]}", "--logger", "zap",
                    "--log-outputs", os.path.join(self.dir, f"{self.names[i]}.log")]
            if not self.defaults:
                args += ["--heartbeat-interval", "50", "--election-timeout", "300"]
            self.procs[i] = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def status(self, i, timeout=0.5):
        req = urllib.request.Request(f"http://127.0.0.1:{self.client[i]}/v3/maintenance/status", data=b"{}",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            s = json.loads(r.read())
        return int(s["header"]["member_id"]), int(s.get("leader", 0))

    def leader_index(self, among=(0, 1, 2), not_id=None):
        ids = {}
        for i in among:
            try:
                me, leader = self.status(i)
            except OSError:
                continue
            ids[me] = i
            if leader and leader != not_id:
                if leader in ids:
                    return ids[leader], leader
                return None, leader
        return None, None

    def wait_leader(self, timeout_s=30):
        until = time.monotonic() + timeout_s
        while time.monotonic() < until:
            members = {}
            for i in range(3):
                try:
                    me, leader = self.status(i)
                    members[me] = (i, leader)
                except OSError:
                    pass
            leaders = {l for _, l in members.values() if l}
            if len(members) == 3 and len(leaders) == 1:
                lid = leaders.pop()
                return members[lid][0], lid
            time.sleep(0.05)
        return None, None

    def stop_all(self):
        for p in self.procs:
            if p and p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


async def put_load(port, writes, window, deadline_s=120):
    """N puts, `window` outstanding (one keep-alive connection each)."""
    next_i = [0]
    lat = []
    errors = [0]
    end = time.monotonic() + deadline_s

    async def worker(w):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while next_i[0] < writes and time.monotonic() < end:
                i = next_i[0]
                next_i[0] += 1
                key = base64.b64encode(f"/peers/127.2.{i >> 8 & 255}.{i & 255}:{7000 + (i >> 16)}".encode()).decode()
                val = base64.b64encode(b"alive").decode()
                body = json.dumps({"key": key, "value": val}).encode()
                req = (f"POST /v3/kv/put HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                       f"Content-Length: {len(body)}\r\n\r\n").encode() + body
                t0 = time.monotonic()
                writer.write(req)
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head.split(b" ", 2)[1])
                length, chunked = 0, False
                for line in head.split(b"\r\n"):
                    k, _, v = line.partition(b":")
                    if k.lower() == b"content-length":
                        length = int(v)
                    if k.lower() == b"transfer-encoding" and b"chunked" in v.lower():
                        chunked = True
                if chunked:
                    while True:
                        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
                        await reader.readexactly(size + 2)
                        if size == 0:
                            break
                else:
                    await reader.readexactly(length)
                if status != 200:
                    errors[0] += 1
                    continue
                lat.append((time.monotonic() - t0) * 1000)
        finally:
            writer.close()

    t0 = time.monotonic()
    await asyncio.gather(*(worker(w) for w in range(window)))
    took = time.monotonic() - t0
    return len(lat), took, lat, errors[0]


def percentile(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(p * len(v)))] if v else 0.0


def etcd_run(port, writes, window, defaults):
    e = Etcd(port, defaults)
    try:
        e.start_all()
        leader, lid = e.wait_leader()
        if leader is None:
            raise RuntimeError("etcd: no leader")
        ru0 = resource.getrusage(resource.RUSAGE_SELF)
        # The client speaks to a follower as seed-load speaks to random
        # seeds: etcd forwards to the leader, as a confab seed does.
        done, took, lat, errors = asyncio.run(put_load(e.client[(leader + 1) % 3], writes, window))
        ru1 = resource.getrusage(resource.RUSAGE_SELF)
        client_cpu = (ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime) / took
        leader, lid = e.wait_leader()
        e.procs[leader].send_signal(signal.SIGKILL)
        killed = time.monotonic()
        e.procs[leader].wait()
        failover = None
        survivors = [i for i in range(3) if i != leader]
        while failover is None and time.monotonic() - killed < 20:
            for i in survivors:
                try:
                    _, l = e.status(i, timeout=0.2)
                except OSError:
                    continue
                if l and l != lid:
                    failover = (time.monotonic() - killed) * 1000
                    break
            time.sleep(0.01)
        return {"writes_per_s": done / took, "commit_ms_p50": percentile(lat, 0.5), "commit_ms_p99": percentile(lat, 0.99),
                "errors": errors, "done": done, "client_cpu": client_cpu, "failover_ms": failover}
    finally:
        e.stop_all()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--confab", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--writes", type=int, default=20000)
    ap.add_argument("--window", type=int, default=512)
    ap.add_argument("--defaults", action="store_true", help="etcd's own election settings (100/1000 ms)")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    a = ap.parse_args()
    if not shutil.which("etcd"):
        print("etcd_compare: etcd is not installed (apt-get install etcd-server; scripts/setup.sh does)", file=sys.stderr)
        return 2
    os.makedirs(a.out, exist_ok=True)
    rows = {"confab": [], "etcd": []}
    port = 33000
    for r in range(a.runs):
        for system in ("confab", "etcd") if r % 2 == 0 else ("etcd", "confab"):
            if system == "confab":
                load, divergent, failover = confab_run(a.confab, 3, port, a.writes, a.window)
                row = {"writes_per_s": load["registrations_per_s"], "commit_ms_p50": load["commit_ms_p50"],
                       "commit_ms_p99": load["commit_ms_p99"], "failover_ms": failover, "divergent": divergent}
            else:
                row = etcd_run(port, a.writes, a.window, a.defaults)
            port += 10
            rows[system].append(row)
            print(f"run {r + 1}/{a.runs} {system}: {row['writes_per_s']:.0f} writes/s, p50 {row['commit_ms_p50']:.1f} ms, "
                  f"p99 {row['commit_ms_p99']:.1f} ms, failover {row['failover_ms']} ms"
                  + (f", client CPU {row['client_cpu']:.2f} cores, errors {row['errors']}" if system == "etcd" else ""),
                  file=sys.stderr, flush=True)
    res = {}
    for system, rs in rows.items():
        res[system] = {k: summarize([x[k] for x in rs if x.get(k) is not None])
                       for k in ("writes_per_s", "commit_ms_p50", "commit_ms_p99", "failover_ms")}
    res["etcd"]["client_cpu"] = summarize([x["client_cpu"] for x in rows["etcd"]])
    res["settings"] = {"writes": a.writes, "window": a.window, "runs": a.runs,
                       "etcd_election": "defaults (100/1000 ms)" if a.defaults else "matched (50/300 ms)"}
    res["ratio_confab_over_etcd"] = {
        "writes_per_s": [c["writes_per_s"] / e["writes_per_s"] for c, e in zip(rows["confab"], rows["etcd"])]}
    name = "etcd_compare_defaults" if a.defaults else "etcd_compare"
    with open(os.path.join(a.out, name + ".json"), "w") as f:
        json.dump({"summary": res, "runs": rows}, f, indent=1)
    svgplot.bars(os.path.join(a.out, name + ".svg"),
                 f"3 confab seeds vs 3 etcd members: writes committed/s ({a.writes} writes, {a.window} outstanding; "
                 f"median, min-max)", ["confab", "etcd"], ["writes/s"], lambda g, s: res[g]["writes_per_s"])
    f = lambda s: f"{s['median']:.1f} ({s['min']:.1f}–{s['max']:.1f})" if s else "—"
    print("| system | writes/s | commit p50 ms | commit p99 ms | leader kill → new leader ms |")
    print("|---|---|---|---|---|")
    for system in ("confab", "etcd"):
        r = res[system]
        print(f"| {system} | {f(r['writes_per_s'])} | {f(r['commit_ms_p50'])} | {f(r['commit_ms_p99'])} | {f(r['failover_ms'])} |")
    ratios = res["ratio_confab_over_etcd"]["writes_per_s"]
    print(f"\nconfab/etcd writes/s per interleaved pair: median {statistics.median(ratios):.2f} "
          f"({min(ratios):.2f}–{max(ratios):.2f}); etcd client CPU median {res['etcd']['client_cpu']['median']:.2f} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
