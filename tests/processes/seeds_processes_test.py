#!/usr/bin/env python3
"""Real `confab seed` processes on loopback (3 and 5 seeds):

- kill -9 the leader during a burst of registrations: every acknowledged
  registration is in every seed's PL afterwards (checked by digest against
  the acknowledged set), the killed seed restarts from its log and catches
  up, and all PLs agree;
- a minority (the majority paused with SIGSTOP, so the minority is cut off)
  commits nothing; after the majority resumes, everyone agrees;
- forged, malformed, truncated and oversized frames get a logged error
  naming what was wrong, close that connection only, and the seed keeps
  serving;
- a second seed on a running seed's files is refused by the lock before it
  binds or writes anything, one on a port in use never says "serving";
  seed-query with nobody answering says they do not agree;
- seeds named NAME:PORT and a seed bound to 0.0.0.0 under --advertise;
  0.0.0.0 as an identity and an unresolvable name are refused (exit 2).

Usage: seeds_processes_test.py PATH/TO/confab [--base-port P]
Exit 0 when every check passes; each failed check is printed."""
import os
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from seeds_cluster import Cluster, check, closes_after, digest_of, endpoint_id, finish  # noqa: E402



def leader_kill(confab, n, base_port):
    c = Cluster(confab, n, base_port)
    try:
        c.start_all()
        leader, took = c.wait_leader()
        check(leader is not None, f"{n} seeds: a leader is elected ({took:.2f} s)")
        if leader is None:
            return
        acked_file = os.path.join(c.dir, "acked.txt")
        load = c.load(3000, window=64, retry_ms=400, acked_out=acked_file)
        time.sleep(0.25)
        victim = c.index_of(leader)
        c.kill9(victim)
        new_leader, failover = c.wait_leader(not_this=leader)
        check(new_leader is not None, f"{n} seeds: kill -9 of leader {leader}: new leader {new_leader} "
              f"reported by a majority after {failover * 1000:.0f} ms")
        out, _ = load.communicate(timeout=120)
        summary = out.strip().splitlines()[-1] if out.strip() else "{}"
        check(load.returncode == 0, f"{n} seeds: every registration acknowledged despite the kill: {summary}")
        with open(acked_file) as f:
            acked = [l.strip() for l in f if l.strip()]
        c.start(victim)
        seeds = c.wait_agree()
        expect = digest_of(acked)
        ok = all(s["answered"] and int(s["pl_digest"], 16) == expect and s["pl_size"] == len(acked) for s in seeds)
        check(ok, f"{n} seeds: after the restart every seed's PL is exactly the {len(acked)} acknowledged peers "
              f"(digests {[s['pl_digest'] for s in seeds]}, expected {expect:016x})")
        ev = c.events(victim)
        check("recovered term" in ev and "starting" in ev,
              f"{n} seeds: the restarted seed recovered its log from disk")
    finally:
        c.stop_all()


def minority(confab, base_port):
    c = Cluster(confab, 3, base_port)
    try:
        c.start_all()
        leader, _ = c.wait_leader()
        check(leader is not None, "minority: a leader is elected")
        lone = 0
        before, _ = c.query()
        size_before = before[lone]["pl_size"]
        for i in (1, 2):
            c.pause(i)
        lone_file = os.path.join(c.dir, "lone.txt")
        with open(lone_file, "w") as f:
            f.write(f"127.0.0.1:{c.ports[lone]}\n")
        load = c.load(20, first_peer=50000, retry_ms=300, timeout_ms=2500, seeds_file=lone_file)
        out, _ = load.communicate(timeout=60)
        summary = out.strip().splitlines()[-1] if out.strip() else "{}"
        check('"acknowledged":0,' in summary, f"minority: a lone seed acknowledges no registration: {summary}")
        after, _ = c.query(seeds_file=lone_file)
        check(after[0]["pl_size"] == size_before, f"minority: the lone seed's PL did not change "
              f"({size_before} -> {after[0]['pl_size']})")
        for i in (1, 2):
            c.resume(i)
        seeds = c.wait_agree()
        check(all(s["answered"] for s in seeds) and len({s["pl_digest"] for s in seeds}) == 1,
              f"minority: after healing all seeds agree (PL sizes {[s['pl_size'] for s in seeds]})")
    finally:
        c.stop_all()


def frame(sender, payload):
    return struct.pack(">IQ", 8 + len(payload), sender) + payload


def bad_input(confab, base_port):
    c = Cluster(confab, 3, base_port)
    try:
        c.start_all()
        leader, _ = c.wait_leader()
        check(leader is not None, "bad input: a leader is elected")
        # Two members, so a forged report has someone to name.
        load = c.load(2, first_peer=60000)
        load.communicate(timeout=60)
        target = c.ports[0]
        peer_a = endpoint_id("127.2.1.46:30000")  # index 60000
        peer_b = endpoint_id("127.2.1.46:30001")
        cases = [
            ("oversized frame", struct.pack(">I", 0x7FFFFFFF) + b"x" * 16, "too_large"),
            ("malformed message", frame(peer_a, b"\x01\x63garbage"), "unknown message type"),
            ("wrong wire version", frame(peer_a, b"\x09\x0a" + b"\0" * 8), "unsupported wire version"),
            ("truncated frame", struct.pack(">I", 100) + b"\0" * 20, "mid-frame"),
            ("forged sender id", frame(5, b"\x01\x0a" + b"\0" * 8), "neither in the directory nor an endpoint"),
            ("text garbage", b"GET / HTTP/1.0\r\n\r\n", ""),
        ]
        for name, data, _ in cases:
            check(closes_after("127.0.0.1", target, data), f"bad input: {name}: the seed closed that connection")
        time.sleep(0.3)
        seeds, summary = c.query()
        check(summary["all_answered"] and summary["agree"], "bad input: every seed still serves and agrees")
        log = c.events(0)
        for name, _, needle in cases:
            if needle:
                check(needle in log, f"bad input: {name}: the event log names it ('{needle}')")
        # A forged dead report: one member reports another; nobody is removed.
        report = b"\x01\x0b" + struct.pack(">QQQH", peer_b, peer_a, int(time.time() * 1000), 0)
        for p in c.ports:
            s = socket.create_connection(("127.0.0.1", p), timeout=5)
            s.sendall(frame(peer_a, report))
            time.sleep(0.05)
            s.close()
        time.sleep(1.0)
        seeds, _ = c.query()
        check(all(s["pl_size"] == 2 for s in seeds), f"bad input: a dead report from one peer removes nobody "
              f"(PL sizes {[s['pl_size'] for s in seeds]})")
    finally:
        c.stop_all()


def second_instance(confab, base_port):
    """A second seed on a running seed's address and files: refused before
    it binds or touches anything; seed-query with nobody answering says
    they do not agree."""
    c = Cluster(confab, 3, base_port)
    try:
        c.start_all()
        leader, _ = c.wait_leader()
        check(leader is not None, "second instance: a leader is elected")
        before = c.events(0)
        run = subprocess.run([confab, "seed", "--config", c.config, "--listen", f"127.0.0.1:{c.ports[0]}"],
                             capture_output=True, text=True, timeout=30)
        check(run.returncode == 1 and ".lock is held by process" in run.stderr and "serving" not in run.stderr,
              f"a second seed on the same files: exit 1 naming the lock, never 'serving' "
              f"({run.returncode}: {run.stderr.strip()[:120]})")
        check(c.events(0).startswith(before) and "starting" not in c.events(0)[len(before):],
              "the running seed's event log was not touched by the second one")
        other = os.path.join(c.dir, "other.toml")
        with open(c.config) as f, open(other, "w") as g:
            g.write(f.read().replace('data_dir = "data"', 'data_dir = "data2"'))
        run = subprocess.run([confab, "seed", "--config", other, "--listen", f"127.0.0.1:{c.ports[0]}"],
                             capture_output=True, text=True, timeout=30)
        check(run.returncode == 1 and "cannot serve" in run.stderr and "serving (" not in run.stderr,
              f"a second seed on a port in use: exit 1, never 'serving' ({run.returncode}: {run.stderr.strip()[:120]})")
    finally:
        c.stop_all()
    run = subprocess.run([confab, "seed-query", "--seeds", c.seeds_file, "--timeout-ms", "300"],
                         capture_output=True, text=True, timeout=30)
    check(run.returncode == 1 and '"all_answered":false,"agree":false' in run.stdout,
          f"seed-query with no seed answering: agree false, exit 1 ({run.returncode})")


def names_and_advertise(confab, port):
    """Seeds named NAME:PORT (resolved through /etc/hosts), a seed bound to
    0.0.0.0 under its advertised identity, and the refusals: 0.0.0.0 as an
    identity, a name that does not resolve (exit 2, naming it)."""
    import tempfile
    d = tempfile.mkdtemp(prefix="confab-names-")
    with open(os.path.join(d, "seeds.txt"), "w") as f:
        f.write(f"localhost:{port}\n")
    with open(os.path.join(d, "seed.toml"), "w") as f:
        f.write('seeds_file = "seeds.txt"\n')
    p = subprocess.Popen([confab, "seed", "--config", os.path.join(d, "seed.toml"), "--listen", f"0.0.0.0:{port}",
                          "--advertise", f"localhost:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        out = ""
        for _ in range(50):
            out = subprocess.run([confab, "seed-query", "--seeds", os.path.join(d, "seeds.txt"), "--timeout-ms", "300"],
                                 capture_output=True, text=True, timeout=30).stdout
            if '"all_answered":true,"agree":true' in out:
                break
            time.sleep(0.1)
        check('"all_answered":true,"agree":true' in out and f'"seed":"127.0.0.1:{port}"' in out,
              "a seed list of NAME:PORT, a seed on 0.0.0.0 advertising localhost: it answers as 127.0.0.1")
    finally:
        p.terminate()
        p.wait(timeout=10)
    run = subprocess.run([confab, "seed", "--config", os.path.join(d, "seed.toml"), "--listen", f"0.0.0.0:{port}"],
                         capture_output=True, text=True, timeout=30)
    check(run.returncode == 2 and "0.0.0.0 is never an identity" in run.stderr,
          f"--listen 0.0.0.0 without --advertise: exit 2 ({run.returncode})")
    with open(os.path.join(d, "seeds.txt"), "w") as f:
        f.write("no-such-host.invalid:7001\n")
    run = subprocess.run([confab, "seed", "--config", os.path.join(d, "seed.toml"), "--listen", f"127.0.0.1:{port}"],
                         capture_output=True, text=True, timeout=30)
    check(run.returncode == 2 and "cannot resolve 'no-such-host.invalid'" in run.stderr,
          f"a seed list naming a host that does not resolve: exit 2 naming it ({run.returncode})")


def main():
    confab = sys.argv[1]
    base = 21000 + (os.getpid() % 200) * 40
    leader_kill(confab, 3, base)
    leader_kill(confab, 5, base + 10)
    minority(confab, base + 20)
    bad_input(confab, base + 30)
    second_instance(confab, base + 34)
    names_and_advertise(confab, base + 38)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
