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
# REAL_DATA.md's other simulator: one 106x43 px rod moving ~28 px/frame and turning, noise correlated 0.68 at
# 1 px, JPEG; contrast-to-noise near 0.9
"$bin" sim -o "$out/rod" --preset medium --frames 30 --size 1024 --particles 1 --shape rod --motion directed \
  --set size_min_px=106 --set size_max_px=106 --set rod_aspect_min=2.46 --set rod_aspect_max=2.46 \
  --set velocity_nm_s=560 --set rotation_rate_rad_s=2 --set noise_corr_sigma_px=0.8 --set jpeg_quality=85 \
  --set mu_min_per_nm=0.015 --set mu_max_per_nm=0.015 --set exposure_fraction=0.1 --seed 6 --quiet
echo "gallery: $out/gallery.png and $out/{thin,medium,thick,rod}/ (video.tif, preview.png, truth.json)" >&2
