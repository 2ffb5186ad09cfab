#!/usr/bin/env python3
"""`confab exact-node`: one exact-consensus node per process over TCP.

- Torus 9 with f = 1, nine processes on loopback, node 4 adding an offset
  every round: every honest process recovers x(0) (1e-9 relative to the
  x(0) the test gave them), names node 4, and exits 0; the compromised
  one exits too.
- The same with node 4 silent from round 1: its neighbours report it,
  every process ends by itself (exit 1: no x(0)).
- A broken config is refused by name with exit 2 (unknown key, the
  listen address not the vertex's, a crafted attack, too few addresses).

Usage: exact_node_test.py PATH/TO/confab"""
import json
import os
import random
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from seeds_cluster import check, finish  # noqa: E402


def write_configs(work, port, x0, malicious, stall_ms=10000):
    nodes = [f"127.0.0.1:{port + v}" for v in range(9)]
    paths = []
    for v in range(9):
        path = os.path.join(work, f"node{v}.toml")
        with open(path, "w") as f:
            f.write(f'topology = "torus:3x3"\nseed = 5\nf = 1\nvertex = {v}\nx0 = {x0[v]!r}\n'
                    f'nodes = {json.dumps(nodes)}\nout = "{os.path.join(work, f"decision{v}.json")}"\n'
                    f'stall_timeout_ms = {stall_ms}\nlinger_ms = 3000\n')
            if v in malicious:
                f.write(f'malicious = "{malicious[v]}"\n')
        paths.append(path)
    return nodes, paths


def run_all(confab, work, port, x0, malicious, stall_ms=10000):
    # A process that starts late under load is not silent: the stall
    # timeout is far above start-up time, 3 s even where a node is silent.
    nodes, paths = write_configs(work, port, x0, malicious, stall_ms)
    procs = [subprocess.Popen([confab, "exact-node", "--listen", nodes[v], "--config", paths[v]],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for v in range(9)]
    outs = []
    for p in procs:
        try:
            out, err = p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
        outs.append((p.returncode, out, err))
    decisions = []
    for v in range(9):
        path = os.path.join(work, f"decision{v}.json")
        decisions.append(json.load(open(path)) if os.path.exists(path) else None)
        if os.path.exists(path):
            os.remove(path)
    return outs, decisions


def main():
    confab = sys.argv[1]
    work = tempfile.mkdtemp(prefix="confab-exact-node-")
    port = 27000 + (os.getpid() % 400) * 16
    rng = random.Random(7)
    x0 = [rng.uniform(-1, 1) for _ in range(9)]

    outs, ds = run_all(confab, work, port, x0, {4: "offset:0.5"})
    for v in range(9):
        if v == 4:
            continue
        d = ds[v]
        rc = outs[v][0]
        err = max(abs(a - b) for a, b in zip(d["x0"], x0)) / max(1, max(abs(b) for b in x0)) if d and d["x0"] else None
        check(rc == 0 and d and d["verdict"] == "recovered" and d["identified"] == [4] and err is not None and err < 1e-9,
              f"process {v}: recovered x(0) (error {err}) and named node 4 (exit {rc}; {outs[v][1].strip()[-160:]!r})")
    check(outs[4][0] in (0, 1), f"the compromised process ended by itself (exit {outs[4][0]})")

    outs, ds = run_all(confab, work, port + 9, x0, {4: "silent:1"}, stall_ms=3000)
    neighbours_of_4 = [1, 3, 5, 7]
    for v in range(9):
        if v == 4:
            continue
        d = ds[v]
        ok = d is not None and outs[v][0] == 1 and d["verdict"] in ("stalled", "halted")
        if v in neighbours_of_4 and d and d["verdict"] == "stalled":
            ok = ok and d["silent"] == 4
        check(ok, f"node 4 silent: process {v} ended by itself: {d and d['verdict']} {d and d['detail']!r}")
    check(any(ds[v] and ds[v]["verdict"] == "stalled" and ds[v]["silent"] == 4 for v in neighbours_of_4),
          "node 4 silent: a neighbour reports it")

    nodes, paths = write_configs(work, port + 20, x0, {})
    bad = os.path.join(work, "bad.toml")
    base = open(paths[0]).read()
    for text, listen, needle in [
        (base + "colour = 3\n", nodes[0], "colour"),
        (base, nodes[1], "is not nodes[0]"),
        (base + 'malicious = "crafted"\n', nodes[0], "confab exact run"),
        (base.replace(f'"{nodes[8]}"', "").replace(", ]", "]"), nodes[0], "8 addresses for 9 vertices"),
        (base.replace('topology = "torus:3x3"', 'topology = "torus:3"'), nodes[0], "topology"),
        ("x0 = \n", nodes[0], "bad.toml"),
    ]:
        with open(bad, "w") as f:
            f.write(text)
        p = subprocess.run([confab, "exact-node", "--listen", listen, "--config", bad], capture_output=True, text=True,
                           timeout=30)
        check(p.returncode == 2 and needle in p.stderr, f"config refused naming {needle!r} ({p.stderr.strip()[-140:]!r})")
    return finish()


if __name__ == "__main__":
    sys.exit(main())
