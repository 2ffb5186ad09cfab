#!/usr/bin/env bash
# The layering runs one way: engine -> protocols -> tools; linalg stands
# alone. A wrong include fails here even where the build would not notice.
cd "$(dirname "$0")/.."
bad=0
check() {  # dir, forbidden-pattern, message
  [ -d "$1" ] || return 0
  hits=$(grep -rnE "#include *[<\"]($2)/" "$1" 2>/dev/null)
  if [ -n "$hits" ]; then echo "layering: $3"; echo "$hits"; bad=1; fi
}
check engine 'protocols|linalg|tools' "engine/ must not include protocols/, linalg/ or tools/"
check linalg 'engine|protocols|tools' "linalg/ must not include engine/, protocols/ or tools/"
check protocols 'tools|linalg' "protocols/ must not include tools/ or linalg/"
[ $bad -eq 0 ] && echo "layering check: clean"
exit $bad
