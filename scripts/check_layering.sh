#!/usr/bin/env bash
# The layering runs one way (docs/architecture.md):
#   engine -> protocols -> harness -> tools, linalg alone.
# Inside engine, engine/seam is the interface protocols see and the hosts
# (engine/host) are built on it, never the other way. A wrong include fails
# here even where the build would not notice.
cd "$(dirname "$0")/.."
bad=0
check() {  # dir, forbidden-pattern, message
  [ -d "$1" ] || return 0
  hits=$(grep -rnP "#include *[<\"]($2)" "$1" 2>/dev/null)
  if [ -n "$hits" ]; then echo "layering: $3"; echo "$hits"; bad=1; fi
}
check engine '(protocols|linalg|harness|tools)/' "engine/ must not include protocols/, linalg/, harness/ or tools/"
check engine/seam 'engine/(io|net|host|delay|sim)/' "engine/seam/ is the interface alone: it may include engine/core/ only"
check engine/core 'engine/(seam|io|net|host|delay|sim)/' "engine/core/ is the bottom floor: it includes nothing else of the engine"
check linalg '(engine|protocols|harness|tools)/' "linalg/ must not include engine/, protocols/, harness/ or tools/"
check protocols '(tools|harness)/' "protocols/ must not include tools/ or harness/"
# Exact consensus does its maths with linalg; no other protocol sees it.
hits=$(grep -rnP '#include *[<"]linalg/' protocols 2>/dev/null | grep -v '^protocols/exact/')
if [ -n "$hits" ]; then echo "layering: only protocols/exact/ sees linalg/"; echo "$hits"; bad=1; fi
# Protocols see the engine through the seam only: env.hpp and result.hpp.
check protocols 'engine/(?!seam/env\.hpp|core/result\.hpp)' "protocols/ see the engine only through engine/seam/env.hpp and engine/core/result.hpp"
# A peer sees the seeds' client side only, never their Raft messages.
check protocols/peers 'protocols/seeds/(?!client\.hpp)' "protocols/peers/ see only the seeds' client side (protocols/seeds/client.hpp)"
# A protocol born after seeds and peers shares only protocols/common.
check protocols/average 'protocols/(?!common/|average/)' "protocols/average/ may include only protocols/common/ and itself"
# Exact consensus runs average's linear rounds and adds its recovery.
check protocols/exact 'protocols/(?!common/|average/|exact/)' "protocols/exact/ may include only protocols/common/, protocols/average/ and itself"
check harness 'tools/' "harness/ must not include tools/"
# Of the harness, only its topology reader sees linalg (its own library).
hits=$(grep -rnP '#include *[<"]linalg/' harness 2>/dev/null | grep -v '^harness/topology\.')
if [ -n "$hits" ]; then echo "layering: only harness/topology sees linalg/"; echo "$hits"; bad=1; fi
[ $bad -eq 0 ] && echo "layering check: clean"
exit $bad
