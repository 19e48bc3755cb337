#!/bin/sh
# Runs when an instance's hook resource is created (once per e2e round).
# With E2E_DIR set (TF_VAR_e2e_dir), the e2e driver steers it with marker files:
#   hooks           every run appends "<name> <round>"
#   fixed           fail_unless_fixed instances succeed only once it exists
#   fail-when-told  they first create waiting-<name> and wait for fail-now
#   hold            every instance creates held-<name> and waits for release
#   hold-<name>     the same, for that instance only
# Waits are bounded (60 s), so a broken run ends instead of hanging.

wait_for() {
  tries=0
  while [ ! -e "$1" ]; do
    tries=$((tries + 1))
    if [ "$tries" -gt 600 ]; then
      echo "$NAME: gave up waiting for $1" >&2
      exit 1
    fi
    sleep 0.1
  done
}

if [ -z "$E2E_DIR" ]; then
  if [ "$FAIL_UNLESS_FIXED" = true ]; then
    echo "$NAME: fails on purpose (no e2e directory to be fixed from)" >&2
    exit 1
  fi
  exit 0
fi

echo "$NAME $ROUND" >>"$E2E_DIR/hooks"
if [ "$FAIL_UNLESS_FIXED" = true ]; then
  if [ -e "$E2E_DIR/fail-when-told" ]; then
    touch "$E2E_DIR/waiting-$NAME"
    wait_for "$E2E_DIR/fail-now"
  fi
  if [ ! -e "$E2E_DIR/fixed" ]; then
    echo "$NAME: fails on purpose ($E2E_DIR/fixed is missing)" >&2
    exit 1
  fi
fi
if [ -e "$E2E_DIR/hold" ] || [ -e "$E2E_DIR/hold-$NAME" ]; then
  touch "$E2E_DIR/held-$NAME"
  wait_for "$E2E_DIR/release"
fi
