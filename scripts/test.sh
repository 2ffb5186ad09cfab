#!/usr/bin/env bash
# The whole test suite: set up, build (optimised with assertions, and
# ASan+UBSan), run the source checks and every test on both engine backends
# in both builds. Ends with one line "summary: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --with-browser || exit 1

fail=0
step() { echo; echo "== $*"; }

step "source checks"
./scripts/check_co_await_conditions.sh || fail=1
./scripts/check_layering.sh || fail=1
./scripts/check_headers.sh || fail=1

step "configure and build"
# -g1 (line tables: names and lines in every backtrace, no variable info)
# compiles about a fifth faster than -g. The sanitised build uses -Og: with
# UBSan's checks GCC spends four times as long at -O2 for tests that run
# only a third slower at -Og (25 against 6 minutes of build on 2 cores).
[ -f build/build.ninja ] || meson setup build --buildtype=debugoptimized -Dcpp_args=-g1 >/dev/null || exit 1
[ -f build-asan/build.ninja ] || meson setup build-asan -Ddebug=true -Doptimization=g -Dcpp_args=-g1 \
  -Db_sanitize=address,undefined -Db_lundef=false -Dbench=disabled >/dev/null || exit 1
ninja -C build || exit 1
# Under the sanitisers only what the sanitised tests below run is built
# (the confab tool and the linalg tests are not: a third of the build time).
ninja -C build-asan tests/engine_tests tests/engine_fallback_probe tests/protocols_tests tests/harness_tests \
  tests/average_tests tests/exact_tests || exit 1
# The main command's release build (-O3) is not built here: scripts/run.sh
# builds it without -Werror, so the warnings only -O3 emits cannot break
# it, and any error would fail the build above (the same code). That saves
# about 7 minutes of the suite's 2 cores.

export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS=detect_leaks=1
step "tests (optimised build)"
meson test -C build --print-errorlogs --num-processes 1 || fail=1
step "tests (ASan+UBSan build)"
# The sanitised build runs the engine, protocol and harness suites (linalg
# spends its time inside OpenBLAS/LAPACK, which is not instrumented).
# The 1,000-seed simulation sweeps run in the optimised build above; under
# the sanitisers 100 seeds each look for memory and UB errors.
CONFAB_SWEEP_COUNT=100 meson test -C build-asan --no-rebuild --print-errorlogs --num-processes 1 --timeout-multiplier 3 engine protocols harness average exact || fail=1

step "benchmark smoke runs"
bash bench/run_smoke.sh build || fail=1

# Count individual test cases from meson's JUnit logs.
read -r passed failed < <(python3 - <<'PY'
import xml.etree.ElementTree as ET, os
p = f = 0
for d in ("build", "build-asan"):
    path = os.path.join(d, "meson-logs", "testlog.junit.xml")
    if not os.path.exists(path):
        continue
    for tc in ET.parse(path).getroot().iter("testcase"):
        if tc.find("failure") is not None or tc.find("error") is not None:
            f += 1
        elif tc.find("skipped") is None:
            p += 1
print(p, f)
PY
)
[ "$fail" -ne 0 ] && [ "${failed:-0}" -eq 0 ] && failed=1
echo
echo "summary: ${passed:-0} passed, ${failed:-0} failed"
[ "$fail" -eq 0 ] && [ "${failed:-0}" -eq 0 ]
