#!/bin/sh
# The caches group's on_change hook: logs its run (start/end with the group,
# action and the members its report lists) to <e2e dir>/events, like the
# instances, so the e2e driver can order it against them.
set -eu
log=/dev/null
if [ -n "${TF_VAR_e2e_dir:-}" ]; then
  log="$TF_VAR_e2e_dir/events"
fi
echo "start hook:$FLEET_GROUP $(date +%s%N)" >>"$log"
members=$(grep -c '"label"' "$FLEET_GROUP_REPORT" || true)
echo "hook $FLEET_GROUP $FLEET_ACTION members=$members" >>"$log"
echo "flushing the CDN after $FLEET_GROUP ($FLEET_ACTION)"
if [ -n "${TF_VAR_e2e_dir:-}" ] && [ -e "$TF_VAR_e2e_dir/hook-fails" ]; then
  echo "end hook:$FLEET_GROUP $(date +%s%N)" >>"$log"
  echo "the flush failed on purpose" >&2
  exit 7
fi
echo "end hook:$FLEET_GROUP $(date +%s%N)" >>"$log"
