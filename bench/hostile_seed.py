#!/usr/bin/env python3
"""Seeds under hostile clients: RSS and log bytes of an attacked seed against
a quiet one of the same cluster, during and after the attack.

Three seeds on loopback hold 5,000 registered peers. Then the leader gets,
at once (bounded in count and time):
  - N non-readers: connections that send R PL requests each and read
    nothing (small receive buffers, so the replies pile up at the seed);
  - S slowloris connections: one byte a second, never a whole frame;
  - I idle connections: connected, silent.
Meanwhile 200 new registrations go through the cluster (the seeds must keep
serving). After `--attack-s` every client closes; sampling goes on for
`--after-s`. Every 0.5 s: VmRSS of the attacked and of a quiet follower,
and the bytes of their event logs.

Usage: hostile_seed.py PATH/TO/confab [--out DIR] [--nonreaders 500]
       [--requests 2000] [--slowloris 1000] [--idle 2000] [--attack-s 30]
       [--after-s 30] [--label NAME]
Writes DIR/hostile-LABEL.json and DIR/hostile-LABEL-{rss,logs}.svg; prints
progress on stderr and the summary on stdout."""
import argparse
import errno
import json
import os
import select
import socket
import struct
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "processes"))
sys.path.insert(0, HERE)
from seeds_cluster import Cluster, endpoint_id, free_ports  # noqa: E402
import svgplot  # noqa: E402


def rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def log_bytes(c, i):
    base = os.path.join(c.dir, "data", f"seed-127.0.0.1-{c.ports[i]}")
    total = 0
    for suffix in (".events.txt", ".events.jsonl", ".events.txt.1", ".events.jsonl.1"):
        try:
            total += os.path.getsize(base + suffix)
        except OSError:
            pass
    return total


def pl_request_frame(sender, request_id):
    payload = bytes([1, 14]) + struct.pack(">Q", request_id)  # wire version 1, pl_request
    return struct.pack(">IQ", 8 + len(payload), sender) + payload


def dial(port, source_ip, rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.bind((source_ip, 0))
    s.settimeout(5)
    s.connect(("127.0.0.1", port))
    s.setblocking(False)
    return s


def peek_eof(s):
    if s.recv(1, socket.MSG_PEEK) == b"":
        raise ConnectionResetError


def sweep(socks, kind, act, closed):
    """Does `act` on every open socket of `socks`; one the seed closed
    (the act fails) is closed here and counted under `kind`."""
    for j, s in enumerate(socks):
        if s is None:
            continue
        try:
            act(s)
        except BlockingIOError:
            pass
        except OSError:
            s.close()
            socks[j] = None
            closed[kind] += 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("confab")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--nonreaders", type=int, default=500)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--slowloris", type=int, default=1000)
    ap.add_argument("--idle", type=int, default=2000)
    ap.add_argument("--attack-s", type=float, default=30)
    ap.add_argument("--after-s", type=float, default=30)
    ap.add_argument("--label", default="now")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    c = Cluster(a.confab, 3, free_ports(3))
    samples = []
    try:
        c.start_all()
        leader, _ = c.wait_leader()
        if not leader:
            print("no leader elected", file=sys.stderr)
            return 1
        load = c.load(5000, window=128)
        load.communicate(timeout=180)
        target = c.index_of(c.leader())
        quiet = (target + 1) % 3
        port = c.ports[target]
        pids = {"attacked": c.procs[target].pid, "quiet": c.procs[quiet].pid}
        t0 = time.monotonic()
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                samples.append({"t": round(time.monotonic() - t0, 2),
                                "rss_attacked_mb": rss_mb(pids["attacked"]), "rss_quiet_mb": rss_mb(pids["quiet"]),
                                "logs_attacked": log_bytes(c, target), "logs_quiet": log_bytes(c, quiet)})
                stop.wait(0.5)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        print("baseline: 10 s", file=sys.stderr, flush=True)
        time.sleep(10)
        attack_start = time.monotonic() - t0
        print(f"attack on seed 127.0.0.1:{port}: {a.nonreaders} non-readers x {a.requests} requests, "
              f"{a.slowloris} slowloris, {a.idle} idle", file=sys.stderr, flush=True)
        idle = [dial(port, "127.0.1.1") for _ in range(a.idle)]
        slow = [dial(port, "127.0.1.2") for _ in range(a.slowloris)]
        readers = []
        for i in range(a.nonreaders):
            sender = endpoint_id(f"127.0.2.{1 + i // 250}:{40000 + i % 250}")
            frames = b"".join(pl_request_frame(sender, k) for k in range(a.requests))
            readers.append([dial(port, "127.0.1.3", rcvbuf=4096), frames, 0])
        closed = {"nonreaders": 0, "slowloris": 0, "idle": 0}
        sent_requests = 0
        fresh = c.load(200, first_peer=900000, window=32, timeout_ms=int(a.attack_s * 1000))
        end = time.monotonic() + a.attack_s
        next_byte = 0
        last_progress = 0
        while time.monotonic() < end:
            for r in readers:
                if r[0] is None or r[2] >= len(r[1]):
                    continue
                try:
                    n = r[0].send(r[1][r[2]:r[2] + 65536])
                    r[2] += n
                except BlockingIOError:
                    pass
                except OSError:
                    r[0].close()
                    r[0] = None
                    closed["nonreaders"] += 1
            if time.monotonic() >= next_byte:
                next_byte = time.monotonic() + 1
                sweep(slow, "slowloris", lambda s: s.send(b"\x00"), closed)
                # Non-readers are watched without reading (a reset or FIN shows as RDHUP/HUP/ERR).
                watch = select.poll()
                open_readers = {r[0].fileno(): r for r in readers if r[0] is not None}
                for fd in open_readers:
                    watch.register(fd, select.POLLRDHUP)
                for fd, ev in watch.poll(0):
                    if ev & (select.POLLRDHUP | select.POLLHUP | select.POLLERR):
                        r = open_readers[fd]
                        r[0].close()
                        r[0] = None
                        closed["nonreaders"] += 1
                sweep(idle, "idle", peek_eof, closed)
            sent_requests = sum(r[2] for r in readers) // 18
            if time.monotonic() - last_progress >= 5:
                last_progress = time.monotonic()
                s = samples[-1]
                print(f"  t={s['t']:.0f} s: attacked RSS {s['rss_attacked_mb']:.0f} MB, quiet {s['rss_quiet_mb']:.0f} MB; "
                      f"{sent_requests} requests sent; closed by the seed {closed}", file=sys.stderr, flush=True)
            time.sleep(0.05)
        fresh_out, _ = fresh.communicate(timeout=60)
        for group in (idle, slow, [r[0] for r in readers]):
            for s in group:
                if s is not None:
                    s.close()
        attack_end = time.monotonic() - t0
        print(f"clients closed; {a.after_s:.0f} s after", file=sys.stderr, flush=True)
        time.sleep(a.after_s)
        stop.set()
        sampler.join()
        seeds, summary = c.query()
        during = [s for s in samples if attack_start <= s["t"] <= attack_end]
        before = [s for s in samples if s["t"] < attack_start]
        after = samples[-4:]
        fresh_summary = json.loads(fresh_out.strip().splitlines()[-1]) if fresh_out.strip() else {}
        result = {
            "label": a.label,
            "attack": {"nonreaders": a.nonreaders, "requests_each": a.requests, "slowloris": a.slowloris,
                       "idle": a.idle, "seconds": a.attack_s, "requests_sent": sent_requests},
            "closed_by_the_seed": closed,
            "rss_mb": {"attacked_before": round(max(s["rss_attacked_mb"] for s in before), 1),
                       "attacked_peak": round(max(s["rss_attacked_mb"] for s in during), 1),
                       "attacked_after": round(sum(s["rss_attacked_mb"] for s in after) / len(after), 1),
                       "quiet_peak": round(max(s["rss_quiet_mb"] for s in samples), 1)},
            "log_bytes_during_attack": {"attacked": during[-1]["logs_attacked"] - before[-1]["logs_attacked"],
                                        "quiet": during[-1]["logs_quiet"] - before[-1]["logs_quiet"]},
            "registrations_during_attack": fresh_summary,
            "cluster_agrees_after": summary,
        }
        with open(os.path.join(a.out, f"hostile-{a.label}.json"), "w") as f:
            json.dump({"result": result, "samples": samples}, f, indent=1)
        svgplot.lines(os.path.join(a.out, f"hostile-{a.label}-rss.svg"),
                      f"Seed RSS under {a.nonreaders} non-readers, {a.slowloris} slowloris, {a.idle} idle "
                      f"(attack {attack_start:.0f}-{attack_end:.0f} s)",
                      [("attacked seed", [(s["t"], s["rss_attacked_mb"]) for s in samples]),
                       ("quiet seed", [(s["t"], s["rss_quiet_mb"]) for s in samples])],
                      "seconds", "RSS (MB)", points=False)
        svgplot.lines(os.path.join(a.out, f"hostile-{a.label}-logs.svg"),
                      "Event log bytes (text + JSON lines, rotated files included)",
                      [("attacked seed", [(s["t"], s["logs_attacked"] / 1e6) for s in samples]),
                       ("quiet seed", [(s["t"], s["logs_quiet"] / 1e6) for s in samples])],
                      "seconds", "MB", points=False)
        print(json.dumps(result))
        return 0
    finally:
        c.stop_all()


if __name__ == "__main__":
    sys.exit(main())
