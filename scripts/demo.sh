#!/usr/bin/env bash
# The demo behind `make demo`: shows what samem does end to end with what exists so far. It simulates a small
# LPTEM video with ground truth (`samem sim`), describes it (`samem info`), cuts a range and a crop of it into
# a TIFF stack (`samem convert`), exports a PNG frame folder and reads that back, and writes a short report.
# Later issues extend it with segment, track and analyze.
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
if "$bin" help sim >/dev/null 2>&1; then
  step "$bin" sim -o "$out/sim" --preset medium --frames 20 --size 256 --seed 1 --quiet
  video="$out/sim/video.tif"
  step "$bin" sim -o "$out/sim-png" --preset thin --frames 12 --size 128 --seed 2 --format png --quiet
  frames="$out/sim-png/frames"
else
  # no simulator in this build: a small synthetic stack from the test suite's writer is not available from
  # the shell either, so use python3/tifffile when present
  say "(samem sim is not in this build; making a synthetic stack with python3)"
  /usr/bin/python3 - "$out" <<'EOF'
import sys, numpy as np, tifffile
out = sys.argv[1]
y, x = np.mgrid[:256, :256]
stack = np.stack([(1000 + 500 * np.exp(-((x - 60 - 5 * t) ** 2 + (y - 128) ** 2) / 200)).astype(np.uint16)
                  for t in range(20)])
tifffile.imwrite(out + '/video.tif', stack, imagej=True, resolution=(2.0, 2.0),
                 metadata={'unit': 'nm', 'finterval': 0.05})
EOF
  video="$out/video.tif"
  frames=""
fi
step "$bin" info "$video"
step "$bin" convert "$video" "$out/clip.tif" --frames 5:15 --crop 64,64,128,128 --quiet
step "$bin" info "$out/clip.tif"
if [ -n "$frames" ]; then
  step "$bin" info "$frames"
  step "$bin" convert "$frames" "$out/frames.tif" --quiet
fi
say
say "error handling: a missing file gives one line and exit code 2"
set +e
"$bin" info "$out/no-such-file.tif" 2>&1 | tee -a "$report"
say "exit code: ${PIPESTATUS[0]}"
set -e
say
say "outputs in $out:"
(cd "$out" && find . -type f | sort | sed 's/^\.\//  /') | tee -a "$report"
echo "demo: wrote $report" >&2
