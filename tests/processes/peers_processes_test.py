#!/usr/bin/env python3
"""Real processes on loopback: 3 `confab seed` and 30 `confab peer`, each
peer on its own address in 127.0.0.0/8, short intervals (ping 1 s, 3
misses, probe timeout 300 ms).

- every peer joins (all seeds' PLs hold the 30 and agree) and every gossip
  reaches every peer exactly once (from the peers' JSON logs);
- kill -9 of five peers: each is removed from every seed's PL within the
  bound (one ping period + 2 s), measured from the kill to the seeds'
  REMOVED lines; no live peer is removed;
- a forged dead report from one peer about a live peer removes nobody;
- malformed, oversized and truncated frames sent to a peer close that
  connection only, with a logged reason, and the peer keeps serving.

Prints the crash-to-removal latencies (JSON) for bench/RESULTS.md.
Usage: peers_processes_test.py PATH/TO/confab"""
import datetime
import glob
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from seeds_cluster import (FAST_PEER_TOML, Cluster, check, closes_after, endpoint_id, finish, http_request,  # noqa: E402
                           scrape, stop_processes)



PEER_TOML = FAST_PEER_TOML


def stamp(line):
    return datetime.datetime.strptime(line.split()[0], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)


def main():
    confab = sys.argv[1]
    base = 23000 + (os.getpid() % 100) * 10
    c = Cluster(confab, 3, base, extra_toml="", workdir=tempfile.mkdtemp(prefix="confab-peers-"))
    with open(c.config, "a") as f:
        f.write(PEER_TOML)
    peers = {}
    seed_metrics = f"127.0.0.1:{base + 8}"
    peer_metrics = f"127.0.0.1:{base + 9}"
    c.extra_args[0] = ["--metrics", seed_metrics]
    try:
        c.start_all()
        leader, _ = c.wait_leader()
        check(leader is not None, "a seed leader is elected")
        for i in range(30):
            addr = f"127.0.{1 + i // 200}.{10 + i % 200}:{base + 5}"
            err = open(os.path.join(c.dir, f"peer-stderr-{i}.txt"), "w")
            extra = ["--metrics", peer_metrics] if i == 0 else []
            peers[addr] = subprocess.Popen([confab, "peer", "--config", c.config, "--listen", addr] + extra,
                                           stdout=subprocess.DEVNULL, stderr=err)
            time.sleep(0.03)
        t0 = time.monotonic()
        seeds = None
        while time.monotonic() - t0 < 20:
            seeds, summary = c.query()
            if summary["all_answered"] and summary["agree"] and all(s["pl_size"] == 30 for s in seeds):
                break
            time.sleep(0.2)
        check(all(s["pl_size"] == 30 for s in seeds), f"all 30 peers joined (PL sizes {[s['pl_size'] for s in seeds]})")
        first = scrape(seed_metrics), scrape(peer_metrics)
        time.sleep(5.5)  # four gossip rounds and their spread
        second = scrape(seed_metrics), scrape(peer_metrics)
        check(second[0].get("confab_seed_members") == 30 and second[0].get("confab_seed_learner") == 0,
              f"the seed's /metrics: 30 members, not a learner ({second[0].get('confab_seed_members')})")
        check(second[1].get("confab_peer_registered") == 1 and second[1].get("confab_peer_delivered_total", 0) >= 1,
              f"the peer's /metrics: registered, gossip delivered ({second[1].get('confab_peer_delivered_total')})")
        check(all(second[k].get(n, -1) >= first[k].get(n, 0) for k in (0, 1) for n in first[k] if n.endswith("_total"))
              and second[1].get("confab_peer_frames_received_total", 0) > first[1].get("confab_peer_frames_received_total", 0),
              "counters scraped twice during the run only grew")
        # Exactly-once delivery from the peers' JSON logs.
        got = {}
        for path in glob.glob(os.path.join(c.dir, "data", "peer-*.events.jsonl")):
            for line in open(path):
                e = json.loads(line)
                if e["event"] == "gossip_received":
                    key = (e["about"], e["seq"])
                    got.setdefault(key, []).append(e["peer"])
                if e["event"] == "gossip_sent":
                    got.setdefault((e["peer"], e["seq"]), []).append(e["peer"])
        complete = sum(1 for k, v in got.items() if len(v) == 30 and len(set(v)) == 30)
        check(len(got) == 120 and complete == 120,
              f"every gossip reached every peer exactly once ({complete} of {len(got)} messages, 120 expected)")
        # POST /gossip on a peer's metrics port: one message now, to every peer.
        mip0, mport0 = peer_metrics.rsplit(":", 1)
        answer = http_request(mip0, int(mport0), b"POST /gossip HTTP/1.1\r\nHost: x\r\n\r\n")
        check(answer.startswith("HTTP/1.1 202") and "gossip 5 sent" in answer,
              f"POST /gossip on a peer's metrics port: accepted as its 5th message ({answer.splitlines()[:1]})")
        origin = sorted(peers)[0]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            have = set()
            for path in glob.glob(os.path.join(c.dir, "data", "peer-*.events.jsonl")):
                for line in open(path):
                    e = json.loads(line)
                    if e["about"] == origin and e["seq"] == 5 and e["event"] == "gossip_received":
                        have.add(e["peer"])
            if len(have) == 29:
                break
            time.sleep(0.2)
        check(len(have) == 29, f"... and it reached the 29 other peers ({len(have)})")
        sip, sport = seed_metrics.rsplit(":", 1)
        answer = http_request(sip, int(sport), b"POST /gossip HTTP/1.1\r\nHost: x\r\n\r\n")
        check(answer.startswith("HTTP/1.1 405") and "GET /metrics" in answer,
              f"a seed takes no POST /gossip: 405 ({answer.splitlines()[:1]})")
        # A forged dead report: one peer says another is dead.
        names = sorted(peers)
        liar, victim = names[0], names[1]
        report = b"\x01\x0b" + struct.pack(">QQQH", endpoint_id(victim), endpoint_id(liar), int(time.time() * 1000), 0)
        for p in c.ports:
            s = socket.create_connection(("127.0.0.1", p), timeout=5)
            s.sendall(struct.pack(">IQ", 8 + len(report), endpoint_id(liar)) + report)
            time.sleep(0.05)
            s.close()
        time.sleep(1.5)
        seeds, _ = c.query()
        check(all(s["pl_size"] == 30 for s in seeds), "a forged dead report from one peer removes nobody")
        # Bad input on a peer's port.
        target = names[2]
        ip, port = target.rsplit(":", 1)
        for name, data in [("oversized", struct.pack(">I", 0x7FFFFFFF) + b"x" * 8),
                           ("malformed", struct.pack(">IQ", 8 + 3, endpoint_id(names[3])) + b"\x81\x63\x00"),
                           ("truncated", struct.pack(">I", 64) + b"\x00" * 10)]:
            check(closes_after(ip, port, data), f"{name} frame to a peer: that connection is closed")
        time.sleep(0.3)
        log = open(os.path.join(c.dir, "data", f"peer-{ip}-{port}.events.txt")).read()
        check("too_large" in log and "unknown peers message type" in log and "mid-frame" in log,
              "the peer's log names each bad frame")
        check(peers[target].poll() is None, "the peer keeps serving")
        # Kill -9 five peers, spaced out.
        victims = names[5:10]
        killed_at = {}
        for v in victims:
            killed_at[v] = datetime.datetime.now(datetime.timezone.utc)
            peers[v].send_signal(signal.SIGKILL)
            peers[v].wait()
            time.sleep(0.4)
        bound = 1.0 + 2.0  # one ping period + 2 s
        time.sleep(bound + 0.5)
        seeds, summary = c.query()
        check(all(s["pl_size"] == 25 for s in seeds) and summary["agree"],
              f"the five killed peers are gone from every seed's PL (sizes {[s['pl_size'] for s in seeds]})")
        check(scrape(seed_metrics).get("confab_seed_members") == 25, "the seed's /metrics: 25 members after the kills")
        mip, mport = seed_metrics.rsplit(":", 1)
        answers = []
        for req in (b"GET /other HTTP/1.1\r\nHost: x\r\n\r\n", b"POST /metrics HTTP/1.1\r\n\r\n", b"\x00\xffgarbage"):
            s = socket.create_connection((mip, int(mport)), timeout=10)
            s.sendall(req)
            s.shutdown(socket.SHUT_WR)
            answers.append(s.recv(64).split(b"\r\n")[0].decode(errors="replace"))
            s.close()
        check(answers == ["HTTP/1.1 404 Not Found", "HTTP/1.1 405 Method Not Allowed", "HTTP/1.1 400 Bad Request"],
              f"the metrics port answers other paths 404, other methods 405, garbage 400 ({answers})")
        check(scrape(seed_metrics).get("confab_seed_members") == 25, "... and keeps serving")
        # Crash-to-removal latency per seed, from the seeds' REMOVED lines.
        lat = []
        for i in range(3):
            for line in c.events(i).splitlines():
                if "REMOVED" not in line:
                    continue
                who = line.split("REMOVED ")[1].split()[0]
                if who in killed_at:
                    lat.append((stamp(line) - killed_at[who]).total_seconds())
                else:
                    check(False, f"live peer {who} was removed")
        check(len(lat) == 15, f"15 removals seen (5 peers x 3 seeds): {len(lat)}")
        check(lat and max(lat) <= bound, f"every removal within {bound:.1f} s of the kill (max {max(lat) if lat else 0:.3f} s)")
        lat.sort()
        print(json.dumps({"crash_to_removal_s": lat, "p50": lat[len(lat) // 2] if lat else None,
                          "max": lat[-1] if lat else None}))
    finally:
        stop_processes(peers.values())
        c.stop_all()
    return finish()


if __name__ == "__main__":
    sys.exit(main())
