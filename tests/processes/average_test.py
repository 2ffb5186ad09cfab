#!/usr/bin/env python3
"""Average consensus on real processes and through `confab avg`.

- the document's two terminals: two `confab avg-node` processes, the second
  started a second after the first, end at the weighted limit
  sum(x/dt)/sum(1/dt) and oscillate as 1 - (dt1 + dt2) < 0 says; garbage,
  an oversized frame and a malformed message on the first node's port close
  those connections only, and the node says why;
- a neighbour that never starts is reported by address and the node exits 1
  by itself;
- broken node files and impossible values exit 2 naming what was wrong;
- `confab avg` writes its report and plots, exits 1 on divergence and 2 on
  a disconnected edge list; `confab avg paper` writes one plot per case.

Usage: average_test.py PATH/TO/confab"""
import csv
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from seeds_cluster import check, closes_after, endpoint_id, finish, free_ports  # noqa: E402


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def run(args, timeout=120):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout)


def two_terminals(confab, d):
    base = free_ports(2)
    a, b = f"127.0.0.1:{base}", f"127.0.0.1:{base + 1}"
    write(os.path.join(d, "a.toml"), f'x0 = 0.0\ndt = 0.5\nrounds = 60\nneighbours = ["{b}"]\ncsv = "{d}/a.csv"\n')
    write(os.path.join(d, "b.toml"), f'x0 = 10.0\ndt = 0.75\nrounds = 60\nneighbours = ["{a}"]\ncsv = "{d}/b.csv"\n')
    pa = subprocess.Popen([confab, "avg-node", "--listen", a, "--config", os.path.join(d, "a.toml")],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    # Bad input while node a waits for b.
    check(closes_after("127.0.0.1", base, b"hello, is this the consensus port?\r\n"), "garbage closes its connection")
    check(closes_after("127.0.0.1", base, struct.pack(">I", 1 << 30) + b"x" * 64), "an oversized frame closes its connection")
    bad = b"\x82\x01" + b"\x00" * 5
    check(closes_after("127.0.0.1", base, struct.pack(">IQ", 8 + len(bad), endpoint_id(b)) + bad, shutdown=False),
          "a malformed message closes its connection")
    time.sleep(0.5)
    pb = subprocess.run([confab, "avg-node", "--listen", b, "--config", os.path.join(d, "b.toml")],
                        capture_output=True, text=True, timeout=60)
    out_a, err_a = pa.communicate(timeout=60)
    check(pa.returncode == 0 and pb.returncode == 0, f"both nodes finished (exit {pa.returncode}, {pb.returncode})")
    weighted = (0 / 0.5 + 10 / 0.75) / (1 / 0.5 + 1 / 0.75)
    rows_a = list(csv.DictReader(open(os.path.join(d, "a.csv"))))
    rows_b = list(csv.DictReader(open(os.path.join(d, "b.csv"))))
    check(len(rows_a) == 61 and len(rows_b) == 61, "61 states each (x(0)..x(60))")
    xa, xb = float(rows_a[-1]["x"]), float(rows_b[-1]["x"])
    check(abs(xa - weighted) < 1e-9 and abs(xb - weighted) < 1e-9,
          f"both end at sum(x/dt)/sum(1/dt) = {weighted:.9f} (got {xa:.12f}, {xb:.12f}), not at the average 5")
    diffs = [float(ra["x"]) - float(rb["x"]) for ra, rb in zip(rows_a, rows_b)]
    flips = sum(1 for i in range(1, 8) if diffs[i] * diffs[i - 1] < 0)
    check(flips == 7, f"the difference changes sign every round (1 - (0.5 + 0.75) = -0.25): {flips} of 7")
    check(abs(diffs[1] / diffs[0] + 0.25) < 1e-12, "the difference shrinks by exactly -0.25 per round")
    check("closed a connection from" in err_a, "node a logged why it closed the bad connections")


def silent_neighbour(confab, d):
    base = free_ports(2)
    write(os.path.join(d, "lone.toml"),
          f'x0 = 1.0\ndt = 0.1\nstall_timeout_ms = 1500\nlinger_ms = 200\nneighbours = ["127.0.0.1:{base + 1}"]\n')
    t0 = time.time()
    r = run([confab, "avg-node", "--listen", f"127.0.0.1:{base}", "--config", os.path.join(d, "lone.toml")], timeout=60)
    took = time.time() - t0
    check(r.returncode == 1, f"a node whose neighbour never starts exits 1 (got {r.returncode})")
    check(f"127.0.0.1:{base + 1} silent" in r.stdout, "it names the silent neighbour")
    check(took < 30, f"and stops by itself ({took:.1f} s)")


def bad_configs(confab, d):
    base = free_ports(1)
    cases = [
        ("unknown.toml", 'x0 = 1\nneighbours = ["127.0.0.1:9"]\nspeed = 3\n', "unknown key 'speed'"),
        ("negative.toml", 'x0 = 1\ndt = -0.5\nneighbours = ["127.0.0.1:9"]\n', "dt"),
        ("noneigh.toml", "x0 = 1\n", "neighbours is required"),
        ("badaddr.toml", 'x0 = 1\nneighbours = ["localhost"]\n', "neighbours[0]"),
        ("self.toml", f'x0 = 1\nneighbours = ["127.0.0.1:{base}"]\n', "lists itself"),
        ("mode.toml", 'x0 = 1\nmode = "fast"\nneighbours = ["127.0.0.1:9"]\n', "is not one of"),
        ("syntax.toml", "x0 = = 1\n", "syntax.toml:1"),
    ]
    for name, text, want in cases:
        path = os.path.join(d, name)
        write(path, text)
        r = run([confab, "avg-node", "--listen", f"127.0.0.1:{base}", "--config", path], timeout=30)
        check(r.returncode == 2 and want in r.stderr, f"{name}: exit 2 naming '{want}' (got {r.returncode}: {r.stderr.strip()[:120]})")


def avg_command(confab, d):
    out = os.path.join(d, "report")
    edges = os.path.join(d, "path.txt")
    write(edges, "# a path of five\n0 1\n1 2\n2 3\n3 4\n")
    r = run([confab, "avg", "--topology", "file:" + edges, "--dt", "best", "--transport", "tcp",
             "--base-port", str(free_ports(1)), "--out", out, "--quiet"])
    check(r.returncode == 0, f"confab avg on an edge list over tcp exits 0 (got {r.returncode}: {r.stderr[-200:]})")
    rep = json.load(open(os.path.join(out, "report.json")))
    check(rep["outcomes"]["finished"] == 5, "report.json: every node finished")
    check(abs(rep["measured_rate"] / rep["theory"]["rho"] - 1) < 0.01, "report.json: measured rate within 1% of rho")
    for f in ("trajectories.csv", "trajectories.svg", "disagreement.svg"):
        check(os.path.getsize(os.path.join(out, f)) > 100, f"{f} written")
    r = run([confab, "avg", "--topology", "ring:6", "--dt", "0.6", "--rounds", "5000", "--quiet"])
    check(r.returncode == 1 and "diverged" in r.stdout, f"dt above 2/lmax: exit 1 and 'diverged' (got {r.returncode})")
    write(os.path.join(d, "split.txt"), "0 1\n2 3\n")
    r = run([confab, "avg", "--topology", "file:" + os.path.join(d, "split.txt"), "--quiet"])
    check(r.returncode == 2 and "disconnected" in r.stderr, f"a disconnected edge list: exit 2 (got {r.returncode})")
    r = run([confab, "avg", "--topology", "ring:4", "--dt", "0.1,0.2", "--quiet"])
    check(r.returncode == 2 and "2 values for 4 nodes" in r.stderr, "a dt list of the wrong length: exit 2")
    r = run([confab, "avg", "--topology", "ring:4", "--dt", "-1", "--quiet"])
    check(r.returncode == 2 and "dt must be a positive number" in r.stderr, "dt <= 0: exit 2")
    r = run([confab, "avg", "--mode", "fastest"])
    check(r.returncode == 2, "an unknown mode: exit 2")
    paper = os.path.join(d, "paper")
    r = run([confab, "avg", "paper", "--out", paper, "--rounds", "70", "--base-port", str(free_ports(10)), "--quiet"],
            timeout=300)
    check(r.returncode == 0, f"confab avg paper exits 0 (got {r.returncode})")
    table = json.load(open(os.path.join(paper, "paper.json")))
    check(len(table) == 10 and len([f for f in os.listdir(paper) if f.endswith(".svg")]) == 10,
          "ten cases, one plot each")
    by = {row["case"]: row for row in table}
    check(abs(by["table1-0.75-0.5"]["final_x1"] - 6.0) < 1e-9, "Table I (0.75, 0.5) ends at 6, not 5")
    check(by["table1-0.5-0.75"]["oscillates"] and not by["table1-0.1-0.1"]["oscillates"], "oscillation as the eigenvalue says")
    t = [by[f"table2-delay-{x}"]["seconds_to_1e-6"] for x in ("0.1", "10", "50", "100", "200")]
    check(all(t[i] < t[i + 1] for i in range(4)), f"Table II: the sleep stretches the time to 1e-6 {t}")
    check(len({by[f"table2-delay-{x}"]["final_x1"] for x in ("0.1", "10", "50", "100", "200")}) == 1,
          "Table II: and nothing else (same values at every sleep)")


def main():
    confab = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="confab-avg-") as d:
        two_terminals(confab, d)
        silent_neighbour(confab, d)
        bad_configs(confab, d)
        avg_command(confab, d)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
