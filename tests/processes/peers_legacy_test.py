#!/usr/bin/env python3
"""A confab peer in legacy mode beside the original implementation's seed
and peers, played here by small Python stand-ins written from the
description of source 002's dialect (one message per TCP connection, no
framing, no newline):

- the seed answers `IP:PORT` with the PL as `IP:PORT` lines, tells earlier
  peers `(SEED)ADDED NEW NODE TO NETWORK:<seed port>:<ip>:<port>`, and
  records `Dead Node:` reports;
- legacy peers answer `(PEER)PING:<ip>:<port>` with
  `(PEER)PING_REPLY:<ip>:<port>` on a new connection and record all text.

Checks: the confab peer registers and is answered; it pings its legacy
neighbours and answers their pings on a new connection; its own gossip
reaches them as `<timestamp>:<IP>:<Msg#>`; gossip from one legacy peer is
forwarded unchanged to the other; when a legacy neighbour dies the confab
peer sends `Dead Node:<ip>:<port>:<timestamp>:<its ip>` to the seed.

Usage: peers_legacy_test.py PATH/TO/confab"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from seeds_cluster import check, finish, read_all, stop_processes  # noqa: E402


def send_text(addr, text):
    ip, port = addr.rsplit(":", 1)
    try:
        s = socket.create_connection((ip, int(port)), timeout=2)
        s.sendall(text.encode())
        s.close()
        return True
    except OSError:
        return False


class Server:
    def __init__(self, addr, on_message):
        ip, port = addr.rsplit(":", 1)
        self.addr = addr
        self.srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind((ip, int(port)))
        self.srv.listen(64)
        self.srv.settimeout(0.2)
        self.on_message = on_message
        self.running = True
        self.t = threading.Thread(target=self.loop, daemon=True)
        self.t.start()

    def loop(self):
        while self.running:
            try:
                c, _ = self.srv.accept()
            except OSError:
                continue
            threading.Thread(target=self.on_message, args=(c,), daemon=True).start()

    def close(self):
        self.running = False
        self.t.join()
        self.srv.close()


class LegacySeed:
    def __init__(self, addr):
        self.pl, self.dead, self.lock = [], [], threading.Lock()
        self.port = addr.rsplit(":", 1)[1]
        self.server = Server(addr, self.handle)

    def handle(self, c):
        c.settimeout(2)
        try:
            text = c.recv(4096).decode().strip()
        except OSError:
            c.close()
            return
        if text.startswith("Dead Node:"):
            with self.lock:
                self.dead.append(text)
            c.close()
            return
        with self.lock:
            new = text not in self.pl
            others = [p for p in self.pl if p != text]
            if new:
                self.pl.append(text)
            reply = "\n".join(self.pl)
        c.sendall(reply.encode())
        c.close()
        if new:
            for o in others:
                send_text(o, f"(SEED)ADDED NEW NODE TO NETWORK:{self.port}:{text}")


class LegacyPeer:
    def __init__(self, addr, seed):
        self.addr, self.got, self.alive = addr, [], True
        self.server = Server(addr, self.handle)
        s = socket.create_connection(tuple_of(seed), timeout=2)
        s.sendall(addr.encode())
        self.pl = read_all(s).split("\n")
        s.close()

    def handle(self, c):
        text = read_all(c)
        c.close()
        if not self.alive:
            return
        self.got.append(text)
        if text.startswith("(PEER)PING:"):
            send_text(text.split(":", 1)[1], f"(PEER)PING_REPLY:{self.addr}")

    def kill(self):
        self.alive = False
        self.server.close()


def tuple_of(addr):
    ip, port = addr.rsplit(":", 1)
    return ip, int(port)


def main():
    confab = sys.argv[1]
    base = 25500 + (os.getpid() % 100) * 10
    d = tempfile.mkdtemp(prefix="confab-legacy-peer-")
    seed_addr = f"127.0.0.1:{base}"
    with open(os.path.join(d, "seeds.txt"), "w") as f:
        f.write(seed_addr + "\n")
    with open(os.path.join(d, "peer.toml"), "w") as f:
        f.write('seeds_file = "seeds.txt"\ndata_dir = "data"\n[peer]\nlegacy = true\nattach = 2\n'
                "gossip_interval_ms = 700\ngossip_count = 3\nping_interval_ms = 500\nping_misses = 3\n"
                "probe_timeout_ms = 200\nregister_retry_ms = 500\n")
    seed = LegacySeed(seed_addr)
    p1 = LegacyPeer(f"127.0.4.11:{base + 1}", seed_addr)
    p2 = LegacyPeer(f"127.0.4.12:{base + 2}", seed_addr)
    me = f"127.0.4.20:{base + 3}"
    proc = subprocess.Popen([confab, "peer", "--config", os.path.join(d, "peer.toml"), "--listen", me],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.2)
        check(me in seed.pl, f"the confab peer registered with the legacy seed (PL {seed.pl})")
        check(any(t == f"(PEER)PING:{me}" for t in p1.got + p2.got), "it pings its legacy neighbours")
        # A legacy peer pings it: the reply comes on a new connection.
        send_text(me, f"(PEER)PING:{p1.addr}")
        time.sleep(0.5)
        check(f"(PEER)PING_REPLY:{me}" in p1.got, "it answers a legacy ping with PING_REPLY on a new connection")
        time.sleep(2.0)
        own = [t for t in p1.got if t.endswith(":1") and ":127.0.4.20:" in t]
        check(len(own) >= 1, f"its own gossip reaches legacy peers as <timestamp>:<IP>:<Msg#> ({own[:1]})")
        # Original peers flood every text back to whoever sent it: the echo
        # of the confab peer's own gossip is a duplicate, not a receipt.
        for t in own:
            send_text(me, t)
        time.sleep(0.5)
        log = os.path.join(d, "data", f"peer-127.0.4.20-{base + 3}.events.jsonl")
        with open(log) as f:
            events = [json.loads(line) for line in f if line.strip()]
        echoed = [e for e in events if e["event"] == "gossip_received" and e["about"].startswith("127.0.4.20:")]
        check(own and not echoed, f"its own gossip echoed back is not counted as received ({len(echoed)} receipts)")
        text = f"{int(time.time())}:127.0.4.11:42"
        send_text(me, text)
        time.sleep(0.5)
        check(text in p2.got, "gossip from one legacy peer is forwarded unchanged to the other")
        n_before = sum(1 for t in p2.got if t == text)
        send_text(me, text)
        time.sleep(0.5)
        check(sum(1 for t in p2.got if t == text) == n_before, "a second copy is not forwarded again")
        # A legacy neighbour dies: the confab peer reports it to the seed.
        p2.kill()
        deadline = time.time() + 5
        while time.time() < deadline and not seed.dead:
            time.sleep(0.1)
        want = f"Dead Node:{p2.addr}:"
        check(any(r.startswith(want) and r.endswith(":127.0.4.20") for r in seed.dead),
              f"it reports the dead neighbour to the seed as Dead Node:<ip>:<port>:<timestamp>:<ip> ({seed.dead[:1]})")
    finally:
        stop_processes([proc])
        seed.server.close()
        p1.kill()
    return finish()


if __name__ == "__main__":
    sys.exit(main())
