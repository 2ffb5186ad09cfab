#!/usr/bin/env python3
"""Churn at 1,000 peers for two minutes (bench/scenarios/churn_1000.toml):
480 relays crash, one every 250 ms, and 480 new peers join, over real TCP
and over the in-process transport, one `confab sim` run each. From each
run's report.json: messages that reached every live peer the overlay
connected to their origin, the (message, peer) pairs a crash had cut off
at send, crashed peers removed by every seed and the last removal, false
removals, joiners that never linked, the PL against the live peers, the
overlay's exponent before the churn and at the end, and whether the
emulation kept up. Writes bench/results/churn.json, churn.svg (peers
crashed so far against crashed peers removed by every seed so far, over
time: removal keeps pace with churn) and churn_degrees.svg (the degree
distribution at the end, log-log).

  python3 bench/churn.py                              # both runs (about 6 minutes on 2 cores)
  python3 bench/churn.py --only tcp
  python3 bench/churn.py --reuse tcp=/tmp/churn-tcp   # analyse a finished run's folder

Each run is bounded by its scenario (162 s of run time) and shows confab's
own progress line.
"""
import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import svgplot  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIO = os.path.join(HERE, "scenarios/churn_1000.toml")
TRANSPORTS = ("tcp", "inproc")


def run(confab, transport, out_dir):
    print(f"== {transport}: confab sim --config {os.path.relpath(SCENARIO)} --transport {transport} --out {out_dir}",
          file=sys.stderr, flush=True)
    # Exit 1 means the run found problems (the report lists them); only 2 is a usage error.
    rc = subprocess.call([confab, "sim", "--config", SCENARIO, "--transport", transport, "--out", out_dir])
    if rc not in (0, 1):
        print(f"churn: confab sim exited {rc} for {transport}", file=sys.stderr)
        sys.exit(rc)
    return out_dir


def removed_by_every_seed(out_dir, seeds):
    """(s, crashed peers removed by every seed so far), from the trace."""
    by = {}
    with open(os.path.join(out_dir, "trace.jsonl")) as f:
        for line in f:
            d = json.loads(line)
            if d["event"] == "removed" and d["killed"]:
                by.setdefault(d["peer"], {}).setdefault(d["seed"], d["t_s"])
    done = sorted(max(s.values()) for s in by.values() if len(s) == seeds)
    return [(t, i + 1) for i, t in enumerate(done)]


def crashed_by_plan(scenario_path):
    """(s, peers crashed so far) from the scenario's churn fault."""
    import tomllib
    with open(scenario_path, "rb") as f:
        churn = [x for x in tomllib.load(f)["fault"] if x["kind"] == "churn"][0]
    steps = int(churn["for_s"] * churn["rate"] + 1e-9)
    return [(churn["at_s"] + k / churn["rate"], k + 1) for k in range(steps)]


def figures(out_dir):
    with open(os.path.join(out_dir, "report.json")) as f:
        r = json.load(f)
    d, fd, m, o, c, e = (r["dissemination"], r["failure_detection"], r["membership"], r["overlay"], r.get("churn", {}),
                         r["emulator"])
    return {
        "messages": d["messages"],
        "messages_complete": d["messages_complete"],
        "delivery_ratio": d["delivery_ratio"],
        "pairs_cut_off_at_send": c.get("peer_pairs_cut_off_at_send"),
        "crashed": c.get("crashed"),
        "joined": c.get("joined"),
        "joiners_never_linked": c.get("joiners_never_linked"),
        "removed_by_every_seed": fd["crash_to_removal_every_seed_s"]["n"],
        "last_removal_s": fd["crash_to_removal_every_seed_s"]["max"],
        "removal_median_s": fd["crash_to_removal_every_seed_s"]["p50"],
        "false_removals": fd["false_removals"],
        "pl_size": m["pl_size"],
        "pl_missing_live": m["pl_missing_live"],
        "pl_holding_dead": m["pl_holding_dead"],
        "exponent_before": r.get("after_kill", {}).get("powerlaw_alpha_before"),
        "exponent_after": o["powerlaw_alpha"],
        "mean_degree": o["mean_degree"],
        "degree_max": o["degree_max"],
        "connected": o["connected"],
        "lateness_p99_us": e["lateness_us"]["p99"] if "lateness_us" in e else e.get("lateness_p99_us"),
        "faithful": e.get("faithful"),
        "problems": r["problems"],
        "_removed": removed_by_every_seed(out_dir, r["seeds"]),
        "_degrees": o["degree_histogram"],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--confab", default=os.path.join(HERE, "../build-release/tools/confab"))
    ap.add_argument("--only", choices=TRANSPORTS)
    ap.add_argument("--reuse", action="append", default=[], help="TRANSPORT=DIR: a finished run's folder")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    a = ap.parse_args()
    reuse = dict(x.split("=", 1) for x in a.reuse)
    results = {}
    for t in TRANSPORTS:
        if a.only and t != a.only:
            continue
        out_dir = reuse.get(t) or run(a.confab, t, f"/tmp/confab-churn-{t}")
        results[t] = figures(out_dir)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "churn.json"), "w") as f:
        json.dump({t: {k: v for k, v in x.items() if not k.startswith("_")} for t, x in results.items()}, f, indent=1)
    series = [("crashed (the plan)", crashed_by_plan(SCENARIO))]
    for t, x in results.items():
        series.append((f"removed by every seed ({t})", x["_removed"]))
    svgplot.lines(os.path.join(a.out, "churn.svg"), "Churn at 1,000 peers: crashed peers, and crashed peers removed",
                  series, "seconds", "peers", points=False)
    svgplot.lines(os.path.join(a.out, "churn_degrees.svg"), "Degree distribution at the end of churn (log-log)",
                  [(t, [tuple(p) for p in x["_degrees"]]) for t, x in results.items()], "degree", "peers", loglog=True)
    for t, x in results.items():
        print(f"{t}: {x['messages_complete']}/{x['messages']} messages complete (delivery {x['delivery_ratio']}, "
              f"{x['pairs_cut_off_at_send']} pairs cut off at send); {x['removed_by_every_seed']}/{x['crashed']} crashed "
              f"removed by every seed (median {x['removal_median_s']} s, last {x['last_removal_s']} s), "
              f"{x['false_removals']} false; {x['joined']} joined, {x['joiners_never_linked']} never linked; PL "
              f"{x['pl_size']} ({x['pl_missing_live']} live missing, {x['pl_holding_dead']} dead held); exponent "
              f"{x['exponent_before']} -> {x['exponent_after']}, max degree {x['degree_max']}, mean {x['mean_degree']}; "
              f"lateness p99 {x['lateness_p99_us']} us ({'faithful' if x['faithful'] else 'NOT faithful'})")


if __name__ == "__main__":
    main()
