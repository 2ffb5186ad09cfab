#!/usr/bin/env python3
"""A confab cluster launched through Slurm, for real, on this one machine.

munged, slurmctld and three slurmd (nodes cn1..cn3, each with its own port,
spool directory and NodeAddr 127.3.0.11..13) run from a temporary folder;
nothing of the machine's own Slurm or munge is touched. Then the batch
script users submit (tools/slurm/confab.sbatch) runs as `sbatch -N 3`:
- three seeds (`--ordinal auto` from SLURM_PROCID, the seed list from
  SLURM_JOB_NODELIST) and 10 peers on each node register: 30 alive in the PL;
- each seed took the entry of its own node;
- /metrics of a seed and a peer parse;
- every gossip reaches every peer exactly once (the peers' JSON logs);
- kill -9 of a peer: removed from every seed's PL, nobody else; the task
  restarts it and it is back;
- `scancel --batch --signal=TERM`: the peers leave through the seeds, then
  the seeds stop; the job ends COMPLETED with exit 0 and no confab process
  of the job is left;
- a bad setting (CONFAB_PORT=x) fails the job with exit 2 naming it.
When slurmctld, slurmd, sbatch or munged is missing (scripts/setup.sh
installs them), the test says so and exits 77 (skipped), never passed.

Usage: slurm_test.py PATH/TO/confab PATH/TO/confab.sbatch"""
import glob
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
from seeds_cluster import FAST_PEER_TOML, check, failures, finish, free_ports, gossip_coverage, scrape  # noqa: E402

NODES = ["cn1", "cn2", "cn3"]
ADDRS = ["127.3.0.11", "127.3.0.12", "127.3.0.13"]
PEERS_PER_NODE = 10


class SlurmCluster:
    """munged, slurmctld and one slurmd per node, all in folder `d`."""

    def __init__(self, d):
        self.d = d
        self.procs = []
        ports = free_ports(1 + len(NODES))
        self.ctld_port = ports
        self.env = dict(os.environ, SLURM_CONF=os.path.join(d, "slurm.conf"))
        key = os.path.join(d, "munge.key")
        with open(key, "wb") as f:
            f.write(os.urandom(1024))
        os.chmod(key, 0o600)
        self.sock = os.path.join(d, "munge.sock")
        host = socket.gethostname().split(".")[0]
        nodes = "\n".join(
            f"NodeName={n} NodeHostname={host} NodeAddr={a} Port={ports + 1 + i} CPUs=2 State=UNKNOWN"
            for i, (n, a) in enumerate(zip(NODES, ADDRS)))
        with open(self.env["SLURM_CONF"], "w") as f:
            f.write(f"""ClusterName=confabtest
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ports}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={self.sock}
CredType=cred/munge
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool/%n
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd-%n.pid
SlurmctldLogFile={d}/slurmctld.log
SlurmdLogFile={d}/slurmd-%n.log
ProctrackType=proctrack/pgid
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SlurmdTimeout=60
KillWait=10
{nodes}
PartitionName=confab Nodes={",".join(NODES)} Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:20
""")
        os.makedirs(os.path.join(d, "state"))
        for n in NODES:
            os.makedirs(os.path.join(d, "spool", n))

    def start(self):
        d = self.d
        self.procs.append(subprocess.Popen(
            ["munged", "-F", "-f", f"--socket={self.sock}", f"--key-file={d}/munge.key", f"--pid-file={d}/munged.pid",
             f"--log-file={d}/munged.log", f"--seed-file={d}/munged.seed"],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(d, "munged.err"), "w")))
        until = time.monotonic() + 10
        while not os.path.exists(self.sock) and time.monotonic() < until:
            time.sleep(0.05)
        if not os.path.exists(self.sock):
            return "munged did not make its socket: " + open(os.path.join(d, "munged.err")).read()[-400:]
        conf = self.env["SLURM_CONF"]
        self.procs.append(subprocess.Popen(["slurmctld", "-D", "-i", "-f", conf], env=self.env,
                                           stdout=subprocess.DEVNULL, stderr=open(os.path.join(d, "slurmctld.err"), "w")))
        for n in NODES:
            self.procs.append(subprocess.Popen(["slurmd", "-D", "-N", n, "-f", conf], env=self.env,
                                               stdout=subprocess.DEVNULL, stderr=open(os.path.join(d, f"slurmd-{n}.err"), "w")))
        until = time.monotonic() + 60
        while time.monotonic() < until:
            p = self.run(["sinfo", "-h", "-N", "-o", "%N %t"])
            states = dict(l.split() for l in p.stdout.splitlines() if len(l.split()) == 2)
            if len(states) == 3 and all(s == "idle" for s in states.values()):
                return None
            if any(pr.poll() is not None for pr in self.procs):
                break
            time.sleep(0.3)
        return f"the Slurm nodes did not turn idle: {self.run(['sinfo', '-N']).stdout.strip()}; " \
               f"{open(os.path.join(d, 'slurmctld.log')).read()[-600:] if os.path.exists(os.path.join(d, 'slurmctld.log')) else ''}"

    def run(self, argv, **kw):
        return subprocess.run(argv, env=kw.pop("env", self.env), capture_output=True, text=True, timeout=60, **kw)

    def job_state(self, job):
        """(state, exit code) as slurmctld knows them; ("", "") once forgotten."""
        p = self.run(["scontrol", "show", "job", "-o", job])
        fields = dict(kv.split("=", 1) for kv in p.stdout.split() if "=" in kv)
        return fields.get("JobState", ""), fields.get("ExitCode", "")

    def wait_job(self, job, within):
        until = time.monotonic() + within
        while time.monotonic() < until:
            state, code = self.job_state(job)
            if state and state not in ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING"):
                return state, code
            time.sleep(0.3)
        return self.job_state(job)

    def stop(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in reversed(self.procs):
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def pls(confab, seeds_file):
    p = subprocess.run([confab, "seed-query", "--seeds", seeds_file, "--full", "--timeout-ms", "2000"],
                       capture_output=True, text=True, timeout=30)
    lines = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
    return [set(l.get("pl", [])) for l in lines if "seed" in l and l.get("answered", True)]


def confab_pids(pattern):
    p = subprocess.run(["pgrep", "-f", "--", pattern], capture_output=True, text=True)
    return [int(x) for x in p.stdout.split()]


def cluster_job(confab, sbatch, slurm, d):
    port = free_ports(2 * (PEERS_PER_NODE + 1))
    mport = port + PEERS_PER_NODE + 1
    settings = os.path.join(d, "node.toml")
    with open(settings, "w") as f:
        f.write("\n" + FAST_PEER_TOML)
    run = os.path.join(d, "run")
    env = dict(slurm.env, CONFAB=confab, CONFAB_PORT=str(port), CONFAB_METRICS_PORT=str(mport),
               CONFAB_PEERS_PER_NODE=str(PEERS_PER_NODE), CONFAB_RUN_DIR=run, CONFAB_DURATION="170",
               CONFAB_RESTART_DELAY="6")
    p = slurm.run(["sbatch", "--parsable", "-N", "3", "--time=5", "-o", os.path.join(d, "job.out"), "--chdir", d,
                   sbatch, settings], env=env)
    check(p.returncode == 0, f"sbatch -N 3 confab.sbatch accepted (rc {p.returncode}: {p.stderr.strip()[:200]})")
    if p.returncode != 0:
        return
    job = p.stdout.strip().split(";")[0]
    seeds_file = os.path.join(run, "seeds.txt")
    t0 = time.monotonic()
    members = []
    while time.monotonic() - t0 < 60:
        if os.path.exists(seeds_file):
            m = subprocess.run([confab, "members", "--seeds", seeds_file, "--json", "--timeout-ms", "1000"],
                               capture_output=True, text=True, timeout=30)
            members = [json.loads(l) for l in m.stdout.splitlines() if l.startswith('{"member"')]
            if sum(1 for x in members if x.get("state") == "alive") == 3 * PEERS_PER_NODE:
                break
        if slurm.job_state(job)[0] not in ("PENDING", "RUNNING", "CONFIGURING"):
            break
        time.sleep(0.5)
    alive = sorted(x["member"] for x in members if x.get("state") == "alive")
    expected = sorted(f"{a}:{port + 1 + i}" for a in ADDRS for i in range(PEERS_PER_NODE))
    check(alive == expected, f"30 peers on three Slurm nodes alive in the PL, at their nodes' addresses, "
                             f"{time.monotonic() - t0:.1f} s after sbatch ({len(alive)} alive)")
    entries = [l.strip() for l in open(seeds_file)] if os.path.exists(seeds_file) else []
    check(entries == [f"{a}:{port}" for a in ADDRS], f"the seed list from SLURM_JOB_NODELIST and the NodeAddrs: {entries}")
    seeds_up = [open(p).read() for p in sorted(glob.glob(os.path.join(run, "logs", "seed-*.log")))]
    check(len(seeds_up) == 3 and all(f"{ADDRS[k]}:{port}" in seeds_up[k] for k in range(3)),
          "seed-k (SLURM_PROCID k) took entry k of the seed list, its own node's address")
    ms, mp = scrape(f"{ADDRS[1]}:{mport}"), scrape(f"{ADDRS[2]}:{mport + 3}")
    check(ms.get("confab_seed_members") == 30 and mp.get("confab_peer_registered") == 1,
          f"metrics of seed-1 and of a peer on cn3 scraped (members {ms.get('confab_seed_members')}, "
          f"registered {mp.get('confab_peer_registered')})")
    time.sleep(6)  # four gossip rounds a second apart, and their spread
    seen, complete = gossip_coverage(os.path.join(run, "data"), 30)
    check(seen == 120 and complete == 120,
          f"every gossip reached every peer exactly once ({complete} of {seen} messages, 120 expected)")
    victim = f"{ADDRS[1]}:{port + 4}"
    pids = confab_pids(f"confab peer --listen {victim} ")
    check(len(pids) == 1, f"the peer {victim} runs as one process ({pids})")
    if pids:
        os.kill(pids[0], signal.SIGKILL)
        killed = time.monotonic()
        removed_in = None
        while time.monotonic() - killed < 5.5:
            now = pls(confab, seeds_file)
            if len(now) == 3 and all(victim not in pl and len(pl) == 29 for pl in now):
                removed_in = time.monotonic() - killed
                break
            time.sleep(0.1)
        check(removed_in is not None, f"kill -9 of {victim}: removed from all three seeds' PLs, nobody else, in "
              f"{removed_in if removed_in is None else round(removed_in, 2)} s")
        back = False
        while time.monotonic() - killed < 30:
            now = pls(confab, seeds_file)
            if len(now) == 3 and all(victim in pl and len(pl) == 30 for pl in now):
                back = True
                break
            time.sleep(0.3)
        again = confab_pids(f"confab peer --listen {victim} ")
        check(back and len(again) == 1 and again[0] != pids[0],
              f"the task restarted it (pid {pids[0]} -> {again}) and it is back in every seed's PL")
    procs = confab_pids(f"--config {run}/node.toml")
    p = slurm.run(["scancel", "--batch", "--signal=TERM", job])
    state, code = slurm.wait_job(job, 60)
    out = open(os.path.join(d, "job.out")).read()
    check(p.returncode == 0 and state == "COMPLETED" and code == "0:0" and "every node ran until the stop" in out,
          f"scancel --batch --signal=TERM: the job stops by itself, {state} {code}")
    left = sum(1 for q in glob.glob(os.path.join(run, "data", "peer-*.events.txt")) if "left: seed" in open(q).read())
    check(left >= 29, f"the peers left through the seeds as they stopped ({left} of 30 logs say so)")
    time.sleep(1)
    check(len(procs) == 33 and not confab_pids(f"--config {run}/node.toml"),
          f"no node process of the job is left ({len(procs)} ran)")
    print(out[-1200:])


def bad_settings(confab, sbatch, slurm, d):
    settings = os.path.join(d, "node.toml")
    env = dict(slurm.env, CONFAB=confab, CONFAB_PORT="x", CONFAB_RUN_DIR=os.path.join(d, "badrun"))
    p = slurm.run(["sbatch", "--parsable", "-N", "1", "-o", os.path.join(d, "bad.out"), sbatch, settings], env=env)
    job = p.stdout.strip().split(";")[0]
    state, code = slurm.wait_job(job, 60)
    err = open(os.path.join(d, "bad.out")).read() if os.path.exists(os.path.join(d, "bad.out")) else ""
    check(state == "FAILED" and code == "2:0" and "CONFAB_PORT='x'" in err,
          f"a bad setting fails the job with exit 2 naming it ({state} {code}: {err.strip()[:120]})")


def main():
    confab, sbatch = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    missing = [b for b in ("munged", "slurmctld", "slurmd", "sbatch", "srun", "scontrol", "sinfo", "scancel")
               if shutil.which(b) is None]
    if missing:
        print(f"SKIPPED, not passed: {', '.join(missing)} missing (scripts/setup.sh installs slurm-wlm and munge)")
        return 77
    d = tempfile.mkdtemp(prefix="confab-slurm-")
    os.chmod(d, 0o755)  # slurmd reads the batch script and writes outputs as root; munged wants no group/other write
    slurm = SlurmCluster(d)
    try:
        problem = slurm.start()
        check(problem is None, f"munged, slurmctld and three slurmd running, nodes idle{'' if problem is None else ': ' + problem}")
        if problem is None:
            cluster_job(confab, sbatch, slurm, d)
            bad_settings(confab, sbatch, slurm, d)
    finally:
        slurm.stop()
        for pid in confab_pids(f"--config {d}/run/node.toml"):
            os.kill(pid, signal.SIGKILL)
    if failures:
        print(f"logs kept in {d}")
    else:
        shutil.rmtree(d, ignore_errors=True)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
