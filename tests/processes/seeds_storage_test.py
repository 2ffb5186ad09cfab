#!/usr/bin/env python3
"""Storage faults on real `confab seed` processes (3 seeds on loopback).

After 3,000 acknowledged registrations, a follower is stopped, its files
are damaged, and it is started again:

- its last 5 bytes cut (a torn final record): it says so, keeps the rest
  and is caught up by the leader within seconds (it used to stay behind
  for ever in a reject-resend loop);
- a byte flipped in the middle of its log, the log zero-filled, its state
  file damaged, its data wiped: it names the file (and the offset), keeps
  a damaged copy, starts as a learner, is caught up and votes again;
- the files of another seed put in its place: it refuses to start (exit 1)
  naming whose files they are.

After every case all three seeds hold exactly the acknowledged peers. And
a learner does not vote: started with one healthy seed of three, no
leader is elected until the second healthy seed returns, or until the
operator makes the learner a voter (`confab seed-repair --accept-loss`,
refused while that seed runs). And on a full
disk (a 32 MiB tmpfs) no registration is acknowledged that was not saved;
the seeds say so and recover when space returns.

Usage: seeds_storage_test.py PATH/TO/confab
Exit 0 when every check passes; each failed check is printed."""
import glob
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from seeds_cluster import Cluster, check, digest_of, finish, free_ports  # noqa: E402


def files_of(c, i):
    return os.path.join(c.dir, "data", f"seed-127.0.0.1-{c.ports[i]}")


def stderr_of(c, i):
    with open(os.path.join(c.dir, f"stderr-{c.ports[i]}.txt")) as f:
        return f.read()


def stop(c, i):
    p = c.procs[i]
    p.terminate()
    p.wait(timeout=20)
    c.procs[i] = None


def all_hold(c, acked, timeout_s=20):
    """Seconds until every seed answers with exactly the acknowledged PL."""
    expect = digest_of(acked)
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        seeds, summary = c.query(timeout_ms=500)
        if summary["all_answered"] and all(int(s["pl_digest"], 16) == expect and s["pl_size"] == len(acked)
                                           for s in seeds):
            return time.monotonic() - t0
        time.sleep(0.1)
    return None


def flip(path, at):
    with open(path, "r+b") as f:
        f.seek(at)
        b = f.read(1)
        f.seek(at)
        f.write(bytes([b[0] ^ 0x5A]))


def acked_list(path):
    with open(path) as f:
        return [l.strip() for l in f if l.strip()]


def disk_full(confab):
    """3 seeds whose data directory is a 32 MiB tmpfs, filled by a ballast
    file: no registration is acknowledged while the disk refuses the log,
    the seeds say so, and when space returns they save again, register the
    rest, and every acknowledged peer survives a kill -9 of all three."""
    import tempfile
    work = tempfile.mkdtemp(prefix="confab-full-")
    data = os.path.join(work, "data")
    os.makedirs(data)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", data], capture_output=True, text=True)
    check(mounted.returncode == 0, f"disk full: a 32 MiB tmpfs for the data directory ({mounted.stderr.strip() or 'mounted'})")
    if mounted.returncode != 0:
        return
    c = Cluster(confab, 3, free_ports(3), workdir=work)
    ballast = os.path.join(data, "ballast")
    try:
        c.start_all()
        leader, _ = c.wait_leader()
        check(leader is not None, "disk full: a leader is elected")
        first = os.path.join(work, "acked-1.txt")
        out, _ = c.load(500, window=64, acked_out=first).communicate(timeout=120)
        used = subprocess.run(["du", "-sh", data], capture_output=True, text=True).stdout.split()[0]
        with open(ballast, "wb", buffering=0) as f:
            for chunk in (65536, 4096, 256, 16, 1):  # to the last byte
                try:
                    while True:
                        f.write(b"\0" * chunk)
                except OSError:
                    pass
        print(f"      (the seeds' files took {used} before the ballast filled the rest)")
        during = os.path.join(work, "acked-2.txt")
        load = c.load(300, first_peer=10000, window=64, timeout_ms=4000, acked_out=during)
        load.communicate(timeout=60)
        acked_during = acked_list(during)
        time.sleep(0.5)
        said = ["the disk refused the log" in stderr_of(c, i) for i in range(3)]
        check(sum(said) >= 2, f"disk full: the seeds that could not save say the disk refused the log ({said})")
        os.remove(ballast)
        after = os.path.join(work, "acked-3.txt")
        out, _ = c.load(300, first_peer=10000, window=64, timeout_ms=30000, acked_out=after).communicate(timeout=90)
        again = ["the log is saved again" in stderr_of(c, i) for i in range(3)]
        check(again == said, f"disk full: space back, each of them saves again ({again})")
        acked = set(acked_list(first)) | set(acked_during) | set(acked_list(after))
        check(len(acked_list(after)) == 300, f"disk full: the 300 registrations go through once space returns "
              f"({len(acked_list(after))}; {len(acked_during)} were acknowledged while the disk was full)")
        for i in range(3):
            c.kill9(i)
        c.start_all()
        took = all_hold(c, sorted(acked), timeout_s=30)
        check(took is not None, f"disk full: after kill -9 of all three, every seed holds the {len(acked)} "
              f"acknowledged peers ({'%.2f s' % took if took is not None else 'not within 30 s'})")
    finally:
        c.stop_all()
        subprocess.run(["umount", "-l", data], capture_output=True)


def main():
    confab = sys.argv[1]
    disk_full(confab)
    if os.environ.get("ONLY_DISK_FULL"):
        return finish()
    c = Cluster(confab, 3, free_ports(3))
    try:
        c.start_all()
        leader, _ = c.wait_leader()
        check(leader is not None, "a leader is elected")
        if leader is None:
            return finish()
        acked_file = os.path.join(c.dir, "acked.txt")
        load = c.load(3000, window=128, acked_out=acked_file)
        out, _ = load.communicate(timeout=120)
        check(load.returncode == 0, "3,000 registrations acknowledged")
        with open(acked_file) as f:
            acked = [l.strip() for l in f if l.strip()]
        follower = (c.index_of(c.leader()) + 1) % 3

        def damaged_restart(name, damage, expect_stderr, learner=True):
            stop(c, follower)
            base = files_of(c, follower)
            damage(base)
            c.start(follower)
            took = all_hold(c, acked)
            check(took is not None, f"{name}: every seed holds the {len(acked)} acknowledged peers again "
                  f"({'%.2f s' % took if took is not None else 'not within 20 s'} after the restart)")
            err = stderr_of(c, follower)
            check(expect_stderr in err, f"{name}: the seed says '{expect_stderr}'")
            if learner:
                ev = c.events(follower)
                check("LEARNER no more" in ev.split("starting")[-1],
                      f"{name}: it was a learner until the leader had given it back what was committed")

        def cut5(base):
            size = os.path.getsize(base + ".raft")
            os.truncate(base + ".raft", size - 5)

        damaged_restart("last 5 bytes cut", cut5, "a torn final record was cut", learner=False)
        damaged_restart("a byte flipped mid-log", lambda b: flip(b + ".raft", os.path.getsize(b + ".raft") // 2),
                        "and a valid record follows at offset")
        aside = glob.glob(files_of(c, follower) + ".raft.damaged-*")
        check(len(aside) == 1, f"a damaged copy is kept aside ({aside})")

        def zero(base):
            size = os.path.getsize(base + ".raft")
            with open(base + ".raft", "wb") as f:
                f.write(bytes(size))

        damaged_restart("the log zero-filled", zero, "the header (offset 0) is damaged")
        damaged_restart("the state file damaged", lambda b: flip(b + ".state", 30), ".state is damaged")

        def wipe(base):
            for suffix in (".raft", ".state"):
                os.remove(base + suffix)

        damaged_restart("the data wiped", wipe, "")

        # Another seed's files in its place: refused.
        stop(c, follower)
        other = (follower + 1) % 3
        mine, theirs = files_of(c, follower), files_of(c, other)
        for suffix in (".raft", ".state"):
            shutil.copy(theirs + suffix, mine + suffix)
        run = subprocess.run([confab, "seed", "--config", c.config, "--listen", f"127.0.0.1:{c.ports[follower]}"],
                             capture_output=True, text=True, timeout=30)
        check(run.returncode == 1 and f"belongs to seed 127.0.0.1:{c.ports[other]}" in run.stderr,
              f"another seed's files: refused with exit 1 ({run.returncode}: {run.stderr.strip()[:160]})")

        # A learner does not vote: wipe it, leave only one healthy seed with
        # it; no leader until a second healthy seed returns.
        for suffix in (".raft", ".state"):
            os.remove(mine + suffix)
        healthy = [i for i in range(3) if i != follower]
        for i in healthy:  # (a sitting leader keeps leading on a learner's acks, which are genuine)
            stop(c, i)
        c.start(healthy[0])
        c.start(follower)
        time.sleep(3)
        seeds, _ = c.query(timeout_ms=500)
        leaders = {s["leader"] for s in seeds if s["answered"] and s["leader"]}
        check(not leaders, f"a healthy seed and a wiped one (a learner): no leader in 3 s ({leaders or 'none'})")
        # The operator's override: seed-repair refuses while the seed runs,
        # says what can be lost, and with --accept-loss makes it a voter.
        repair = [confab, "seed-repair", "--config", c.config, "--listen", f"127.0.0.1:{c.ports[follower]}"]
        run = subprocess.run(repair, capture_output=True, text=True, timeout=30)
        check(run.returncode == 2 and "stop that seed first" in run.stderr,
              f"seed-repair on a running seed: refused with exit 2 ({run.returncode})")
        stop(c, follower)
        run = subprocess.run(repair, capture_output=True, text=True, timeout=30)
        check(run.returncode == 1 and "a learner" in run.stdout and "lost for good" in run.stdout,
              f"seed-repair without --accept-loss: says what can be lost, exit 1 ({run.returncode})")
        run = subprocess.run(repair + ["--accept-loss"], capture_output=True, text=True, timeout=30)
        check(run.returncode == 0 and "votes again" in run.stdout, f"seed-repair --accept-loss: exit 0 ({run.returncode})")
        c.start(follower)
        leader, took = c.wait_leader(timeout_s=10)
        check(leader == f"127.0.0.1:{c.ports[healthy[0]]}",
              f"the repaired seed votes: the healthy seed leads with it ({leader}, {took:.2f} s)")
        c.start(healthy[1])
        took = all_hold(c, acked)
        check(took is not None, f"the second healthy seed back: all three hold the acknowledged peers "
              f"({'%.2f s' % took if took is not None else 'not within 20 s'})")
    finally:
        c.stop_all()
    return finish()


if __name__ == "__main__":
    sys.exit(main())
