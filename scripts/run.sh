#!/usr/bin/env bash
# The main job on its embedded default: set up, build optimised, run.
# Until the load-test harness lands this is the engine demo, on the backend
# the kernel allows (io_uring, or the epoll fallback), printing its figures.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
if [ ! -f build-release/build.ninja ]; then
  meson setup build-release --buildtype=release -Dtests=disabled -Dbench=disabled >/dev/null
fi
ninja -C build-release tools/confab >/dev/null
exec ./build-release/tools/confab demo "$@"
