# Library of the bundle's build driver, sourced again at the start of every pass.

# run_task FILE PASS: reads one task file, as a build system reads its rules,
# and folds it into $state. A task file read half-written has no end marker.
run_task() {
  local file="$1" pass="$2" content
  content="$(cat "$file")"
  if [[ "$content" != *$'\n# end' ]]; then
    echo "buildsys-make: $file is truncated (pass $pass)" >&2
    return 1
  fi
  state="$(printf '%s\n%s\n%s' "$state" "$pass" "$content" | sha256sum | cut -c1-64)"
  tasks_run=$((tasks_run + 1))
}
