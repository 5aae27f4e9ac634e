#!/usr/bin/env bash
# The demo behind `make demo`: the whole pipeline on a built-in example. It simulates a small LPTEM video with
# ground truth (`samem sim`), runs segmentation + tracking + statistics + report on it (`samem run`), scores the
# result against the truth (`samem eval`), shows a prompted segmentation, a conversion and a PNG frame folder,
# and writes demo-out/report.txt (the figures and numbers are in demo-out/run/report.html).
# Usage: scripts/demo.sh BIN OUTDIR   (make demo: BIN=build/samem OUTDIR=demo-out)
set -euo pipefail
bin=${1:-build/samem}
out=${2:-demo-out}
[ -x "$bin" ] || { echo "demo: $bin is not built (run make build)" >&2; exit 1; }
rm -rf "$out"
mkdir -p "$out"
report="$out/report.txt"
say() { echo "$@" | tee -a "$report"; }
step() { say; say "\$ $*"; "$@" 2>&1 | tee -a "$report"; }

say "samem demo, $(date -u '+%Y-%m-%d %H:%M UTC'), $("$bin" --version)"
say "The whole pipeline on a simulated LPTEM video whose ground truth is known: simulate, segment every"
say "particle automatically with the shipped network, link tracks, analyse the motion, score against the truth."
step "$bin" sim -o "$out/sim" --preset medium --frames 60 --size 384 --particles 6 --seed 7 --quiet
video="$out/sim/video.tif"
step "$bin" info "$video"
step "$bin" run "$video" -o "$out/run" --quiet
step "$bin" eval "$out/run/masks.tif" "$out/sim/gt_labels.tif" --match optimal \
  --tracks-pred "$out/run/tracks.csv" --tracks-gt "$out/sim/gt_tracks.csv" --json "$out/eval.json"
say
say "the same video with a box prompt for one particle instead of automatic detection:"
box=$(awk -F, 'NR > 1 && $1 == 0 && $NF == 1 { r = sqrt($5 / 3.14159) + 3; printf "%d:%d,%d,%d,%d", $2, $3 - r, $4 - r, $3 + r, $4 + r; exit }' "$out/sim/gt_tracks.csv")
step "$bin" segment "$video" --box "$box" -o "$out/segment" --quiet
step "$bin" analyze "$out/sim/gt_tracks.csv" -o "$out/truth-analysis" --quiet
say
say "ground truth D per particle (nm^2/s) beside the estimates from the pipeline: $out/sim/truth.json, $out/run/stats.json"
step "$bin" convert "$video" "$out/clip.tif" --frames 5:15 --crop 64,64,128,128 --quiet
step "$bin" sim -o "$out/sim-png" --preset thin --frames 12 --size 128 --seed 2 --format png --quiet
step "$bin" info "$out/sim-png/frames"
say
say "error handling: a missing file gives one line and exit code 2"
set +e
"$bin" info "$out/no-such-file.tif" 2>&1 | tee -a "$report"
say "exit code: ${PIPESTATUS[0]}"
set -e
say
say "outputs in $out:"
(cd "$out" && find . -type f | sort | sed 's/^\.\//  /') | tee -a "$report"
echo "demo: wrote $report; open $out/run/report.html for the figures" >&2
