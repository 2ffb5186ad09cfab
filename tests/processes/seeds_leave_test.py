#!/usr/bin/env python3
"""Leaving, on real `confab seed` processes (3 seeds on loopback):

- `seed-load` without --keep: every acknowledged synthetic peer leaves at
  the end, and every seed's PL is empty again;
- `seed-load --keep` leaves its peers in; `confab members` lists each of
  them alive, in ascending order, with the answering seed's state, as text
  and as JSON;
- `confab force-leave PEER` removes one peer from every seed's PL through
  the log, asked while the leader is killed (-9) and a new one elected;
- a `confab peer` stopped with SIGTERM leaves: its removal is confirmed
  (its event log says `left`) and no seed lists it;
- bad usage exits 2 (unresolvable peer, no peer, a missing seed list);
  members with no seed up exits 1 and says so.

Usage: seeds_leave_test.py PATH/TO/confab
Exit 0 when every check passes; each failed check is printed."""
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from seeds_cluster import Cluster, check, finish, free_ports  # noqa: E402


def run(*args, timeout=120):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=timeout)


def pl_sizes(c):
    seeds, _ = c.query()
    return [s["pl_size"] if s["answered"] else None for s in seeds]


def wait_pl(c, size, timeout_s=15):
    t0 = time.monotonic()
    sizes = None
    while time.monotonic() - t0 < timeout_s:
        sizes = pl_sizes(c)
        if sizes == [size] * c.n:
            return sizes
        time.sleep(0.1)
    return sizes


def main():
    confab = sys.argv[1]
    c = Cluster(confab, 3, free_ports(3))
    try:
        c.start_all()
        leader, took = c.wait_leader()
        check(leader is not None, f"a leader is elected ({took:.2f} s)")
        if leader is None:
            return finish()

        # A real peer leaves on SIGTERM.
        peers = {}
        for i in (21, 22, 23):
            err = open(os.path.join(c.dir, f"peer-{i}.stderr.txt"), "w")
            peers[i] = subprocess.Popen([confab, "peer", "--config", c.config, "--listen", f"127.0.0.{i}:9300"],
                                        stdout=subprocess.DEVNULL, stderr=err)
        check(wait_pl(c, 3) == [3, 3, 3], "three peers registered")
        peers[22].send_signal(signal.SIGTERM)
        rc = peers[22].wait(timeout=30)
        check(rc == 0, f"a peer stopped by SIGTERM exits 0 ({rc})")
        sizes = wait_pl(c, 2, timeout_s=5)
        check(sizes == [2, 2, 2], f"the SIGTERM'd peer is gone from every seed's PL at once ({sizes})")
        with open(os.path.join(c.dir, "data", "peer-127.0.0.22-9300.events.txt")) as f:
            ev = f.read()
        check("leaving: asked the seeds" in ev and "left: seed" in ev, "its event log shows the leave and the confirmation")
        peers[23].send_signal(signal.SIGKILL)
        peers[23].wait(timeout=30)
        peers[21].send_signal(signal.SIGTERM)
        peers[21].wait(timeout=30)
        # The killed one may or may not have been reported by then: force it
        # out (a force-leave of a peer already gone is confirmed too).
        f = run(confab, "force-leave", "--seeds", c.seeds_file, "127.0.0.23:9300", "--timeout-ms", "10000")
        check(f.returncode == 0 and wait_pl(c, 0) == [0, 0, 0], "after the last one leaves and the killed one is forced out, the PL is empty")

        # seed-load leaves by default.
        out, _ = c.load(400, window=64, retry_ms=300, timeout_ms=30000, keep=False).communicate(timeout=120)
        summary = json.loads(out.strip().splitlines()[-1])
        check(summary.get("acknowledged") == 400 and summary.get("left") == 400,
              f"seed-load: 400 registrations acknowledged, then 400 left ({summary})")
        sizes = wait_pl(c, 0)
        check(sizes == [0, 0, 0], f"after seed-load every seed's PL is empty again ({sizes})")

        # --keep: they stay, and members lists them.
        out, _ = c.load(30, first_peer=1000, retry_ms=300, timeout_ms=30000).communicate(timeout=120)
        check(json.loads(out.strip().splitlines()[-1]).get("acknowledged") == 30, "seed-load --keep: 30 acknowledged")
        check(wait_pl(c, 30) == [30, 30, 30], "with --keep every seed holds the 30 peers")
        m = run(confab, "members", "--seeds", c.seeds_file, "--json")
        lines = [json.loads(l) for l in m.stdout.splitlines() if l.startswith("{")]
        members, head = lines[:-1], (lines[-1] if lines else {})
        ids = [x["member"] for x in members]
        ports_of = [int(x.rsplit(":", 1)[1]) for x in ids]
        check(m.returncode == 0 and len(members) == 30 and all(x["state"] == "alive" for x in members)
              and ports_of == sorted(ports_of) and head.get("pl_size") == 30 and head.get("listed") == 30
              and head.get("leader") == leader,
              f"members --json: 30 members alive in order, pl_size 30, leader {head.get('leader')} "
              f"(exit {m.returncode})")
        text = run(confab, "members", "--seeds", c.seeds_file)
        rows = [l for l in text.stdout.splitlines() if l.strip()]
        check(text.returncode == 0 and rows[0].split() == ["MEMBER", "STATE", "DEGREE", "REPORTERS"] and len(rows) == 31,
              f"members as text: a header and 30 rows ({len(rows)} lines)")

        # force-leave across a leader kill.
        victim = ids[7]
        c.kill9(c.index_of(leader))
        f = run(confab, "force-leave", "--seeds", c.seeds_file, victim, "--timeout-ms", "20000")
        check(f.returncode == 0 and json.loads(f.stdout.strip().splitlines()[-1]).get("left") is True,
              f"force-leave {victim} while the leader is down: confirmed (exit {f.returncode}, {f.stdout.strip()})")
        c.start(c.index_of(leader))
        check(wait_pl(c, 29) == [29, 29, 29], "every seed, the restarted one too, holds 29 peers")
        m = run(confab, "members", "--seeds", c.seeds_file, "--json")
        ids2 = [json.loads(l)["member"] for l in m.stdout.splitlines() if l.startswith('{"member"')]
        check(victim not in ids2 and len(ids2) == 29, f"members no longer lists {victim}")
        f = run(confab, "force-leave", "--seeds", c.seeds_file, victim, "--timeout-ms", "5000")
        check(f.returncode == 0, f"force-leave of a peer already gone is confirmed at once (exit {f.returncode})")

        # Bad usage and nobody answering.
        f = run(confab, "force-leave", "--seeds", c.seeds_file, "no-such-host.invalid:7000")
        check(f.returncode == 2 and "no-such-host.invalid" in f.stderr, f"force-leave of an unresolvable name: exit 2 ({f.returncode})")
        f = run(confab, "force-leave", "--seeds", c.seeds_file)
        check(f.returncode == 2, f"force-leave without a peer: exit 2 ({f.returncode})")
        f = run(confab, "members", "--seeds", os.path.join(c.dir, "missing.txt"))
        check(f.returncode == 2 and "missing.txt" in f.stderr, f"members with a missing seed list: exit 2 ({f.returncode})")
        c.stop_all()
        m = run(confab, "members", "--seeds", c.seeds_file, "--timeout-ms", "500")
        check(m.returncode == 1 and "no seed answered" in m.stderr, f"members with every seed down: exit 1 ({m.returncode})")
    finally:
        c.stop_all()
    return finish()


if __name__ == "__main__":
    sys.exit(main())
