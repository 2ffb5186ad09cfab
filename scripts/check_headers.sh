#!/usr/bin/env bash
# Every public header compiles alone (its own includes suffice).
cd "$(dirname "$0")/.."
bad=0
n=0
for h in $(find engine protocols harness linalg tools -name '*.hpp' 2>/dev/null | sort); do
  n=$((n + 1))
  if ! echo "#include \"$h\"" | g++ -std=c++20 -fsyntax-only -Wall -Wextra -Werror -Wno-missing-field-initializers -I. -x c++ - 2>/tmp/hdr.err; then
    echo "header does not compile alone: $h"
    head -5 /tmp/hdr.err
    bad=1
  fi
done
[ $bad -eq 0 ] && echo "header check: $n headers compile alone"
exit $bad
