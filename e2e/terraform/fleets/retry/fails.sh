#!/bin/sh
# Fails the first $FAILS runs, counted in $E2E_DIR/retry-$NAME.count, the way a
# throttled cloud API does.
[ -n "$E2E_DIR" ] || exit 0
count="$E2E_DIR/retry-$NAME.count"
n=$(($(cat "$count" 2>/dev/null || echo 0) + 1))
echo "$n" >"$count"
if [ "$n" -le "$FAILS" ]; then
  echo "RequestLimitExceeded: Request limit exceeded (run $n of $NAME)" >&2
  exit 1
fi
