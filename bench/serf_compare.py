#!/usr/bin/env python3
"""Gossip membership side by side: confab peers (3 seeds + N `confab peer`
processes) against N Serf agents (Debian `serf`, SWIM with Lifeguard), on
loopback, one process per node, the same schedule for both:

1. start the N nodes and wait until every member knows every other one;
2. idle window (10 s): CPU, RSS, loopback packets and bytes per node;
3. events window: 20 user events, 2 per second, each from a random live
   node (`serf event -coalesce=false` against `POST /gossip` on a peer's
   metrics port); per event, the time from the request to the last live
   member receiving it; CPU and traffic over the window;
4. crash: kill -9 of K = N/20 (at least 1) random nodes, 0.2 s apart; per
   (dead node, member), the time from the kill to that member's removal.
   The kernel closes a killed process's TCP connections, which confab's
   neighbours take as a hint (a probe follows at once); Serf's UDP sees
   nothing until its probe times out;
5. hang: K more nodes stopped (SIGSTOP) for good, as a powered-off host or
   a cut link looks: nothing is closed, only timeouts can tell; removal
   times again;
6. 10% of the live nodes paused (SIGSTOP) for 5 s while K more are killed;
   removal times again; any member removing a node that was neither killed
   nor hung (paused or not) is a false removal, counted over the whole run.

"Removal at a member": Serf's `EventMemberFailed` in that agent's log (the
agent's log lines are time-stamped as the harness reads them); confab's
membership lives at the seeds (peers hold PL samples from them), so a
removal is each seed's `REMOVED` line (ms stamps) and the members are the
3 seeds. The per-node traffic is the loopback device's packet and byte
counters (/proc/net/dev) over the window divided by N, so both systems are
counted by the same meter (confab's three seeds are included).

Serf's timings come from its profiles only (the agent takes no probe
interval): `lan` (its default: probe 1 s, timeout 500 ms, suspicion
multiplier 4) and `local` (probe 1 s, timeout 200 ms, multiplier 3), the
closer one to confab's settings here (ping 1 s, probe timeout 300 ms, 3
misses). Runs are interleaved (confab, serf-lan, serf-local per run).
`confab-patient` is confab with 6 misses instead of 3: a detection time
near Serf's, to show what the pause phase costs each setting.

Usage: bench/serf_compare.py --confab build-release/tools/confab
           [--sizes 100,500] [--runs 5] [--out bench/results]
Every process is stopped at the end of each run; each phase is bounded."""
import argparse
import datetime
import glob
import json
import os
import random
import selectors
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests", "processes"))
import svgplot  # noqa: E402
from svgplot import summarize  # noqa: E402
from seeds_cluster import FAST_PEER_TOML, Cluster, http_request, stop_processes  # noqa: E402

CLK = os.sysconf("SC_CLK_TCK")


def say(*a):
    print(*a, file=sys.stderr, flush=True)


def lo_counters():
    for line in open("/proc/net/dev"):
        if line.strip().startswith("lo:"):
            f = line.split(":", 1)[1].split()
            return int(f[1]), int(f[0])  # rx packets, rx bytes (each loopback packet counted once)
    return 0, 0


def cpu_s(pid):
    try:
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / CLK
    except OSError:
        return None


def rss_mb(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def q(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))] if xs else None


class Nodes:
    """One process per node: self.procs[i]."""

    def pid(self, i):
        return self.procs[i].pid

    def kill(self, i):
        self.procs[i].send_signal(signal.SIGKILL)
        self.procs[i].wait()

    def signal(self, i, s):
        self.procs[i].send_signal(s)

    def stop_nodes(self):
        stop_processes([p for p in self.procs if p is not None])


class Serf(Nodes):
    """N Serf agents; a reader thread stamps every log line as it arrives."""

    def __init__(self, n, profile, workdir):
        self.n, self.profile, self.dir = n, profile, workdir
        # Serf's ports are fixed (7946, 7373): a block of 127/8 per harness.
        net = 100 + os.getpid() % 100
        self.ip = [f"127.{net}.{i // 200}.{10 + i % 200}" for i in range(n)]
        self.procs = [None] * n
        self.joins = [set() for _ in range(n)]
        self.failed = {}  # (dead name index, observer index) -> time
        self.user = {}  # (event name, observer index) -> time
        self.sel = selectors.DefaultSelector()
        self.lock = threading.Lock()
        self.done = False
        self.reader = threading.Thread(target=self._read, daemon=True)

    def start(self):
        self.reader.start()
        for i in range(self.n):
            # -retry-join: a plain -join that times out on a loaded machine
            # makes the agent exit.
            joins = [] if i == 0 else ["-retry-interval=1s", f"-retry-join={self.ip[0]}:7946",
                                       f"-retry-join={self.ip[random.randrange(i)]}:7946"]
            p = subprocess.Popen(["serf", "agent", f"-node=n{i}", f"-bind={self.ip[i]}:7946",
                                  f"-rpc-addr={self.ip[i]}:7373", f"-profile={self.profile}", "-log-level=info"] + joins,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            os.set_blocking(p.stdout.fileno(), False)
            with self.lock:
                self.sel.register(p.stdout.fileno(), selectors.EVENT_READ, [i, b""])
            self.procs[i] = p
            time.sleep(0.01)

    def _read(self):
        while not self.done:
            if not self.sel.get_map():  # no agent started yet
                time.sleep(0.05)
                continue
            for key, _ in self.sel.select(timeout=0.2):
                now = time.time()
                try:
                    data = os.read(key.fd, 65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    with self.lock:
                        self.sel.unregister(key.fd)
                    continue
                st = key.data
                buf = st[1] + data
                *lines, st[1] = buf.split(b"\n")
                for line in lines:
                    self._line(st[0], line.decode(errors="replace"), now)

    def _line(self, i, line, now):
        if "serf: EventMemberJoin: n" in line:
            self.joins[i].add(int(line.split("EventMemberJoin: n")[1].split()[0]))
        elif "serf: EventMemberFailed: n" in line:
            who = int(line.split("EventMemberFailed: n")[1].split()[0])
            self.failed.setdefault((who, i), now)
        elif "Received event: user-event: " in line:
            self.user.setdefault((line.split("user-event: ")[1].strip(), i), now)

    def converged(self, live):
        return all(len(self.joins[i] | {i}) >= self.n for i in live)

    def members_alive(self, i):
        """What `serf members` says at agent i (a check on the log-based view)."""
        try:
            out = subprocess.run(["serf", "members", f"-rpc-addr={self.ip[i]}:7373", "-status=alive"],
                                 capture_output=True, text=True, timeout=10).stdout
        except subprocess.TimeoutExpired:
            return None
        return sum(1 for line in out.splitlines() if line.strip())

    def send_event(self, origin, k):
        """The time the request was made, or None when the agent did not take it."""
        t = time.time()
        try:
            p = subprocess.run(["serf", "event", f"-rpc-addr={self.ip[origin]}:7373", "-coalesce=false", f"ev{k}", "x"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=5)
        except subprocess.TimeoutExpired:
            return None
        return t if p.returncode == 0 else None

    def arrivals(self, k):
        return {i: t for (name, i), t in self.user.items() if name == f"ev{k}"}

    def removals(self):
        """(dead, observer) -> time for every removal seen."""
        return dict(self.failed)

    def observers(self, live):
        return live

    def stop(self):
        self.stop_nodes()
        self.done = True
        self.reader.join(timeout=5)


class Confab(Nodes):
    """3 confab seeds and N confab peers (gossip only on request)."""

    def __init__(self, n, confab, workdir, base, misses=3):
        self.n, self.confab, self.dir, self.base = n, confab, workdir, base
        self.ip = [f"127.3.{i // 200}.{10 + i % 200}" for i in range(n)]
        self.name = [f"{ip}:{base + 5}" for ip in self.ip]
        self.index = {nm: i for i, nm in enumerate(self.name)}
        self.cluster = Cluster(confab, 3, base, extra_toml="", workdir=workdir)
        with open(self.cluster.config, "a") as f:
            f.write(FAST_PEER_TOML.replace("gossip_count = 4", "gossip_count = 0")
                    .replace("ping_misses = 3", f"ping_misses = {misses}"))
        self.procs = [None] * n
        self.seq = {}

    def start(self):
        self.cluster.start_all()
        self.cluster.wait_leader()
        for i in range(self.n):
            err = open(os.path.join(self.dir, f"peer-stderr-{i}.txt"), "w")
            self.procs[i] = subprocess.Popen([self.confab, "peer", "--config", self.cluster.config, "--listen",
                                              self.name[i], "--metrics", f"{self.ip[i]}:{self.base + 6}"],
                                             stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL)
            err.close()
            time.sleep(0.01)

    def converged(self, live):
        seeds, summary = self.cluster.query()
        return summary["all_answered"] and summary["agree"] and all(s["pl_size"] == len(live) for s in seeds)

    def seed_pids(self):
        return [p.pid for p in self.cluster.procs if p is not None]

    def send_event(self, origin, k):
        t = time.time()
        try:
            text = http_request(self.ip[origin], self.base + 6, b"POST /gossip HTTP/1.1\r\nHost: x\r\n\r\n", 5)
        except OSError:
            return None
        if " 202 " not in text.split("\r\n")[0]:
            return None
        self.seq[k] = (self.name[origin], int(text.split("gossip ")[1].split()[0]))
        return t

    def _jsonl(self):
        for path in glob.glob(os.path.join(self.dir, "data", "peer-*.events.jsonl")):
            with open(path) as f:
                for line in f:
                    try:
                        yield json.loads(line)
                    except ValueError:
                        continue

    def arrivals(self, k):
        if k not in self.seq:
            return {}
        origin, seq = self.seq[k]
        out = {}
        for e in self._jsonl():
            if e["event"] == "gossip_received" and e["about"] == origin and e["seq"] == seq:
                out[self.index[e["peer"]]] = stamp(e["ts"])
            elif e["event"] == "gossip_sent" and e["peer"] == origin and e["seq"] == seq:
                out[self.index[origin]] = stamp(e["ts"])
        return out

    def removals(self):
        out = {}
        for s in range(3):
            try:
                text = self.cluster.events(s)
            except OSError:
                continue
            for line in text.splitlines():
                if "REMOVED " in line:
                    who = line.split("REMOVED ")[1].split()[0]
                    if who in self.index:
                        out.setdefault((self.index[who], s), stamp(line.split()[0]))
        return out

    def observers(self, live):
        return [0, 1, 2]

    def stop(self):
        self.stop_nodes()
        self.cluster.stop_all()


def stamp(text):
    return datetime.datetime.strptime(text.rstrip("Z"), "%Y-%m-%dT%H:%M:%S.%f").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def window(sys_, pids, seconds, during=None):
    c0 = {p: cpu_s(p) for p in pids}
    l0 = lo_counters()
    t0 = time.monotonic()
    if during:
        during()
    rest = seconds - (time.monotonic() - t0)
    if rest > 0:
        time.sleep(rest)
    el = time.monotonic() - t0
    l1 = lo_counters()
    c1 = {p: cpu_s(p) for p in pids}
    used = [c1[p] - c0[p] for p in pids if c0[p] is not None and c1[p] is not None]
    return {"cpu_ms_per_node_s": 1000 * sum(used) / len(used) / el if used else None,
            "packets_per_node_s": (l1[0] - l0[0]) / sys_.n / el,
            "bytes_per_node_s": (l1[1] - l0[1]) / sys_.n / el, "seconds": el}


def removal_phase(sys_, victims, killed_at, live, limit_s):
    """Waits until every observer removed every victim (or limit_s); the
    per-(victim, observer) latencies and how many never came."""
    until = time.monotonic() + limit_s
    obs = sys_.observers(live)
    while time.monotonic() < until:
        r = sys_.removals()
        if all((v, o) in r for v in victims for o in obs):
            break
        time.sleep(0.25)
    r = sys_.removals()
    lat = [r[(v, o)] - killed_at[v] for v in victims for o in obs if (v, o) in r]
    missing = sum(1 for v in victims for o in obs if (v, o) not in r)
    return lat, missing


def one_run(kind, n, a, run, base):
    rnd = random.Random(1000 * run + n)
    work = tempfile.mkdtemp(prefix=f"confab-serf-{kind}-")
    if kind.startswith("confab"):
        sys_ = Confab(n, a.confab, work, base, misses=6 if kind == "confab-patient" else 3)
    else:
        sys_ = Serf(n, kind.split("-")[1], work)
    row = {"system": kind, "n": n, "run": run}
    try:
        t0 = time.monotonic()
        sys_.start()
        live = list(range(n))
        while time.monotonic() - t0 < a.converge_s and not sys_.converged(live):
            time.sleep(1)
        row["converged"] = sys_.converged(live)
        row["converge_s"] = time.monotonic() - t0
        row["exited"] = sum(1 for i in live if sys_.procs[i].poll() is not None)
        if not row["converged"] and isinstance(sys_, Serf):
            row["members_alive_at_3"] = [sys_.members_alive(i) for i in rnd.sample(live, 3)]
            row["agents_short"] = sum(1 for i in live if len(sys_.joins[i] | {i}) < n)
        say(f"  {kind} n={n}: {'converged' if row['converged'] else 'NOT converged'} in {row['converge_s']:.1f} s"
            + (f", {row['exited']} processes exited" if row["exited"] else "")
            + (f" ({row['agents_short']} agents short; `serf members` alive at 3: {row['members_alive_at_3']})"
               if "agents_short" in row else ""))
        time.sleep(3)
        pids = [sys_.pid(i) for i in live]
        row["idle"] = window(sys_, pids, a.idle_s)
        row["rss_mb_per_node"] = statistics.mean(x for x in (rss_mb(p) for p in pids) if x is not None)
        if kind.startswith("confab"):
            sp = sys_.seed_pids()
            row["seed_rss_mb"] = statistics.mean(x for x in (rss_mb(p) for p in sp) if x is not None)
        sent = {}
        row["event_send_failed"] = 0

        def events():
            for k in range(a.events):
                at = time.monotonic() + 1.0 / a.event_rate
                t = sys_.send_event(rnd.choice(live), k)
                if t is None:
                    row["event_send_failed"] += 1
                else:
                    sent[k] = t
                time.sleep(max(0.0, at - time.monotonic()))

        row["events"] = window(sys_, pids, a.events / a.event_rate + 2, events)
        time.sleep(2)
        reach, missed = [], 0
        for k, t in sent.items():
            arr = sys_.arrivals(k)
            if len(arr) >= len(live):
                reach.append(max(arr.values()) - t)
            else:
                missed += len(live) - len(arr)
        row["event_reach_s"] = reach
        row["event_missed_deliveries"] = missed
        say(f"  {kind} n={n}: idle {row['idle']['cpu_ms_per_node_s']:.1f} CPU ms/node/s, "
            f"{row['idle']['packets_per_node_s']:.1f} pkt/node/s; events reach p50 "
            f"{(q(reach, 0.5) or 0) * 1000:.0f} ms, missed {missed}, requests not taken {row['event_send_failed']}")
        # Kills, then kills during a pause.
        k = max(1, n // 20)
        victims = rnd.sample(live, k)
        killed_at = {}
        for v in victims:
            killed_at[v] = time.time()
            sys_.kill(v)
            time.sleep(0.2)
        live = [i for i in live if i not in victims]
        row["kill_removal_s"], row["kill_missing"] = removal_phase(sys_, victims, killed_at, live, a.removal_s)
        hung = rnd.sample(live, k)
        for v in hung:
            killed_at[v] = time.time()
            sys_.signal(v, signal.SIGSTOP)
            time.sleep(0.2)
        live = [i for i in live if i not in hung]
        row["hang_removal_s"], row["hang_missing"] = removal_phase(sys_, hung, killed_at, live, a.removal_s)
        paused = rnd.sample(live, max(1, len(live) // 10))
        rest = [i for i in live if i not in paused]
        victims2 = rnd.sample(rest, k)
        for p in paused:
            sys_.signal(p, signal.SIGSTOP)
        t_pause = time.monotonic()
        for v in victims2:
            killed_at[v] = time.time()
            sys_.kill(v)
            time.sleep(0.2)
        time.sleep(max(0.0, a.pause_s - (time.monotonic() - t_pause)))
        for p in paused:
            sys_.signal(p, signal.SIGCONT)
        live = [i for i in live if i not in victims2]
        row["pause_removal_s"], row["pause_missing"] = removal_phase(sys_, victims2, killed_at, live, a.removal_s)
        time.sleep(max(0.0, a.pause_s + a.after_pause_s - (time.monotonic() - t_pause)))
        if kind.startswith("confab"):
            # Whether the paused peers that were removed came back (they re-register).
            seeds, _ = sys_.cluster.query()
            row["listed_at_end"] = min((x["pl_size"] for x in seeds if x.get("answered")), default=None)
            row["live_at_end"] = len(live)
        dead = set(victims) | set(victims2) | set(hung)
        false = {(v, o) for (v, o) in sys_.removals() if v not in dead}
        row["false_removals"] = len(false)
        row["false_removed_nodes"] = len({v for v, _ in false})
        row["false_removed_paused"] = len({v for v, _ in false if v in paused})
        say(f"  {kind} n={n}: removal p50 {(q(row['kill_removal_s'], 0.5) or 0):.2f} s max "
            f"{max(row['kill_removal_s'], default=0):.2f} s missing {row['kill_missing']}; hang p50 "
            f"{(q(row['hang_removal_s'], 0.5) or 0):.2f} s max {max(row['hang_removal_s'], default=0):.2f} s "
            f"missing {row['hang_missing']}; with pauses p50 "
            f"{(q(row['pause_removal_s'], 0.5) or 0):.2f} s missing {row['pause_missing']}; false removals "
            f"{row['false_removals']} ({row['false_removed_nodes']} nodes, {row['false_removed_paused']} paused)")
    finally:
        sys_.stop()
        shutil.rmtree(work, ignore_errors=True)
    return row


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--confab", required=True)
    ap.add_argument("--sizes", default="100,500")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--systems", default="confab,serf-lan,serf-local")
    ap.add_argument("--events", type=int, default=20)
    ap.add_argument("--event-rate", type=float, default=2.0)
    ap.add_argument("--idle-s", type=float, default=10)
    ap.add_argument("--converge-s", type=float, default=90)
    ap.add_argument("--removal-s", type=float, default=60)
    ap.add_argument("--pause-s", type=float, default=5)
    ap.add_argument("--after-pause-s", type=float, default=10)
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--name", default="serf_compare")
    a = ap.parse_args()
    if shutil.which("serf") is None:
        say("serf_compare: the `serf` command is not installed (apt-get install serf)")
        return 2
    try:
        sizes = [int(x) for x in a.sizes.split(",")]
        systems = a.systems.split(",")
    except ValueError:
        say(f"serf_compare: --sizes takes numbers separated by commas, not {a.sizes!r}")
        return 2
    if any(s not in ("confab", "confab-patient", "serf-lan", "serf-local") for s in systems) or any(n < 5 or n > 1000 for n in sizes):
        say("serf_compare: --systems from confab, confab-patient, serf-lan, serf-local; --sizes from 5 to 1000")
        return 2
    if min(a.runs, a.events, a.event_rate, a.idle_s, a.pause_s) <= 0 or a.after_pause_s < 0:
        say("serf_compare: --runs, --events, --event-rate, --idle-s and --pause-s must be positive")
        return 2
    os.makedirs(a.out, exist_ok=True)
    rows = []
    base = 24000 + (os.getpid() % 50) * 20
    for n in sizes:
        for run in range(a.runs):
            for kind in systems:
                say(f"n={n} run {run + 1}/{a.runs} {kind}")
                rows.append(one_run(kind, n, a, run, base))
                with open(os.path.join(a.out, a.name + ".json"), "w") as f:  # so far, in case the run is cut short
                    json.dump({"settings": vars(a), "runs": rows}, f, indent=1)
                base += 10 if base < 26000 else -1900
    summary = {}
    for n in sizes:
        for kind in systems:
            rs = [r for r in rows if r["n"] == n and r["system"] == kind]
            s = {}
            for key in ("kill_removal_s", "hang_removal_s", "pause_removal_s", "event_reach_s"):
                for name, p in (("p50", 0.5), ("p99", 0.99), ("max", 1.0)):
                    s[f"{key}_{name}"] = summarize([q(r[key], p) for r in rs])
            for key in ("kill_missing", "hang_missing", "pause_missing", "event_send_failed", "false_removals", "false_removed_nodes", "false_removed_paused",
                        "event_missed_deliveries", "rss_mb_per_node", "converge_s"):
                s[key] = summarize([r.get(key) for r in rs])
            for w in ("idle", "events"):
                for key in ("cpu_ms_per_node_s", "packets_per_node_s", "bytes_per_node_s"):
                    s[f"{w}_{key}"] = summarize([r[w][key] for r in rs])
            if kind.startswith("confab"):
                s["seed_rss_mb"] = summarize([r.get("seed_rss_mb") for r in rs])
                # Live peers missing from the seeds' PL 10 s after the pause.
                s["live_unlisted_at_end"] = summarize([r["live_at_end"] - r["listed_at_end"] for r in rs
                                                       if r.get("listed_at_end") is not None])
            summary[f"{kind}@{n}"] = s
    with open(os.path.join(a.out, a.name + ".json"), "w") as f:
        json.dump({"settings": vars(a), "summary": summary, "runs": rows}, f, indent=1)
    groups = [f"{k}@{n}" for n in sizes for k in systems]
    svgplot.bars(os.path.join(a.out, a.name + "_removal.svg"),
                 "kill -9 to removal at every member, s (median of runs, min-max)", groups,
                 ["crash p50", "crash p99", "hang p50", "hang p99"],
                 lambda g, s: summary[g][{"crash p50": "kill_removal_s_p50", "crash p99": "kill_removal_s_p99",
                                          "hang p50": "hang_removal_s_p50",
                                          "hang p99": "hang_removal_s_p99"}[s]] or None)
    svgplot.bars(os.path.join(a.out, a.name + "_cost.svg"),
                 "per node: CPU ms per second, packets per second (idle / 2 events per s)", groups,
                 ["CPU ms/s idle", "CPU ms/s events", "pkt/s idle", "pkt/s events"],
                 lambda g, s: summary[g][{"CPU ms/s idle": "idle_cpu_ms_per_node_s",
                                          "CPU ms/s events": "events_cpu_ms_per_node_s",
                                          "pkt/s idle": "idle_packets_per_node_s",
                                          "pkt/s events": "events_packets_per_node_s"}[s]] or None)
    f = lambda s, m=1: f"{s['median'] * m:.4g} ({s['min'] * m:.4g}–{s['max'] * m:.4g})" if s else "—"
    print("| system@N | crash: removal p50 s | p99 s | max s | never removed | hang: removal p50 / p99 / max s | "
          "never removed | with 10% paused p50 / max s | false removals | "
          "event reach p50 / max ms (requests not taken) | idle CPU ms/node/s | events CPU ms/node/s | idle pkt, B /node/s | "
          "events pkt, B /node/s | RSS MB/node |")
    print("|" + "---|" * 15)
    for g in groups:
        s = summary[g]
        print(f"| {g} | {f(s['kill_removal_s_p50'])} | {f(s['kill_removal_s_p99'])} | {f(s['kill_removal_s_max'])} | "
              f"{f(s['kill_missing'])} | {f(s['hang_removal_s_p50'])} / {f(s['hang_removal_s_p99'])} / "
              f"{f(s['hang_removal_s_max'])} | {f(s['hang_missing'])} | {f(s['pause_removal_s_p50'])} / {f(s['pause_removal_s_max'])} | "
              f"{f(s['false_removals'])} | {f(s['event_reach_s_p50'], 1000)} / {f(s['event_reach_s_max'], 1000)} "
              f"({f(s['event_send_failed'])}) | "
              f"{f(s['idle_cpu_ms_per_node_s'])} | {f(s['events_cpu_ms_per_node_s'])} | "
              f"{f(s['idle_packets_per_node_s'])}, {f(s['idle_bytes_per_node_s'])} | "
              f"{f(s['events_packets_per_node_s'])}, {f(s['events_bytes_per_node_s'])} | {f(s['rss_mb_per_node'])} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
