#!/usr/bin/env bash
# GCC 12 (Debian 12's compiler) miscompiles `co_await` written inside an
# if/while condition when the awaiter has a non-trivial destructor: the
# coroutine never resumes. Bind the result to a variable first. This check
# keeps the pattern out of the tree.
cd "$(dirname "$0")/.."
hits=$(grep -rnE '\b(if|while) *\( *!? *co_await' engine protocols linalg tools tests bench 2>/dev/null)
if [ -n "$hits" ]; then
  echo "co_await inside an if/while condition (see scripts/check_co_await_conditions.sh):"
  echo "$hits"
  exit 1
fi
echo "co_await conditions: none"
