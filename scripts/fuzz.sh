#!/usr/bin/env bash
# Runs each libFuzzer target for N seconds on its seed corpus (fuzz/corpus/<name>), stopping at the first
# finding. Usage: scripts/fuzz.sh BUILD_DIR SECONDS
set -eu
build=$1
seconds=${2:-60}
cd "$(dirname "$0")/.."
status=0
for exe in "$build"/fuzz/fuzz_* "$build"/fuzz_*; do
  [ -x "$exe" ] || continue
  name=$(basename "$exe")
  corpus="fuzz/corpus/$name"
  work=$(mktemp -d)
  [ -d "$corpus" ] && cp -r "$corpus"/. "$work"/ 2>/dev/null || true
  echo "== $name: $seconds s" >&2
  if ! "$exe" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 "$work" 2>"$work.log"; then
    echo "FINDING in $name; see $work.log" >&2
    tail -30 "$work.log" >&2
    status=1
  else
    grep -E "stat::number_of_executed_units|Done" "$work.log" | tail -2 >&2 || true
  fi
  rm -rf "$work"
done
exit $status
