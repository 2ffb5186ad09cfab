#!/usr/bin/env python3
"""`confab vote-server` (document 001's voting service) as clients meet it,
over loopback with scripted `nc -C`-like clients.

- the document's session, line by line: riddle (wrong, then right), PIN and
  menu, setup, negotiate, discover, receive, vote, stats, exit;
- everything sent at once then half-closed: every line answered, in order,
  then the server closes;
- 1,000 clients at once: all register; 999 vote at once on one poll (500 A,
  499 B: no majority of 1,000), every vote counted once; the last votes A,
  the poll is decided, and all 1,000 receive the broadcast;
- bad input: binary garbage and a line over 512 bytes answered with an error
  and the connection kept; a silent client closed after the idle timeout;
  2,000 idle connections held while a new client is served, with the
  server's memory bounded;
- bad usage: unknown option, bad --listen, port in use; SIGTERM exits 0;
- `confab vote` (one native client, AUTH by the key file's HMAC or the
  riddle): two clients wait for a decision, a third opens a poll and
  votes, a latecomer's vote is refused (exit 1, 550), an operator closes
  the poll and both waiters print the 603 and exit 0; a wrong key exits 1
  (535), no command or an unreadable key file exits 2;
- `confab vote-load` (the C++ client of the benchmark) against a fresh
  server: 2,000 clients register, 1,999 votes recorded, all 2,000 hear the
  decision with the right counts, exit 0; against a port where nothing
  listens it exits 1 naming the failure; bad usage exits 2.
All of it on both engine backends (io_uring, and epoll through Asio).

Usage: vote_test.py PATH/TO/confab"""
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from seeds_cluster import check, finish, free_ports  # noqa: E402
from vote_clients import register  # noqa: E402

RIDDLE = "What has keys but can't open locks?"


def rss_kb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Client:
    """A line client: sends CRLF lines, reads the server's lines."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def line(self, timeout=10):
        self.s.settimeout(timeout)
        while True:
            while b"\n" not in self.buf:
                b = self.s.recv(65536)
                if not b:
                    raise EOFError(self.buf.decode(errors="replace"))
                self.buf += b
            l, self.buf = self.buf.split(b"\n", 1)
            text = l.rstrip(b"\r").decode(errors="replace")
            if not text.startswith(("NODE JOINED", "NODE LEFT", "NODES CHANGED")):
                return text  # others, pushed as they come and go, are skipped

    def until(self, needle, timeout=10):
        """Lines up to and including the first that contains needle."""
        got = []
        while True:
            got.append(self.line(timeout))
            if needle in got[-1]:
                return got

    def say(self, text, upto="[Select an option]"):
        self.s.sendall(text.encode() + b"\r\n")
        return self.until(upto)

    def close(self):
        self.s.close()


def document_session(port):
    c = Client(port)
    check(c.line() == RIDDLE, "a client is asked the riddle first")
    r = c.say("a piano", RIDDLE)
    check(r[0] == "Incorrect answer, try again.", f"a wrong answer: an error line and the riddle again ({r})")
    r = c.say("keyboard")
    check(r[0].startswith("Correct! You may now vote") and r[1].startswith("Your PIN is: ") and len(r) == 10,
          f"the right answer: PIN and the document's menu ({r[:2]}, {len(r)} lines)")
    pin = r[1].split(": ")[1]
    check(len(pin) == 3, f"a three-digit PIN ({pin})")
    check("use 'setup' first" in c.say("negotiate")[0], "negotiate before setup: an error, the connection kept")
    c.say("setup", "services")
    c.say("compute", "capabilities")
    c.say("4 cores", "constraints")
    r = c.say("nights only")
    check(r[0] == "Node info set: services: compute; capabilities: 4 cores; constraints: nights only", f"setup ({r[0]})")
    c.say("negotiate", "Grant?")
    r = c.say("yes")
    check(r[0] == f"Permission granted: node info stored under PIN {pin}.", f"negotiate granted ({r[0]})")
    r = c.say("discover")
    check(any(f"PIN: {pin} (you)" in l and "IP: 127.0.0.1" in l for l in r), f"discover lists this client ({r[:2]})")
    c.say("receive", "'all'")
    r = c.say("all")
    check(r[0] == f"PIN {pin}: services: compute; capabilities: 4 cores; constraints: nights only", f"receive all ({r[0]})")
    check("unknown option 'dance'" in c.say("dance", "[Select an option]")[0], "an unknown option: an error, kept")
    r = c.say("vote", "Cast your vote")
    check(r[-1] == "Cast your vote (A or B):", f"vote: the poll's question and choices ({r})")
    r = c.say("a")
    check(r[0].startswith("Vote recorded: A (poll "), f"the vote recorded ({r[0]})")
    r = c.say("stats")
    check(any("A 1 (100.0%)" in l for l in r), f"stats ({r[:2]})")
    c.s.sendall(b"exit\r\n")
    check(c.line() == "Goodbye.", "exit: goodbye")
    try:
        more = c.line(5)
        closed = False
    except EOFError:
        closed = True
    check(closed, "the server closes the connection after exit")
    c.close()


def pipelined(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    lines = ["keyboard", "stats", "discover", "vote", "B", "stats", "exit"]
    s.sendall("".join(l + "\r\n" for l in lines).encode())
    s.shutdown(socket.SHUT_WR)
    data = b""
    s.settimeout(10)
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
    s.close()
    text = data.decode()
    order = [text.find(x) for x in ("Your PIN is", "Connected nodes", "Vote recorded: B", "Goodbye.")]
    check(all(o >= 0 for o in order) and order == sorted(order),
          f"seven lines sent at once then half-closed: every one answered in order, then closed ({order})")


async def crowd(port, n):
    conns = await asyncio.gather(*[register(port) for _ in range(n)])

    async def vote(i, r, w):
        w.write(b"vote\r\n")
        w.write(b"A\r\n" if i % 2 == 0 else b"B\r\n")
        await w.drain()
        while True:
            l = await r.readuntil(b"\n")
            if l.startswith(b"Vote recorded") or l.startswith(b"Error"):
                break
        while b"[Select an option]" not in await r.readuntil(b"\n"):
            pass
        return l.decode().strip()

    # 999 at once: 500 A and 499 B, so no choice has more than half of 1,000.
    results = await asyncio.gather(*[vote(i, r, w) for i, (r, w) in enumerate(conns[:-1])])
    recorded = sum(1 for x in results if x.startswith("Vote recorded"))
    polls = {x.split("(poll ")[1] for x in results if "(poll " in x}
    r0, w0 = conns[0]
    w0.write(b"stats\r\n")
    await w0.drain()
    stats = []
    while not stats or b"[Select an option]" not in stats[-1]:
        stats.append(await r0.readuntil(b"\n"))
    stats_text = b"".join(stats).decode()
    check(recorded == n - 1 and len(polls) == 1 and f"A {n // 2} (" in stats_text and f"B {n // 2 - 1} (" in stats_text
          and f"{n - 1} of {n} voters" in stats_text and "(open)" in stats_text,
          f"{n - 1} of {n} clients vote at once: every vote recorded in one poll and counted once, still open "
          f"({recorded} recorded, polls {polls}, {[l for l in stats_text.splitlines() if l.startswith('Votes')]})")
    rl, wl = conns[-1]  # the last one votes A: 501 of 1,000
    wl.write(b"vote\r\nA\r\n")
    await wl.drain()

    async def told(r):
        try:
            while True:
                l = await asyncio.wait_for(r.readuntil(b"\n"), 20)
                if l.startswith(b"CONSENSUS REACHED"):
                    return l.decode().strip()
        except (asyncio.TimeoutError, asyncio.IncompleteReadError):
            return None

    heard = await asyncio.gather(*[told(r) for r, _ in conns])
    got = sum(1 for h in heard if h and f"A {n // 2 + 1} (" in h and f"; {n} of {n} voters" in h)
    check(got == n, f"the last voter's A makes {n // 2 + 1} of {n}: the poll is decided and {got} of {n} clients receive the broadcast "
                    f"({next((h for h in heard if h), None)})")
    for _, w in conns:
        w.close()


def bad_input(port, pid):
    c = Client(port)
    c.line()
    c.say("keyboard")
    c.s.sendall(bytes(range(1, 256)).replace(b"\n", b"") + b"\r\n")
    r = c.until("[Select an option]")
    check(r[0].startswith("Error: unknown option") and r[0].isprintable(),
          f"a binary line: an error line with the bytes shown as '?', the connection kept ({ascii(r[0][:40])})")
    c.s.sendall(b"x" * 5000 + b"\r\n")
    check(c.line() == "Error: line over the limit, ignored.", "a 5,000-byte line: refused, the connection kept")
    r = c.say("stats")
    check(r[-1] == "[Select an option]", "the same connection still answers")
    c.close()


def idle_timeout(confab, backend):
    """A server with a 2 s idle timeout closes a silent client."""
    port = free_ports(2)
    server = subprocess.Popen([confab, "vote-server", "--listen", f"127.0.0.1:{port}", "--idle-timeout-ms", "2000",
                               "--backend", backend], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    server.stdout.readline()
    c = Client(port)
    c.line()
    t0 = time.monotonic()
    closed = False
    try:
        while True:
            c.line(10)
    except (EOFError, ConnectionResetError):
        closed = True
    except socket.timeout:
        pass
    waited = time.monotonic() - t0
    check(closed and 1.5 < waited < 8, f"a silent client is closed after the idle timeout (2 s; closed after {waited:.1f} s)")
    c.close()
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=30)


def idle_connections(port, pid):
    before = rss_kb(pid)
    idle = []
    for _ in range(2000):
        idle.append(socket.create_connection(("127.0.0.1", port), timeout=10))
    time.sleep(0.5)
    during = rss_kb(pid)
    fresh = Client(port)
    ok = fresh.line() == RIDDLE and fresh.say("keyboard")[1].startswith("Your PIN is")
    check(ok and during - before < 64 * 1024,
          f"2,000 idle connections held, a new client still served; RSS {before // 1024} -> {during // 1024} MB")
    fresh.close()
    for s in idle:
        s.close()


def native(confab, backend, d):
    """The native dialect beside the document's, on one server with a cluster key."""
    import hmac
    import hashlib
    key = os.urandom(32)
    key_file = os.path.join(d, "cluster.key")
    with open(key_file, "w") as f:
        f.write(key.hex() + "\n")
    port = free_ports(2)
    server = subprocess.Popen([confab, "vote-server", "--listen", f"127.0.0.1:{port}", "--native-listen",
                               f"127.0.0.1:{port + 1}", "--key-file", key_file, "--backend", backend],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        lines = [server.stdout.readline(), server.stdout.readline()]
        check("native dialect" in lines[1], f"the native port is served beside the document's ({lines[1].strip()})")

        class Native(Client):
            def answer(self):
                while True:  # 6xx lines are pushed notices, not answers
                    l = self.line()
                    if not l.startswith("6"):
                        return l

            def notice(self, prefix):
                while True:
                    l = self.line()
                    if l.startswith(prefix):
                        return l

        a = Native(port + 1)
        hello = a.line()
        check(hello.startswith("220 ") and "challenge " in hello, f"a native greeting with a challenge ({hello[:40]})")
        challenge = hello.split("challenge ")[1]
        a.s.sendall(b"VOTE 1 x\r\n")
        check(a.answer().startswith("530 "), "a command before authenticating: 530")
        a.s.sendall(b"AUTH " + b"0" * 64 + b"\r\n")
        check(a.answer().startswith("535 "), "AUTH with a wrong answer: 535")
        mac = hmac.new(key, b"confab vote auth v1" + challenge.encode(), hashlib.sha512).digest()[:32].hex()
        a.s.sendall(f"AUTH {mac}\r\n".encode())
        r = a.answer()
        check(r.startswith("235 PIN "), f"AUTH with the HMAC of the challenge under the cluster key: 235 ({r})")
        b = Native(port + 1)
        b.line()
        b.s.sendall(b"RIDDLE Keyboard\r\n")
        check(b.answer().startswith("235 PIN "), "RIDDLE works too (the document's clients)")
        # Pipelined: five commands at once, answered in order.
        a.s.sendall(b"SETUP storage|10 GB|nights\r\nSTORE\r\nOPEN Cats or dogs?|cats|dogs\r\nVOTE 1 cats\r\nSTATS 1\r\n")
        got = [a.answer() for _ in range(5)]
        want = ["250 node info declared", "250 node info stored", "250 poll 1 open", "250 vote recorded",
                "250 poll 1 open none cats=1,dogs=0 1/2"]
        check(all(g.startswith(w) for g, w in zip(got, want)), f"five pipelined commands answered in order ({got})")
        b.s.sendall(b"RECEIVE all\r\n")
        r = [b.answer(), b.answer()]
        check(r[0].startswith("250-") and "storage|10 GB|nights" in r[0] and r[1] == "250 1 stored",
              f"RECEIVE all: a multi-line answer ({r})")
        b.s.sendall(b"VOTE 1 birds\r\n")
        r = b.answer()
        check(r.startswith("550 bad-choice:"), f"a refusal names its reason ({r})")
        b.s.sendall(b"VOTE 1 cats\r\n")
        check(b.answer() == "250 vote recorded", "the second vote recorded")
        closed = [b.notice("603 ")]
        closed.append(a.notice("603 "))
        check(all(c == "603 CLOSED 1 cats cats=2,dogs=0 2/2" for c in closed),
              f"the decision is pushed to both as a 603 notice ({closed})")
        b.s.sendall(b"x" * 1000 + b"\r\nFROB\r\n")
        r = [b.answer(), b.answer()]
        check(r[0].startswith("552 ") and r[1].startswith("500 "), f"a long line 552, an unknown command 500 ({r})")
        b.s.sendall(b"QUIT\r\n")
        r = b.answer()
        try:
            b.line(5)
            eof = False
        except EOFError:
            eof = True
        check(r == "221 bye" and eof, f"QUIT: 221 and the server closes ({r})")
        a.close()
        b.close()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def vote_cli(confab, backend, d):
    key_file = os.path.join(d, "cli.key")
    with open(key_file, "w") as f:
        f.write(os.urandom(32).hex() + "\n")
    port = free_ports(2)
    server = subprocess.Popen([confab, "vote-server", "--listen", f"127.0.0.1:{port}", "--native-listen",
                               f"127.0.0.1:{port + 1}", "--key-file", key_file, "--backend", backend],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    at = f"127.0.0.1:{port + 1}"

    def vote(*args, timeout_s=10):
        return subprocess.run([confab, "vote", "--server", at, "--timeout-s", str(timeout_s), *args],
                              capture_output=True, text=True, timeout=timeout_s + 20)
    try:
        check("serving" in server.stdout.readline(), "a fresh server for confab vote")
        waiters = [subprocess.Popen([confab, "vote", "--server", at, "--timeout-s", "20", "--wait-closed", *auth],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                   for auth in (["--key-file", key_file], ["--answer", "keyboard"])]
        for w in waiters:  # each prints the greeting, then its PIN once registered (bounded by its --timeout-s)
            seen = [w.stdout.readline(), w.stdout.readline()]
            check(seen[1].startswith("235 PIN"), f"a waiter registered ({seen[1].strip()})")
        p = vote("--key-file", key_file, "OPEN Cats or dogs?|cats|dogs", "VOTE 1 cats")
        check(p.returncode == 0 and "250 poll 1 open" in p.stdout and "250 vote recorded" in p.stdout,
              f"confab vote: OPEN and VOTE answered 250, exit 0 (rc {p.returncode}: {p.stdout.strip()[-200:]})")
        p = vote("--key-file", key_file, "VOTE 1 cats")
        check(p.returncode == 1 and "550 not-in-electorate" in p.stdout,
              f"confab vote: a latecomer's vote refused 550, exit 1 (rc {p.returncode})")
        p = vote("--key-file", key_file, "CLOSE 1")
        check(p.returncode == 0, f"confab vote: an operator's CLOSE, exit 0 (rc {p.returncode}: {p.stdout.strip()[-120:]})")
        for w, how in zip(waiters, ("key", "riddle")):
            out, err = w.communicate(timeout=30)
            check(w.returncode == 0 and "603 CLOSED 1 none cats=1,dogs=0 1/3" in out,
                  f"confab vote --wait-closed ({how}): the decision printed, exit 0 (rc {w.returncode}: {out.strip()[-160:]})")
        wrong = os.path.join(d, "wrong.key")
        with open(wrong, "w") as f:
            f.write(os.urandom(32).hex() + "\n")
        p = vote("--key-file", wrong, "STATS")
        check(p.returncode == 1 and "535" in p.stdout, f"confab vote with a wrong key: 535, exit 1 (rc {p.returncode})")
        p = vote("--key-file", key_file)
        check(p.returncode == 2 and "give a command" in p.stderr, f"confab vote with no command: exit 2 (rc {p.returncode})")
        p = vote("--key-file", os.path.join(d, "missing.key"), "STATS")
        check(p.returncode == 2 and "--key-file" in p.stderr, f"confab vote with no key file: exit 2 (rc {p.returncode})")
    finally:
        server.kill()
        server.wait()


def vote_load(confab, backend):
    port = free_ports(1)
    server = subprocess.Popen([confab, "vote-server", "--listen", f"127.0.0.1:{port}", "--backend", backend],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        check("serving" in server.stdout.readline(), "a fresh server for vote-load")
        p = subprocess.run([confab, "vote-load", "--server", f"127.0.0.1:{port}", "--clients", "2000", "--server-pid",
                            str(server.pid), "--timeout-s", "120"], capture_output=True, text=True, timeout=150)
        r = json.loads(p.stdout.strip().splitlines()[-1]) if p.stdout.strip() else {}
        check(p.returncode == 0 and r.get("registered") == 2000 and r.get("votes") == 1999 and
              r.get("broadcast_heard") == 2000 and r.get("problems") == [] and r.get("server_rss_mb", 0) > 0,
              f"vote-load: 2,000 registered, 1,999 votes, 2,000 heard the decision (rc {p.returncode}; "
              f"{r.get('votes_per_s', 0):.0f} votes/s; {r.get('problems')}; {p.stderr[-300:] if p.returncode else ''})")
    finally:
        server.kill()
        server.wait()
    p = subprocess.run([confab, "vote-load", "--server", f"127.0.0.1:{port}", "--clients", "3", "--timeout-s", "20"],
                       capture_output=True, text=True, timeout=60)
    r = json.loads(p.stdout.strip().splitlines()[-1]) if p.stdout.strip() else {}
    check(p.returncode == 1 and any("connect" in x for x in r.get("problems", [])),
          f"vote-load with no server: exit 1 naming the failure (rc {p.returncode}; {r.get('problems')})")
    for args, what in ((["--server", "127.0.0.1"], "--server"), (["--server", f"127.0.0.1:{port}", "--clients", "1"], "clients")):
        p = subprocess.run([confab, "vote-load", *args], capture_output=True, text=True, timeout=30)
        check(p.returncode == 2 and what in p.stderr, f"vote-load {' '.join(args)}: exit 2 naming {what} (rc {p.returncode})")


def main():
    confab = sys.argv[1]
    d = tempfile.mkdtemp(prefix="confab-vote-")
    port = free_ports(2)
    p = subprocess.run([confab, "vote-server", "--listen", f"127.0.0.1:{port}", "--frobnicate"], capture_output=True, text=True)
    check(p.returncode == 2 and "frobnicate" in p.stderr, f"an unknown option: exit 2 naming it (rc {p.returncode})")
    p = subprocess.run([confab, "vote-server", "--listen", "127.0.0.1"], capture_output=True, text=True)
    check(p.returncode == 2 and "--listen" in p.stderr, f"--listen without a port: exit 2 (rc {p.returncode}: {p.stderr.strip()})")
    for backend in ("uring", "epoll"):
        print(f"-- backend {backend}", flush=True)
        port = free_ports(2)
        server = subprocess.Popen([confab, "vote-server", "--listen", f"127.0.0.1:{port}", "--backend", backend], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            line = server.stdout.readline()
            check("serving 127.0.0.1" in line, f"the server says it serves once bound ({line.strip()})")
            p = subprocess.run([confab, "vote-server", "--listen", f"127.0.0.1:{port}"], capture_output=True, text=True,
                               timeout=30)
            check(p.returncode == 1 and "cannot serve" in p.stderr, f"a port in use: exit 1 (rc {p.returncode})")
            document_session(port)
            pipelined(port)
            asyncio.run(crowd(port, 1000))
            bad_input(port, server.pid)
            idle_connections(port, server.pid)
            idle_timeout(confab, backend)
            native(confab, backend, d)
            vote_cli(confab, backend, d)
            vote_load(confab, backend)
            server.send_signal(signal.SIGTERM)
            out, _ = server.communicate(timeout=30)
            check(server.returncode == 0 and "stopped" in out, f"SIGTERM: exit 0 ({server.returncode}: {out.strip()[-120:]})")
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()
    shutil.rmtree(d, ignore_errors=True)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
