#!/usr/bin/env bash
# The main job on its embedded default: set up, build optimised, and run
# `confab sim`: 3 seeds and 1,000 peers in one process over real TCP on
# loopback, one-way delay 40 ms ± 10 ms, 2% of the peers killed part-way,
# the documents' intervals scaled to end within two minutes. It prints a
# progress line every second, a summary, and where the report is
# (sim-report/report.html and report.json). Extra arguments go to
# `confab sim` (see docs/sim.md).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
# Warnings are not errors here: -O3 warns where the suite's -O2 build does
# not, and a new warning must not stop the main command (the suite builds
# the same code with -Werror, so an error would be caught there).
if [ ! -f build-release/build.ninja ]; then
  meson setup build-release --buildtype=release -Dwerror=false -Dtests=disabled -Dbench=disabled >/dev/null
fi
ninja -C build-release tools/confab >/dev/null
exec ./build-release/tools/confab sim --out sim-report "$@"
