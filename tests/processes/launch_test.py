#!/usr/bin/env python3
"""`confab launch` end to end, as a user runs it.

Loopback: 3 seeds and 30 peers from one cluster file.
- `launch status` turns healthy (every node running, every peer alive in the PL);
- /metrics of a seed and a peer are scraped and parsed during the run;
- every gossip reaches every peer exactly once (the peers' JSON logs);
- kill -9 of a peer: removed from every seed's PL before its restart
  (restart_delay_ms is longer than the removal takes), then restarted by
  the supervisor and back in the PL; kill -9 of a seed: restarted, and the
  status is healthy again with 2 restarts;
- a second `launch up` on the same run dir exits 1 (the lock);
- `launch stop` stops the supervisor (exit 0); the peers left through the
  seeds (their logs say so) and no node process is left.
Network namespaces (root and `ip` needed; said plainly when missing): 3 seeds
and 6 peers, each in its own namespace, healthy, then stopped, and every
namespace removed.
Bad cluster files and usage exit 2, naming what was wrong.

Usage: launch_test.py PATH/TO/confab"""
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from seeds_cluster import FAST_PEER_TOML, check, finish, free_ports, gossip_coverage, scrape  # noqa: E402

NODE_TABLES = "\n" + FAST_PEER_TOML


def status(confab, cluster):
    p = subprocess.run([confab, "launch", "status", cluster, "--json"], capture_output=True, text=True, timeout=30)
    lines = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
    nodes = {l["name"]: l for l in lines if "name" in l}
    return p.returncode, nodes, (lines[-1] if lines else {})


def wait_status(confab, cluster, cond, within):
    until = time.monotonic() + within
    while True:
        rc, nodes, summary = status(confab, cluster)
        if cond(rc, nodes, summary) or time.monotonic() > until:
            return rc, nodes, summary
        time.sleep(0.3)


def seed_pls(confab, seeds_file):
    p = subprocess.run([confab, "seed-query", "--seeds", seeds_file, "--full", "--timeout-ms", "2000"],
                       capture_output=True, text=True, timeout=30)
    lines = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
    return [set(l.get("pl", [])) for l in lines if "seed" in l and l.get("answered", True)]


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def bad_files(confab, d):
    cases = [
        ("unknown launch key", "[launch]\nseeds = 3\npeerz = 4\n", "launch.peerz"),
        ("impossible seeds", "[launch]\nseeds = 0\n", "launch.seeds"),
        ("bad network", "[launch]\nnetwork = \"wan\"\n", "launch.network"),
        ("bad peer setting", "[launch]\nseeds = 1\n[peer]\nping_interval_ms = 100\n", "probe_timeout_ms"),
        ("unknown node table key", "[launch]\nseeds = 1\n[seed]\nheartbeat = 5\n", "seed.heartbeat"),
        ("launcher's own key", "seeds_file = \"x\"\n[launch]\nseeds = 1\n", "seeds_file"),
        ("syntax", "[launch\nseeds = 1\n", "bad.toml:1"),
        ("no launch table", "[peer]\nattach = 2\n", "[launch]"),
    ]
    for name, text, needle in cases:
        path = os.path.join(d, "bad.toml")
        with open(path, "w") as f:
            f.write(text.replace("[launch]\n", "[launch]\nrun_dir = \"badrun\"\n", 1))
        p = subprocess.run([confab, "launch", "up", path, "--for", "5"], capture_output=True, text=True, timeout=30)
        check(p.returncode == 2 and needle in p.stderr,
              f"bad cluster file ({name}): exit 2 naming {needle!r} (rc {p.returncode}: {p.stderr.strip()[:160]})")
    p = subprocess.run([confab, "launch", "up"], capture_output=True, text=True, timeout=30)
    check(p.returncode == 2, f"launch up without a cluster file: exit 2 (rc {p.returncode})")
    p = subprocess.run([confab, "launch", "frobnicate", "x"], capture_output=True, text=True, timeout=30)
    check(p.returncode == 2, f"an unknown launch command: exit 2 (rc {p.returncode})")
    p = subprocess.run([confab, "launch", "status", os.path.join(d, "never.toml")], capture_output=True, text=True, timeout=30)
    check(p.returncode == 2, f"status of a missing cluster file: exit 2 (rc {p.returncode})")


def loopback(confab, d):
    port = free_ports(2)
    cluster = os.path.join(d, "cluster.toml")
    with open(cluster, "w") as f:
        f.write(f"[launch]\nseeds = 3\npeers = 30\nport = {port}\nmetrics_port = {port + 1}\n"
                f"restart = \"on-failure\"\nrestart_delay_ms = 6000\nrun_dir = \"run\"\n" + NODE_TABLES)
    run = os.path.join(d, "run")
    log = open(os.path.join(d, "launch.log"), "w")
    up = subprocess.Popen([confab, "launch", "up", cluster, "--for", "150", "--progress", "5"], stdout=log,
                          stderr=subprocess.STDOUT)
    try:
        t0 = time.monotonic()
        rc, nodes, summary = wait_status(confab, cluster, lambda rc, n, s: rc == 0, 30)
        check(rc == 0 and summary.get("running") == 33 and summary.get("peers_in_pl") == 30,
              f"launch status healthy: 33 nodes running, 30 peers alive in the PL after {time.monotonic() - t0:.1f} s "
              f"(rc {rc}, {summary})")
        second = subprocess.run([confab, "launch", "up", cluster, "--for", "5"], capture_output=True, text=True, timeout=30)
        check(second.returncode == 1 and "launch.lock" in second.stderr,
              f"a second launch on the same run dir exits 1 naming the lock (rc {second.returncode})")
        seed0, peer0 = nodes["seed-0"], nodes["peer-0"]
        first = scrape(seed0["metrics"]), scrape(peer0["metrics"])
        time.sleep(6)  # four gossip rounds and their spread
        again = scrape(seed0["metrics"]), scrape(peer0["metrics"])
        check(again[0].get("confab_seed_members") == 30 and again[1].get("confab_peer_registered") == 1
              and again[1].get("confab_peer_delivered_total", 0) > first[1].get("confab_peer_delivered_total", 0),
              f"metrics scraped during the run: seed members {again[0].get('confab_seed_members')}, peer registered "
              f"{again[1].get('confab_peer_registered')}, delivered {first[1].get('confab_peer_delivered_total')} -> "
              f"{again[1].get('confab_peer_delivered_total')}")
        seen, complete = gossip_coverage(os.path.join(run, "data"), 30)
        check(seen == 120 and complete == 120,
              f"every gossip reached every peer exactly once ({complete} of {seen} messages, 120 expected)")
        # kill -9 a peer: removed everywhere before the supervisor restarts it.
        victim = nodes["peer-7"]
        os.kill(victim["pid"], signal.SIGKILL)
        killed = time.monotonic()
        removed_in = None
        while time.monotonic() - killed < 5.5:
            pls = seed_pls(confab, os.path.join(run, "seeds.txt"))
            if len(pls) == 3 and all(victim["address"] not in pl and len(pl) == 29 for pl in pls):
                removed_in = time.monotonic() - killed
                break
            time.sleep(0.1)
        check(removed_in is not None, f"kill -9 of peer-7: removed from all three seeds' PLs, nobody else, in "
              f"{removed_in if removed_in is None else round(removed_in, 2)} s")
        rc, nodes, summary = status(confab, cluster)
        check(rc == 1 and nodes["peer-7"]["state"] == "restarting",
              f"status while it is down: exit 1, peer-7 restarting ({nodes['peer-7']['state']})")
        seed1 = nodes["seed-1"]
        os.kill(seed1["pid"], signal.SIGKILL)
        rc, nodes, summary = wait_status(
            confab, cluster, lambda rc, n, s: rc == 0 and n["peer-7"]["restarts"] == 1 and n["seed-1"]["restarts"] == 1, 40)
        check(rc == 0 and nodes["peer-7"]["restarts"] == 1 and nodes["seed-1"]["restarts"] == 1
              and nodes["peer-7"]["pid"] != victim["pid"] and nodes["peer-7"]["pl"] == "alive",
              f"peer-7 and seed-1 restarted by the supervisor, peer-7 back in the PL, status healthy (rc {rc}, {summary})")
        pids = [n["pid"] for n in nodes.values()]
        stop = subprocess.run([confab, "launch", "stop", cluster], capture_output=True, text=True, timeout=60)
        up.wait(timeout=30)
        check(stop.returncode == 0 and up.returncode == 0,
              f"launch stop: exit 0, and the supervisor exits 0 (stop {stop.returncode}, up {up.returncode})")
        check(not any(alive(p) for p in pids), "no node process is left after the stop")
        left = sum(1 for p in glob.glob(os.path.join(run, "data", "peer-*.events.txt"))
                   if "left: seed" in open(p).read())
        check(left >= 29, f"the peers left through the seeds as they stopped ({left} of 30 logs say so)")
        rc, _, summary = status(confab, cluster)
        check(rc == 1 and summary.get("supervisor") == "not running", f"status after the stop: exit 1, not running (rc {rc})")
    finally:
        if up.poll() is None:
            up.send_signal(signal.SIGTERM)
            try:
                up.wait(timeout=30)
            except subprocess.TimeoutExpired:
                up.kill()
        log.close()
    print(open(os.path.join(d, "launch.log")).read()[-1500:])


def netns(confab, d):
    if os.geteuid() != 0 or shutil.which("ip") is None:
        check(False, "network namespaces need root and ip; this machine has neither, so the netns launch was NOT tested")
        return
    cluster = os.path.join(d, "netns.toml")
    with open(cluster, "w") as f:
        f.write("[launch]\nseeds = 3\npeers = 6\nnetwork = \"netns\"\nsubnet = \"10.89\"\nrun_dir = \"nsrun\"\n" + NODE_TABLES)
    up = subprocess.Popen([confab, "launch", "up", cluster, "--for", "60"], stdout=subprocess.DEVNULL,
                          stderr=open(os.path.join(d, "netns.log"), "w"))
    try:
        rc, nodes, summary = wait_status(confab, cluster, lambda rc, n, s: rc == 0, 40)
        check(rc == 0 and summary.get("peers_in_pl") == 6 and all(n["address"].startswith("10.89.") for n in nodes.values()),
              f"netns launch healthy: 9 nodes in their own namespaces, 6 peers in the PL (rc {rc}, {summary})")
        spaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        st = json.load(open(os.path.join(d, "nsrun", "launch.json")))
        mine = [n["netns"] for n in st["nodes"]] + [st["hub_netns"]]
        check(all(m in spaces for m in mine), f"{len(mine)} namespaces made")
        stop = subprocess.run([confab, "launch", "stop", cluster], capture_output=True, text=True, timeout=60)
        up.wait(timeout=30)
        spaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        check(stop.returncode == 0 and up.returncode == 0 and not any(m in spaces.split() for m in mine),
              f"stopped (exit {up.returncode}) and every namespace removed")
    finally:
        if up.poll() is None:
            up.send_signal(signal.SIGTERM)
            up.wait(timeout=30)
    print(open(os.path.join(d, "netns.log")).read()[-800:])


def main():
    confab = sys.argv[1]
    d = tempfile.mkdtemp(prefix="confab-launch-")
    bad_files(confab, d)
    loopback(confab, d)
    netns(confab, d)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
