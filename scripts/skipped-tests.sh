#!/usr/bin/env bash
# After ctest: prints why tests were skipped (ctest itself lists them only as "(Skipped)"), one
# line per reason with how many tests gave it. Reasons are the "SKIP: ..." line of a script test
# (exit 77) and the message after GoogleTest's "path:line: Skipped".
# Usage: scripts/skipped-tests.sh BUILD_DIR
log="$1/Testing/Temporary/LastTest.log"
[ -f "$log" ] || exit 0
awk '
  /^[0-9]+\/[0-9]+ Test: / { test = $3 }
  /^SKIP: / { note(substr($0, 7)) }
  /: Skipped$/ { if ((getline reason) > 0) note(reason) }
  function note(reason) {
    if (!(reason in count)) { order[++n] = reason; first[reason] = test }
    count[reason]++
  }
  END {
    for (i = 1; i <= n; i++) {
      r = order[i]
      more = count[r] > 1 ? (" and " (count[r] - 1) " more") : ""
      printf "tcpx-p2p: skipped %s%s: %s\n", first[r], more, r
    }
  }' "$log"
