#!/usr/bin/env python3
"""The cluster key on real processes: 3 seeds and 4 peers sharing a key.

- peers join and the seeds agree (queried with the key);
- a query without the key gets no answer, and the seeds log why;
- a forged dead report (no tag) is refused and removes nobody;
- a ping without the key closes that connection, and the peer logs why.

Usage: cluster_key_test.py PATH/TO/confab"""
import os
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from seeds_cluster import Cluster, check, closes_after, endpoint_id, finish, stop_processes  # noqa: E402


def main():
    confab = sys.argv[1]
    base = 24500 + (os.getpid() % 100) * 10
    c = Cluster(confab, 3, base)
    key_file = os.path.join(c.dir, "cluster.key")
    with open(key_file, "w") as f:
        f.write(os.urandom(32).hex() + "\n")
    with open(c.config) as f:
        text = f.read()
    with open(c.config, "w") as f:
        f.write('cluster_key_file = "cluster.key"\n' + text + "[peer]\nping_interval_ms = 1000\nprobe_timeout_ms = 300\n")
    peers = []
    try:
        c.start_all()
        names = [f"127.0.3.{10 + i}:{base + 7}" for i in range(4)]
        for n in names:
            peers.append(subprocess.Popen([confab, "peer", "--config", c.config, "--listen", n],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        ok = False
        for _ in range(60):
            out = subprocess.run([confab, "seed-query", "--seeds", c.seeds_file, "--key-file", key_file,
                                  "--timeout-ms", "500"], capture_output=True, text=True).stdout
            if '"all_answered":true,"agree":true' in out and out.count('"pl_size":4') == 3:
                ok = True
                break
            time.sleep(0.2)
        check(ok, "with the key: 4 peers joined and every seed agrees")
        out = subprocess.run([confab, "seed-query", "--seeds", c.seeds_file, "--timeout-ms", "500"],
                             capture_output=True, text=True).stdout
        check('"answered":true' not in out, "without the key: no seed answers a query")
        check("cluster key" in c.events(0), "the seed's log says why it refused")
        report = b"\x01\x0b" + struct.pack(">QQQH", endpoint_id(names[1]), endpoint_id(names[0]), 0, 0)
        for p in c.ports:
            s = socket.create_connection(("127.0.0.1", p), timeout=5)
            s.sendall(struct.pack(">IQ", 8 + len(report), endpoint_id(names[0])) + report)
            time.sleep(0.05)
            s.close()
        ip, port = names[2].rsplit(":", 1)
        ping = b"\x81\x04" + struct.pack(">Q", 1)
        check(closes_after(ip, port, struct.pack(">IQ", 8 + len(ping), endpoint_id(names[3])) + ping, shutdown=False),
              "a ping without the key: the peer closes that connection")
        time.sleep(1.0)
        out = subprocess.run([confab, "seed-query", "--seeds", c.seeds_file, "--key-file", key_file],
                             capture_output=True, text=True).stdout
        check(out.count('"pl_size":4') == 3, "a forged dead report (no tag) removed nobody")
        log = open(os.path.join(c.dir, "data", f"peer-{ip}-{port}.events.txt")).read()
        check("cluster key" in log, "the peer's log says why it closed the connection")
    finally:
        stop_processes(peers)
        c.stop_all()
    return finish()


if __name__ == "__main__":
    sys.exit(main())
