#!/usr/bin/env python3
"""A real network partition between seed processes, made with network
namespaces this test creates (and removes): seed 0 in namespace A, seeds
1 and 2 in namespace B, joined through a router namespace R that forwards
between them. Turning R's forwarding off cuts A from B while R still
reaches both, so the test (run from R) can talk to each side.

Checks: while cut, the minority (seed 0) acknowledges no registration and
its PL does not change; the majority (seeds 1 and 2) keeps registering;
after healing, the minority catches up and all three PLs agree.

Needs root and `ip`; exits 77 (skipped) when namespaces cannot be made.
Usage: seeds_netns_test.py PATH/TO/confab"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from seeds_cluster import check, finish, stop_processes  # noqa: E402

TAG = f"cf{os.getpid() % 100000}"
R, A, B = f"{TAG}r", f"{TAG}a", f"{TAG}b"


def sh(*args, ns=None, check_rc=True):
    cmd = (["ip", "netns", "exec", ns] if ns else []) + list(args)
    p = subprocess.run(cmd, capture_output=True, text=True)
    if check_rc and p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {p.stderr.strip()}")
    return p


def setup():
    for ns in (R, A, B):
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "set", "lo", "up", ns=ns)
    sh("ip", "link", "add", f"{TAG}ra", "type", "veth", "peer", "name", f"{TAG}ar")
    sh("ip", "link", "add", f"{TAG}rb", "type", "veth", "peer", "name", f"{TAG}br")
    sh("ip", "link", "set", f"{TAG}ra", "netns", R)
    sh("ip", "link", "set", f"{TAG}rb", "netns", R)
    sh("ip", "link", "set", f"{TAG}ar", "netns", A)
    sh("ip", "link", "set", f"{TAG}br", "netns", B)
    sh("ip", "addr", "add", "10.77.1.254/24", "dev", f"{TAG}ra", ns=R)
    sh("ip", "addr", "add", "10.77.2.254/24", "dev", f"{TAG}rb", ns=R)
    sh("ip", "addr", "add", "10.77.1.1/24", "dev", f"{TAG}ar", ns=A)
    sh("ip", "addr", "add", "10.77.2.1/24", "dev", f"{TAG}br", ns=B)
    sh("ip", "addr", "add", "10.77.2.2/24", "dev", f"{TAG}br", ns=B)
    for ns, dev in ((R, f"{TAG}ra"), (R, f"{TAG}rb"), (A, f"{TAG}ar"), (B, f"{TAG}br")):
        sh("ip", "link", "set", dev, "up", ns=ns)
    sh("ip", "route", "add", "default", "via", "10.77.1.254", ns=A)
    sh("ip", "route", "add", "default", "via", "10.77.2.254", ns=B)
    forward(True)


def forward(on):
    sh("sysctl", "-q", "-w", f"net.ipv4.ip_forward={1 if on else 0}", ns=R)


def teardown():
    for ns in (R, A, B):
        sh("ip", "netns", "del", ns, check_rc=False)


def query(confab, seeds_file):
    out = sh(confab, "seed-query", "--seeds", seeds_file, "--timeout-ms", "800", ns=R, check_rc=False).stdout
    lines = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
    return lines[:-1], lines[-1] if lines else {}


def load(confab, seeds_file, peers, first, timeout_ms):
    out = sh(confab, "seed-load", "--seeds", seeds_file, "--peers", str(peers), "--first-peer", str(first),
             "--retry-ms", "300", "--timeout-ms", str(timeout_ms), "--keep", ns=R, check_rc=False).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    confab = os.path.abspath(sys.argv[1])
    if os.geteuid() != 0 or not shutil.which("ip"):
        print("skipped: needs root and ip")
        return 77
    try:
        setup()
    except RuntimeError as e:
        teardown()
        print(f"skipped: cannot make network namespaces here: {e}")
        return 77
    d = tempfile.mkdtemp(prefix="confab-netns-")
    seeds = ["10.77.1.1:7000", "10.77.2.1:7000", "10.77.2.2:7000"]
    with open(os.path.join(d, "seeds.txt"), "w") as f:
        f.write("\n".join(seeds) + "\n")
    with open(os.path.join(d, "minority.txt"), "w") as f:
        f.write(seeds[0] + "\n")
    with open(os.path.join(d, "majority.txt"), "w") as f:
        f.write(seeds[1] + "\n" + seeds[2] + "\n")
    with open(os.path.join(d, "seed.toml"), "w") as f:
        f.write('seeds_file = "seeds.txt"\ndata_dir = "data"\n[seed]\nheartbeat_ms = 50\n')
    procs = []
    try:
        for addr, ns in zip(seeds, (A, B, B)):
            procs.append(subprocess.Popen(["ip", "netns", "exec", ns, confab, "seed", "--config",
                                           os.path.join(d, "seed.toml"), "--listen", addr],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        ok = False
        for _ in range(50):
            s, summ = query(confab, os.path.join(d, "seeds.txt"))
            if summ.get("all_answered") and any(x["leader"] for x in s):
                ok = True
                break
            time.sleep(0.2)
        check(ok, "three seeds in two namespaces elect a leader")
        first = load(confab, os.path.join(d, "seeds.txt"), 5, 0, 20000)
        check(first["acknowledged"] == 5, "before the cut: 5 registrations acknowledged")
        time.sleep(0.3)  # every seed applies the 5
        forward(False)  # the cut: A and B no longer reach each other
        time.sleep(1.0)  # longer than an election timeout: a leader in A steps down
        before, _ = query(confab, os.path.join(d, "minority.txt"))
        lone = load(confab, os.path.join(d, "minority.txt"), 10, 100, 2500)
        check(lone["acknowledged"] == 0, f"cut off, the minority acknowledges nothing ({lone['acknowledged']})")
        s, _ = query(confab, os.path.join(d, "minority.txt"))
        check(s and before and s[0]["pl_size"] == before[0]["pl_size"] == 5 and s[0]["pl_digest"] == before[0]["pl_digest"],
              f"the minority's PL did not change ({before[0]['pl_size'] if before else None} -> {s[0]['pl_size'] if s else None})")
        major = load(confab, os.path.join(d, "majority.txt"), 10, 200, 20000)
        check(major["acknowledged"] == 10, f"the majority keeps registering ({major['acknowledged']} of 10)")
        forward(True)  # heal
        agreed = None
        for _ in range(60):
            s, summ = query(confab, os.path.join(d, "seeds.txt"))
            if summ.get("all_answered") and summ.get("agree") and s[0]["pl_size"] >= 15:
                agreed = s
                break
            time.sleep(0.25)
        check(agreed is not None, "after healing the minority caught up and all PLs agree "
              f"({[x['pl_size'] for x in (agreed or s)]})")
    finally:
        stop_processes(procs)
        teardown()
    return finish()


if __name__ == "__main__":
    sys.exit(main())
