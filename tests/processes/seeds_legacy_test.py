#!/usr/bin/env python3
"""The seeds' legacy text dialect against a small client written here from
the description of the original implementation (one message per TCP
connection, no framing, no newline):

- `IP:PORT` registers a peer and is answered with the PL as `IP:PORT` lines
  joined by `\\n`, the new peer included;
- peers registered earlier are told, on a new connection to them,
  `(SEED)ADDED NEW NODE TO NETWORK:<seed port>:<ip>:<port>`;
- a registration of another IP than the connection's source is refused;
- `Dead Node:<ip>:<port>:<timestamp>:<reporter ip>` reports a death under
  the native rule: reports from hosts outside the PL remove nobody (two
  of them used to), one member's host removes nobody however often it
  reports, two members' hosts remove the peer;
- garbage on the legacy port closes that connection only;
- connections held from one IP are capped; other sources are still served.

Usage: seeds_legacy_test.py PATH/TO/confab"""
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from seeds_cluster import Cluster, check, finish, read_all, scrape  # noqa: E402



def one_message(port, text, source_ip="127.0.0.1", want_reply=True):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((source_ip, 0))
    s.settimeout(15)
    s.connect(("127.0.0.1", port))
    s.sendall(text.encode())
    data = b""
    if want_reply:
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                data += b
        except OSError:
            pass
    s.close()
    return data.decode(errors="replace")


class LegacyPeer:
    """Listens where a legacy peer would and records every message."""

    def __init__(self, ip, port):
        self.addr = f"{ip}:{port}"
        self.got = []
        self.srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind((ip, port))
        self.srv.listen(16)
        self.srv.settimeout(0.2)
        self.stop = False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while not self.stop:
            try:
                c, _ = self.srv.accept()
            except OSError:
                continue
            text = read_all(c)
            c.close()
            self.got.append(text)

    def close(self):
        self.stop = True
        self.t.join()
        self.srv.close()


def main():
    confab = sys.argv[1]
    base = 26000 + (os.getpid() % 100) * 20
    c = Cluster(confab, 3, base, legacy_base=base + 10)
    a = LegacyPeer("127.0.0.1", base + 15)
    b = LegacyPeer("127.0.0.2", base + 16)
    d = LegacyPeer("127.0.0.3", base + 17)
    metrics = f"127.0.0.1:{base + 18}"
    c.extra_args[0] = ["--metrics", metrics]
    try:
        c.start_all()
        leader, _ = c.wait_leader()
        check(leader is not None, "legacy: a leader is elected")
        lp = base + 10  # seed 0's legacy port
        reply_a = one_message(lp, a.addr)
        check(a.addr in reply_a.split("\n"), f"legacy: registration of {a.addr} answered with a PL holding it: {reply_a!r}")
        reply_b = one_message(lp, b.addr, source_ip="127.0.0.2")
        lines = reply_b.split("\n")
        check(a.addr in lines and b.addr in lines, f"legacy: the second registration's PL holds both: {reply_b!r}")
        time.sleep(0.5)
        expect = f"(SEED)ADDED NEW NODE TO NETWORK:{base}:{b.addr}"
        check(expect in a.got, f"legacy: the first peer was told '{expect}' (got {a.got})")
        reply_d = one_message(lp, d.addr, source_ip="127.0.0.3")
        check(d.addr in reply_d.split("\n"), f"legacy: a third peer registers from its own IP: {reply_d!r}")
        # A registration of an address the connection does not come from.
        spoof = one_message(lp, "10.9.9.9:1234")
        check(spoof == "", "legacy: a registration of another IP than the source gets no answer")
        check("the IP is not the connection's source" in c.events(0), "legacy: the seed's log says why it was refused")
        # Garbage closes that connection only.
        junk = one_message(lp, "HELLO THERE")
        check(junk == "", "legacy: garbage gets no answer and a closed connection")
        check("neither IP:PORT nor a Dead Node report" in c.events(0), "legacy: the seed's log names the garbage")
        # Connections held from one source are capped (64 by default); other
        # sources are still served.
        held = []
        for _ in range(64):
            h = socket.socket()
            h.bind(("127.0.0.5", 0))
            h.connect(("127.0.0.1", lp))
            held.append(h)
        time.sleep(0.3)
        extra = socket.socket()
        extra.bind(("127.0.0.5", 0))
        extra.settimeout(3)
        extra.connect(("127.0.0.1", lp))
        t0 = time.monotonic()
        try:
            closed_at_once = extra.recv(1) == b"" and time.monotonic() - t0 < 2
        except (socket.timeout, ConnectionResetError):
            closed_at_once = False
        extra.close()
        check(closed_at_once, "legacy: the 65th connection held from one IP is closed at once")
        again = one_message(lp, a.addr)
        check(a.addr in again.split("\n"), "legacy: meanwhile another source is served")
        for h in held:
            h.close()
        check("too many connections from this source IP" in c.events(0), "legacy: the seed's log says why it refused")
        m = scrape(metrics)
        check(m.get("confab_seed_legacy_refused_total", 0) >= 1 and m.get("confab_seed_legacy_closed_bad_total", 0) >= 1,
              f"legacy: refusals and bad connections counted in the metrics ({m.get('confab_seed_legacy_refused_total')}, "
              f"{m.get('confab_seed_legacy_closed_bad_total')})")
        seeds, _ = c.query()
        check(all(s["pl_size"] == 3 for s in seeds), f"legacy: three peers in every PL ({[s['pl_size'] for s in seeds]})")
        # Two hosts outside the PL remove nobody.
        for ip in ("127.0.0.5", "127.0.0.6"):
            one_message(lp, f"Dead Node:{a.addr}:2026-11-21 12:00:00:{ip}", source_ip=ip, want_reply=False)
        time.sleep(0.8)
        seeds, _ = c.query()
        check(all(s["pl_size"] == 3 for s in seeds),
              f"legacy: two reporters outside the PL remove nobody ({[s['pl_size'] for s in seeds]})")
        # One member's host, twice: still one voice.
        for _ in range(2):
            one_message(lp, f"Dead Node:{a.addr}:2026-11-21 12:00:00:127.0.0.2", source_ip="127.0.0.2", want_reply=False)
        time.sleep(0.8)
        seeds, _ = c.query()
        check(all(s["pl_size"] == 3 for s in seeds), f"legacy: one member's reports remove nobody ({[s['pl_size'] for s in seeds]})")
        # A report whose reporter IP is not the connection's source is refused.
        one_message(lp, f"Dead Node:{a.addr}:1700000000.5:127.0.0.3", source_ip="127.0.0.5", want_reply=False)
        time.sleep(0.8)
        seeds, _ = c.query()
        check(all(s["pl_size"] == 3 for s in seeds), "legacy: a report naming another reporter IP is refused")
        one_message(base + 11, f"Dead Node:{a.addr}:1700000000.5:127.0.0.3", source_ip="127.0.0.3", want_reply=False)
        time.sleep(0.8)
        seeds = c.wait_agree(timeout_s=5)
        check(all(s["pl_size"] == 2 for s in seeds), f"legacy: two members' hosts remove the peer from every PL "
              f"({[s['pl_size'] for s in seeds]})")
        check("has the legacy reporter's IP" in c.events(0),  # (flushed with the removal's commit)
              "legacy: the seed's log says why the reports from outside the PL were ignored")
    finally:
        c.stop_all()
        a.close()
        b.close()
        d.close()
    return finish()


if __name__ == "__main__":
    sys.exit(main())
