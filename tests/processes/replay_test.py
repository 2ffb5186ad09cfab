#!/usr/bin/env python3
"""Replays under the cluster key, on real processes: 3 seeds sharing a key
(replay window 4 s) and a recording proxy in front of seed 0.

- seed-load registers 20 peers, reaching seed 0 through the proxy
  (`--via`), which records every frame the client sent;
- two members report the first of those peers dead with frames this test
  seals itself (HMAC-SHA-512-256, as libsodium's crypto_auth), and the
  seeds remove it: a correctly sealed frame is taken;
- every recorded frame is replayed to seed 0, each on a new connection:
  all refused as replays, and the removed peer stays removed;
- the same frames sent to seed 1 are refused as sealed for another node;
- the dead report sent a second time is refused as a replay;
- after the window, seed 0 is restarted (it remembers no sequence) and the
  recorded frames are replayed again: refused as too old; the removed peer
  is still removed on every seed.

Usage: replay_test.py PATH/TO/confab"""
import hashlib
import hmac
import os
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from seeds_cluster import Cluster, check, endpoint_id, finish, free_ports, stop_processes  # noqa: E402

WINDOW_S = 4


class RecordingProxy:
    """Forwards 127.0.0.9:port to a target; keeps what clients sent."""

    def __init__(self, target):
        self.target = target
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.9", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.address = f"127.0.0.9:{self.sock.getsockname()[1]}"
        self.recorded = []  # one bytes object per client connection
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.accept_loop, daemon=True)]
        self.threads[0].start()

    def pump(self, a, b, keep):
        a.settimeout(0.2)
        while not self.stop.is_set():
            try:
                data = a.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not data:
                break
            if keep is not None:
                keep.append(data)
            try:
                b.sendall(data)
            except OSError:
                break
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def accept_loop(self):
        while not self.stop.is_set():
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            try:
                s = socket.create_connection(self.target, timeout=5)
            except OSError:  # the seed is not up yet: the client dials again
                c.close()
                continue
            keep = []
            self.recorded.append(keep)
            for args in ((c, s, keep), (s, c, None)):
                t = threading.Thread(target=self.pump, args=args, daemon=True)
                t.start()
                self.threads.append(t)

    def close(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=2)
        self.sock.close()

    def frames(self):
        """Every frame the clients sent: [u32 length][u64 sender][payload]."""
        out = []
        for chunks in self.recorded:
            data = b"".join(chunks)
            while len(data) >= 4:
                n = struct.unpack(">I", data[:4])[0]
                if len(data) < 4 + n:
                    break
                out.append(data[:4 + n])
                data = data[4 + n:]
        return out


def seal(key, sender, receiver, message, epoch, sequence):
    covered = message + struct.pack(">QQQQ", epoch, sequence, time.time_ns(), receiver)
    tag = hmac.new(key, struct.pack(">Q", sender) + covered, hashlib.sha512).digest()[:32]
    return struct.pack(">IQ", 8 + len(covered) + 32, sender) + covered + tag


def send_each(port, frames):
    """Each frame on its own connection; how many of them the seed closed."""
    closed = 0
    for f in frames:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(f)
        s.settimeout(3)
        try:
            closed += s.recv(1) == b""
        except (socket.timeout, ConnectionResetError):
            closed += 1
        s.close()
        time.sleep(0.06)  # under the refused-message log rate (20 lines/s)
    return closed


def refusals(log, why):
    return sum(1 for line in log.splitlines() if "refused a message from" in line and why in line)


def pl_sizes(c, key_file):
    out = subprocess.run([c.confab, "seed-query", "--seeds", c.seeds_file, "--key-file", key_file,
                          "--timeout-ms", "1000"], capture_output=True, text=True, timeout=30).stdout
    return [int(x.split(",")[0]) for x in out.split('"pl_size":')[1:]]


def main():
    confab = sys.argv[1]
    c = Cluster(confab, 3, free_ports(3))
    ports = c.ports
    key = os.urandom(32)
    key_file = os.path.join(c.dir, "cluster.key")
    with open(key_file, "w") as f:
        f.write(key.hex() + "\n")
    with open(c.config) as f:
        text = f.read()
    with open(c.config, "w") as f:
        f.write(f'cluster_key_file = "cluster.key"\nreplay_window_ms = {WINDOW_S * 1000}\n' + text)
    proxy = None
    try:
        c.start_all()
        up = False
        for _ in range(100):  # every seed answers a keyed query (so seed 0 listens before the proxy dials it)
            q = subprocess.run([confab, "seed-query", "--seeds", c.seeds_file, "--key-file", key_file, "--timeout-ms", "300"],
                               capture_output=True, text=True, timeout=30).stdout
            if '"all_answered":true' in q and '"leader":""' not in q:
                up = True
                break
            time.sleep(0.1)
        check(up, "every seed answers and names a leader")
        proxy = RecordingProxy(("127.0.0.1", ports[0]))
        seed0 = f"127.0.0.1:{ports[0]}"
        load = subprocess.run([confab, "seed-load", "--seeds", c.seeds_file, "--key-file", key_file, "--peers", "20",
                               "--first-peer", "100", "--retry-ms", "300", "--timeout-ms", "20000", "--keep",
                               "--via", f"{seed0}={proxy.address}"], capture_output=True, text=True, timeout=60)
        check(load.returncode == 0 and '"acknowledged":20' in load.stdout.replace(" ", ""),
              "seed-load through the recording proxy: 20 registrations acknowledged")
        recorded_at = time.monotonic()
        time.sleep(0.5)
        proxy.close()
        frames = proxy.frames()
        check(len(frames) >= 5, f"the proxy recorded {len(frames)} frames sent to seed 0")
        check(pl_sizes(c, key_file) == [20, 20, 20], "every seed lists the 20 peers")

        # Peer 100 declares neighbours 101, 102 and 103 (its live witnesses:
        # removal takes a majority of them), then two of them report it dead.
        suspect = endpoint_id("127.2.0.0:10100")
        reports = []
        epoch = time.time_ns()
        witnesses = [endpoint_id(f"127.2.0.0:{10101 + i}") for i in range(3)]
        declaration = b"\x01\x0c" + struct.pack(">H", 3) + b"".join(struct.pack(">Q", w) for w in witnesses)
        for p in ports:
            s = socket.create_connection(("127.0.0.1", p), timeout=5)
            s.sendall(seal(key, suspect, endpoint_id(f"127.0.0.1:{p}"), declaration, epoch, 1))
            time.sleep(0.05)
            s.close()
        for seq, reporter in enumerate((endpoint_id("127.2.0.0:10101"), endpoint_id("127.2.0.0:10102")), start=1):
            body = b"\x01\x0b" + struct.pack(">QQQH", suspect, reporter, 0, 0)
            for p in ports:
                f = seal(key, reporter, endpoint_id(f"127.0.0.1:{p}"), body, epoch, seq)
                reports.append((p, f))
                s = socket.create_connection(("127.0.0.1", p), timeout=5)
                s.sendall(f)
                time.sleep(0.05)
                s.close()
        removed = False
        for _ in range(50):
            if pl_sizes(c, key_file) == [19, 19, 19]:
                removed = True
                break
            time.sleep(0.1)
        check(removed, "frames sealed by this test are taken: the reported peer is removed on every seed")

        closed = send_each(ports[0], frames)
        check(closed == len(frames), f"every recorded frame replayed to seed 0 closed its connection ({closed} of {len(frames)})")
        time.sleep(1.0)
        check(pl_sizes(c, key_file) == [19, 19, 19], "after the replay the removed peer is still removed")
        n = refusals(c.events(0), "(a replay)")
        check(n == len(frames), f"seed 0 logged each of them as a replay ({n})")
        closed = send_each(ports[1], frames[:5])
        check(closed == 5 and refusals(c.events(1), "sealed for another node") == 5,
              "frames recorded for seed 0 are refused by seed 1 (sealed for another node)")
        before = refusals(c.events(2), "(a replay)")
        send_each(ports[2], [f for p, f in reports if p == ports[2]])
        check(refusals(c.events(2), "(a replay)") - before == 2, "the dead reports sent again are refused as replays")

        time.sleep(max(0.0, WINDOW_S + 1 - (time.monotonic() - recorded_at)))
        c.kill9(0)
        c.start(0)
        # It replays its log before it listens: wait for that, not a fixed time
        # (1 s was too short on a loaded machine).
        check(c.wait_serving(0), "seed 0, restarted, serves again")
        closed = send_each(ports[0], frames)
        check(closed == len(frames), "after the window, the recorded frames replayed to a restarted seed 0 are refused")
        check(refusals(c.events(0), "longer ago than the replay window") == len(frames),
              "... as sealed longer ago than the replay window")
        time.sleep(1.0)
        check(pl_sizes(c, key_file) == [19, 19, 19], "the removed peer is still removed on every seed")
    finally:
        if proxy:
            proxy.stop.set()
        c.stop_all()
        stop_processes([])
    return finish()


if __name__ == "__main__":
    sys.exit(main())
