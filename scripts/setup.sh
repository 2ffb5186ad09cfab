#!/usr/bin/env bash
# Installs exactly the Debian 12 packages confab builds and tests with.
# `--with-browser` adds headless Chromium for the test suite.
# Idempotent: when every package is already installed it prints one line and
# touches nothing. Needs root (or sudo) only when something is missing.
set -euo pipefail

packages=(
  build-essential pkg-config meson ninja-build
  liburing-dev            # io_uring backend (2.3 on Debian 12; newer kernel features probed at run time)
  libboost1.81-dev        # Boost.Asio: epoll fallback backend and the reference echo server
  libopenblas-dev liblapacke-dev   # linalg
  libabsl-dev             # flat_hash_set baseline in the dedup benchmark
  libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev            # command line of the confab tool
  libtomlplusplus-dev     # TOML configuration files
  nlohmann-json3-dev      # JSON: reports, traces, --json output (one library for all of it)
  libsodium-dev           # optional cluster key (frame authentication)
  libxxhash-dev           # XXH3 checksums of the seeds' Raft log and state file
  python3                 # test helpers (legacy-dialect client, report checks)
  iproute2 procps         # the partition test makes network namespaces (ip, sysctl)
  slurmctld slurmd slurm-client munge   # tools/slurm/confab.sbatch, run for real by tests/processes/slurm_test.py
  etcd-server             # bench/etcd_compare.py: 3 etcd members against 3 confab seeds
  serf                    # bench/serf_compare.py: Serf agents against confab peers
)

# The test suite also renders `confab sim`'s HTML report in a headless
# browser (tests/processes/sim_test.py).
if [ "${1:-}" = "--with-browser" ]; then
  packages+=(chromium)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# The offline check of `confab launch k8s`'s objects against the Kubernetes
# schemas (tools/k8s/check.mjs) runs on Node.js with two npm packages pinned
# by tools/k8s/package-lock.json. Any Node.js >= 18 will do: Debian's, or one
# already installed.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
else
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "setup: done"
fi

k8s="$(cd "$(dirname "$0")/.." && pwd)/tools/k8s"
if [ ! -f "$k8s/node_modules/.package-lock.json" ] || [ "$k8s/package-lock.json" -nt "$k8s/node_modules/.package-lock.json" ]; then
  echo "setup: npm packages of tools/k8s (kubernetes-models, yaml)"
  npm ci --prefix "$k8s" --no-audit --no-fund --loglevel=error >/dev/null
fi
