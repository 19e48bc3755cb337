#!/bin/sh
# Runs when a cluster's apply window is created (once per runner and round).
# With E2E_DIR set (TF_VAR_e2e_dir):
#   windows         every run appends "start <name> <runner> <unix time>" and,
#                   when done, "end <name> <runner> <unix time>"
#   hold-<name>     the instance creates held-<name>-<runner> and waits for
#                   release (bounded: 300 s), holding terraform's state lock
# Between start and end it works for 0.5 s, the apply the window stands for.

[ -n "$E2E_DIR" ] || exit 0
now() { date +%s.%N; }
echo "start $NAME $RUNNER $(now)" >>"$E2E_DIR/windows"
if [ -e "$E2E_DIR/hold-$NAME" ]; then
  touch "$E2E_DIR/held-$NAME-$RUNNER"
  tries=0
  while [ ! -e "$E2E_DIR/release" ]; do
    tries=$((tries + 1))
    if [ "$tries" -gt 3000 ]; then
      echo "$NAME: gave up waiting for $E2E_DIR/release" >&2
      exit 1
    fi
    sleep 0.1
  done
fi
sleep 0.5
echo "end $NAME $RUNNER $(now)" >>"$E2E_DIR/windows"
