#!/usr/bin/env bash
# `make gallery`: renders the simulator's thin, medium and thick presets for every shape into one picture
# sheet (OUT/gallery.png: one frame and a 5-frame mean per shape, and each preset's grey-level histogram),
# and writes a short mixed-shape video per preset (OUT/<preset>/video.tif with its ground truth and
# preview.png) to open in ImageJ/Fiji. Compare with docs/simulator.md and ../shared/REAL_DATA.md.
set -eu
bin=${1:-build/samem}
out=${2:-gallery-out}
mkdir -p "$out"
"$bin" sim --gallery "$out/gallery.png" --seed 1 --quiet
for preset in thin medium thick; do
  "$bin" sim -o "$out/$preset" --preset "$preset" --frames 30 --size 512 --particles 6 --seed 1 --quiet
done
echo "gallery: $out/gallery.png and $out/{thin,medium,thick}/ (video.tif, preview.png, truth.json)" >&2
