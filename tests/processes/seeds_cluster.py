"""Seed clusters of real `confab seed` processes on loopback, for tests and
benchmarks: start, kill -9, pause (SIGSTOP), query, and the expected PL
digest of a set of peers (the same mix the seeds use)."""
import json
import os
import signal
import socket
import subprocess
import tempfile
import time

MASK = (1 << 64) - 1

# Peer settings for tests: short intervals (ping 1 s, 3 misses, probe
# timeout 300 ms), four gossip messages a second apart from every peer.
FAST_PEER_TOML = """[peer]
gossip_interval_ms = 1000
gossip_count = 4
ping_interval_ms = 1000
ping_misses = 3
probe_timeout_ms = 300
register_retry_ms = 500
"""

failures = []


def check(cond, what):
    """Prints one ok/FAIL line; failures are collected for the exit code."""
    print(("ok    " if cond else "FAIL  ") + what, flush=True)
    if not cond:
        failures.append(what)


def finish():
    print(f"{len(failures)} failed" if failures else "all passed")
    return 1 if failures else 0


def closes_after(ip, port, data, shutdown=True):
    """Sends `data` on a new connection and tells whether the other side
    then closed it (EOF or reset within 5 s)."""
    s = socket.create_connection((ip, int(port)), timeout=5)
    s.sendall(data)
    if shutdown:
        s.shutdown(socket.SHUT_WR)
    s.settimeout(5)
    try:
        closed = s.recv(1) == b""
    except OSError:
        closed = True
    s.close()
    return closed


def read_all(c, timeout=2):
    """Everything the other side sends on connection `c` until it closes
    (or `timeout` passes without data), as text."""
    c.settimeout(timeout)
    data = b""
    try:
        while True:
            b = c.recv(4096)
            if not b:
                break
            data += b
    except OSError:
        pass
    return data.decode(errors="replace")


def http_request(ip, port, request, timeout=10):
    """Sends one HTTP request (bytes) and returns the whole answer as text."""
    with socket.create_connection((ip, port), timeout=timeout) as s:
        s.sendall(request)
        return read_all(s, timeout)


def stop_processes(procs):
    """SIGTERM (and SIGCONT, for paused ones) every process still running,
    then wait; kill any that does not drain within 10 s."""
    procs = [p for p in procs if p is not None]
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGCONT)
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def scrape(address):
    """GET /metrics at IP:PORT: {name: value} of the Prometheus text, or {}."""
    import urllib.request
    try:
        with urllib.request.urlopen(f"http://{address}/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return {}
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def free_ports(n):
    """n consecutive ports below the ephemeral range, free a moment ago."""
    import random
    rng = random.Random(os.getpid())
    for _ in range(1000):
        base = rng.randrange(20000, 32000 - n)
        ok = True
        for p in range(base, base + n):
            s = socket.socket()
            try:
                s.bind(("0.0.0.0", p))
            except OSError:
                ok = False
            s.close()
        if ok:
            return base
    raise RuntimeError("no free ports")


def member_digest(node_id):
    z = (node_id + 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def endpoint_id(text):
    ip, port = text.strip().rsplit(":", 1)
    a, b, c, d = (int(x) for x in ip.split("."))
    return (1 << 63) | (((a << 24) | (b << 16) | (c << 8) | d) << 16) | int(port)


def digest_of(endpoints):
    return sum(member_digest(endpoint_id(e)) for e in endpoints) & MASK


class Cluster:
    def __init__(self, confab, n, base_port, extra_toml="", workdir=None, legacy_base=None):
        self.confab = confab
        self.legacy_base = legacy_base
        self.n = n
        self.dir = workdir or tempfile.mkdtemp(prefix="confab-seeds-")
        self.ports = [base_port + i for i in range(n)]
        self.seeds_file = os.path.join(self.dir, "seeds.txt")
        with open(self.seeds_file, "w") as f:
            f.write("# seeds of this test\n")
            for p in self.ports:
                f.write(f"127.0.0.1:{p}\n")
        self.config = os.path.join(self.dir, "seed.toml")
        with open(self.config, "w") as f:
            f.write('seeds_file = "seeds.txt"\ndata_dir = "data"\n[seed]\n'
                    "heartbeat_ms = 50\nelection_timeout_min_ms = 300\nelection_timeout_max_ms = 600\n"
                    + extra_toml)
        self.procs = [None] * n
        self.extra_args = {}  # seed index -> more arguments for `confab seed`
        self.serving_before = {}  # seed index -> "serving" lines in its stderr before its latest start

    def start(self, i):
        path = os.path.join(self.dir, f"stderr-{self.ports[i]}.txt")
        if os.path.exists(path):
            with open(path, errors="replace") as f:
                self.serving_before[i] = f.read().count(" serving (")
        err = open(path, "a")
        args = [self.confab, "seed", "--config", self.config, "--listen", f"127.0.0.1:{self.ports[i]}"]
        if self.legacy_base:
            args += ["--legacy-port", str(self.legacy_base + i)]
        args += self.extra_args.get(i, [])
        self.procs[i] = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err)

    def start_all(self):
        for i in range(self.n):
            self.start(i)

    def wait_serving(self, i, timeout_s=30):
        """True once seed i's latest start has said "serving", which it does
        only after its port is bound. (The port's LISTEN state is no sign: a
        killed io_uring process's listener can linger while the kernel tears
        its ring down.)"""
        path = os.path.join(self.dir, f"stderr-{self.ports[i]}.txt")
        until = time.monotonic() + timeout_s
        while time.monotonic() < until:
            with open(path, errors="replace") as f:
                if f.read().count(" serving (") > self.serving_before.get(i, 0):
                    return True
            if self.procs[i] is not None and self.procs[i].poll() is not None:
                return False
            time.sleep(0.05)
        return False

    def kill9(self, i):
        self.procs[i].send_signal(signal.SIGKILL)
        self.procs[i].wait()
        self.procs[i] = None

    def pause(self, i):
        self.procs[i].send_signal(signal.SIGSTOP)

    def resume(self, i):
        self.procs[i].send_signal(signal.SIGCONT)

    def stop_all(self):
        stop_processes(self.procs)
        self.procs = [None] * self.n

    def index_of(self, endpoint):
        port = int(endpoint.rsplit(":", 1)[1])
        return self.ports.index(port)

    def query(self, seeds_file=None, timeout_ms=1000):
        out = subprocess.run([self.confab, "seed-query", "--seeds", seeds_file or self.seeds_file,
                              "--timeout-ms", str(timeout_ms)],
                             capture_output=True, text=True, timeout=30)
        lines = [json.loads(l) for l in out.stdout.splitlines() if l.startswith("{")]
        return lines[:-1], lines[-1]

    def leader(self):
        """The leader a majority of live seeds name, or None."""
        seeds, _ = self.query(timeout_ms=300)
        votes = {}
        for s in seeds:
            if s["answered"] and s["leader"]:
                votes[s["leader"]] = votes.get(s["leader"], 0) + 1
        for l, v in votes.items():
            if v >= self.n // 2 + 1:
                return l
        return None

    def wait_leader(self, timeout_s=15, not_this=None):
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout_s:
            l = self.leader()
            if l and l != not_this:
                return l, time.monotonic() - t0
            time.sleep(0.02)
        return None, time.monotonic() - t0

    def wait_agree(self, timeout_s=15):
        t0 = time.monotonic()
        last = None
        while time.monotonic() - t0 < timeout_s:
            seeds, summary = self.query()
            last = seeds
            if summary["all_answered"] and summary["agree"]:
                return seeds
            time.sleep(0.1)
        return last

    def events(self, i):
        path = os.path.join(self.dir, "data", f"seed-127.0.0.1-{self.ports[i]}.events.txt")
        with open(path) as f:
            return f.read()

    def load(self, peers, first_peer=0, window=128, retry_ms=500, timeout_ms=60000, seeds_file=None, acked_out=None,
             keep=True):
        # keep: the synthetic peers stay in the PL (these tests check the
        # registrations themselves); keep=False lets them leave at the end.
        args = [self.confab, "seed-load", "--seeds", seeds_file or self.seeds_file, "--peers", str(peers),
                "--first-peer", str(first_peer), "--window", str(window), "--retry-ms", str(retry_ms),
                "--timeout-ms", str(timeout_ms)] + (["--keep"] if keep else [])
        if acked_out:
            args += ["--acked-out", acked_out]
        return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def gossip_coverage(data_dir, peers):
    """From the peers' JSON event logs in data_dir: (messages seen, messages
    that reached all `peers` peers exactly once, the sender included)."""
    import glob
    got = {}
    for path in glob.glob(os.path.join(data_dir, "peer-*.events.jsonl")):
        for line in open(path):
            e = json.loads(line)
            if e["event"] == "gossip_received":
                got.setdefault((e["about"], e["seq"]), []).append(e["peer"])
            if e["event"] == "gossip_sent":
                got.setdefault((e["peer"], e["seq"]), []).append(e["peer"])
    complete = sum(1 for v in got.values() if len(v) == peers and len(set(v)) == peers)
    return len(got), complete

