#!/usr/bin/env bash
# Two patterns that GCC 12 (Debian 12's compiler) miscompiles in coroutines,
# both seen in this tree as hangs or use-after-free under ASan:
#  - a braced temporary with a non-trivial destructor inside a co_await
#    full-expression (`co_await connect(r, at, {.stop = tok})`,
#    `co_await waiter{token}`): it is destroyed twice;
#  - `co_await` written inside an if/while condition.
# Bind such values to named variables first. This check keeps both out.
cd "$(dirname "$0")/.."
dirs=$(ls -d engine protocols linalg tools tests bench 2>/dev/null)
hits=$(grep -rnE '\b(if|while) *\( *!? *co_await|co_await[^;]*\{\.|co_await [A-Za-z_:<>]+\{' $dirs 2>/dev/null)
if [ -n "$hits" ]; then
  echo "coroutine patterns GCC 12 miscompiles (see scripts/check_co_await_conditions.sh):"
  echo "$hits"
  exit 1
fi
echo "coroutine pattern check: clean"
