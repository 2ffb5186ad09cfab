#!/usr/bin/env bash
# Runs every benchmark harness once with tiny sizes and times, so they cannot
# rot. Checks they run and produce their outputs; asserts no figures.
set -euo pipefail
build=${1:-build}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
CONFAB_QUIET=1 python3 bench/echo_compare.py --build "$build" --runs 1 --connections 4 --bytes 64 \
  --warmup-ms 50 --duration-ms 200 --idle 50 --out "$out" > "$out/table.md"
test -s "$out/echo_compare.json"
test -s "$out/echo_compare.svg"
grep -q 'confab-uring' "$out/table.md"
echo "bench smoke: echo_compare ran ($(grep -c '^| 4 ' "$out/table.md") rows)"
# Google Benchmark files: one tiny run each. Torus 25 with f = 2 is left out:
# its planning alone takes about 10 s (see bench/RESULTS.md).
OPENBLAS_NUM_THREADS=1 "$build/bench/linalg_benchmark" --benchmark_min_time=0.001 \
  --benchmark_filter='^BM_recover_(batched|naive)/(ring9|torus9|petersen|torus25_f[01])' > "$out/linalg.txt" 2>&1
grep -q 'BM_recover_batched/torus25_f1' "$out/linalg.txt"
echo "bench smoke: linalg_benchmark ran ($(grep -c '^BM_' "$out/linalg.txt") benchmarks)"
python3 bench/seeds_bench.py --confab "$build/tools/confab" --runs 1 --peers 300 --window 64 --out "$out" > "$out/seeds.md" 2>/dev/null
test -s "$out/seeds_bench.json"
test -s "$out/seeds_bench.svg"
grep -q '^| 3 |' "$out/seeds.md"
echo "bench smoke: seeds_bench ran ($(grep -c '^| [35] |' "$out/seeds.md") rows)"
"$build/bench/dedup_benchmark" --benchmark_min_time=0.01 > "$out/dedup.txt" 2>&1
grep -q 'BM_dedup_lockfree' "$out/dedup.txt"
echo "bench smoke: dedup_benchmark ran ($(grep -c '^BM_' "$out/dedup.txt") benchmarks)"
"$build/bench/gossip_sim" --peers 100 --mode plumtree > "$out/gossip.json" 2>/dev/null
grep -q '"messages_complete":100' "$out/gossip.json"
echo "bench smoke: gossip_sim ran (100 peers, every message complete)"
"$build/bench/delay_benchmark" --benchmark_min_time=0.01 > "$out/delay.txt" 2>&1
grep -q 'BM_delay_line_wheel' "$out/delay.txt"
echo "bench smoke: delay_benchmark ran ($(grep -c '^BM_' "$out/delay.txt") benchmarks)"
python3 bench/sim_bench.py --confab "$build/tools/confab" --runs 1 --samples 20000 --sim-runs 1 --peers 60 --scale 0.1 \
  --out "$out" > "$out/sim.md" 2>/dev/null
test -s "$out/sim_bench.json"
test -s "$out/sim_bench.svg"
grep -q '^| tcp (60 peers)' "$out/sim.md"
echo "bench smoke: sim_bench ran (emulator self-test, confab sim over tcp and inproc)"
python3 bench/vote_compare.py --confab "$build/tools/confab" --sizes 50 --runs 1 --out "$out" > "$out/vote.md" 2>/dev/null
test -s "$out/vote_compare.json"
test -s "$out/vote_compare.svg"
grep -q '^| 50 | python-threads |' "$out/vote.md"
echo "bench smoke: vote_compare ran (50 clients, confab and the threaded baseline)"
python3 bench/etcd_compare.py --confab "$build/tools/confab" --runs 1 --writes 1000 --window 64 --out "$out" > "$out/etcd.md" 2>/dev/null
test -s "$out/etcd_compare.json"
test -s "$out/etcd_compare.svg"
grep -q '^| etcd |' "$out/etcd.md"
echo "bench smoke: etcd_compare ran (3 confab seeds and 3 etcd members, 1000 writes each)"
python3 bench/serf_compare.py --confab "$build/tools/confab" --sizes 8 --runs 1 --systems confab,serf-lan \
  --idle-s 2 --events 4 --event-rate 4 --pause-s 2 --after-pause-s 2 --removal-s 30 --out "$out" > "$out/serf.md" 2>/dev/null
test -s "$out/serf_compare.json"
test -s "$out/serf_compare_removal.svg"
grep -q '^| serf-lan@8 |' "$out/serf.md"
echo "bench smoke: serf_compare ran (8 confab peers and 8 Serf agents)"
