#!/usr/bin/env bash
# Runs every benchmark program (build/bench_*) and joins their sections into bench/RESULTS.md, headed by
# the machine they ran on. BENCH_ONLY=name runs one.
set -eu
build=${1:-build}
cd "$(dirname "$0")/.."
mkdir -p bench/results
for exe in "$build"/bench/bench_* "$build"/bench_*; do
  [ -x "$exe" ] || continue
  name=$(basename "$exe")
  [ -n "${BENCH_ONLY:-}" ] && [ "$name" != "$BENCH_ONLY" ] && continue
  echo "== $name" >&2
  "$exe" "bench/results/$name.md"
done
{
  echo "# samem benchmark results"
  echo
  echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/{print $2}') GiB;"
  echo "command: \`make bench\` (each section names its own program). Sections are rewritten by the programs."
  for f in bench/results/*.md; do
    [ -f "$f" ] || continue
    echo
    cat "$f"
  done
} > bench/RESULTS.md.tmp
mv bench/RESULTS.md.tmp bench/RESULTS.md
echo "wrote bench/RESULTS.md" >&2
