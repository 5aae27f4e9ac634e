#!/usr/bin/python3
"""Reference values for tests/metrics/test_seg_reference.c: segmentation scores of random label planes computed
with dense numpy arrays (boolean masks, shifted copies for the boundary and its disk dilation, brute-force
optimal matching), following the definitions in include/samem/metrics.h, so that the C code's overlap hashing,
sparse assignment and windowed boundary computation are checked against an independent implementation.

Writes tests/metrics/data/seg_reference.txt:
    case <width> <height> <frames> <bound_px>
    pred <one line per frame: width*height digits, row-major>
    gt   <same>
    expect iou dice f jf ctc_seg ce_median ce_mean ce_rmse ce_p95 n_rows n_pairs
Run: /usr/bin/python3 tests/metrics/seg_reference.py
"""
import itertools
import os

import numpy as np


def best_matching(score):
    n, m = score.shape
    best, best_pairs = 0.0, []
    for k in range(min(n, m), 0, -1):
        for rows in itertools.combinations(range(n), k):
            for perm in itertools.permutations(range(m), k):
                s = sum(score[r, c] for r, c in zip(rows, perm))
                if s > best + 1e-12:
                    best, best_pairs = s, list(zip(rows, perm))
    return [(r, c) for r, c in best_pairs if score[r, c] > 0]


def boundary(mask):
    pad = np.pad(mask, 1, constant_values=False)
    inner = pad[:-2, 1:-1] & pad[2:, 1:-1] & pad[1:-1, :-2] & pad[1:-1, 2:]
    return mask & ~inner


def dilate(b, r):
    h, w = b.shape
    out = np.zeros_like(b)
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            if dx * dx + dy * dy > r * r:
                continue
            src = b[max(0, -dy):h - max(0, dy), max(0, -dx):w - max(0, dx)]
            out[max(0, dy):h - max(0, -dy), max(0, dx):w - max(0, -dx)] |= src
    return out


def f_measure(p, g, r):
    bp, bg = boundary(p), boundary(g)
    if bp.sum() == 0 and bg.sum() == 0:
        return 1.0
    if bp.sum() == 0 or bg.sum() == 0:
        return 0.0
    prec = (bp & dilate(bg, r)).sum() / bp.sum()
    rec = (bg & dilate(bp, r)).sum() / bg.sum()
    return 0.0 if prec + rec == 0 else 2 * prec * rec / (prec + rec)


def centroid(mask):
    ys, xs = np.nonzero(mask)
    return xs.mean(), ys.mean()


def random_plane(rng, w, h):
    lab = np.zeros((h, w), dtype=int)
    yy, xx = np.mgrid[0:h, 0:w]
    for k in range(int(rng.integers(0, 4))):
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        a, b = rng.uniform(2, 7), rng.uniform(2, 7)
        th = rng.uniform(0, np.pi)
        u = (xx - cx) * np.cos(th) + (yy - cy) * np.sin(th)
        v = -(xx - cx) * np.sin(th) + (yy - cy) * np.cos(th)
        lab[(u / a) ** 2 + (v / b) ** 2 <= 1] = int(rng.integers(1, 10))
    return lab


def jitter(rng, lab):
    """A prediction: the truth shifted by up to 2 px, its labels permuted, sometimes an object dropped or added."""
    dy, dx = rng.integers(-2, 3, size=2)
    out = np.roll(np.roll(lab, dy, axis=0), dx, axis=1)
    perm = rng.permutation(10)
    perm[0] = 0
    out = perm[out]
    if rng.uniform() < 0.3:
        out[out == out.max()] = 0
    if rng.uniform() < 0.3:
        extra = random_plane(rng, lab.shape[1], lab.shape[0])
        out[(extra > 0) & (out == 0)] = 9
    return out


def score(frames, r):
    rows, ce, ctc = [], [], []
    for pred, gt in frames:
        pl = [l for l in np.unique(pred) if l]
        gl = [l for l in np.unique(gt) if l]
        iou = np.zeros((len(gl), len(pl)))
        for i, g in enumerate(gl):
            for j, p in enumerate(pl):
                inter = np.sum((gt == g) & (pred == p))
                iou[i, j] = inter / np.sum((gt == g) | (pred == p))
        for i, g in enumerate(gl):
            j_ = 0.0
            for j, p in enumerate(pl):
                if 2 * np.sum((gt == g) & (pred == p)) > np.sum(gt == g):
                    j_ = iou[i, j]
            ctc.append(j_)
        pairs = best_matching(iou)
        mg = {i for i, _ in pairs}
        mp = {j for _, j in pairs}
        for i, j in pairs:
            G, P = gt == gl[i], pred == pl[j]
            inter = np.sum(G & P)
            f = f_measure(P, G, r)
            rows.append((iou[i, j], 2 * inter / (G.sum() + P.sum()), f))
            (gx, gy), (px, py) = centroid(G), centroid(P)
            ce.append(np.hypot(gx - px, gy - py))
        rows += [(0.0, 0.0, 0.0)] * (len(gl) - len(mg) + len(pl) - len(mp))
    a = np.array(rows) if rows else np.ones((1, 3))
    iou_m, dice_m, f_m = a[:, 0].mean(), a[:, 1].mean(), a[:, 2].mean()
    nan = float("nan")
    c = np.array(ce)
    stats = (np.median(c), c.mean(), np.sqrt((c ** 2).mean()), np.percentile(c, 95)) if len(c) else (nan,) * 4
    return (iou_m, dice_m, f_m, (iou_m + f_m) / 2, np.mean(ctc) if ctc else nan) + stats + (len(rows), len(ce))


def main():
    rng = np.random.default_rng(7)
    out = []
    for case in range(25):
        w, h, nf, r = int(rng.integers(12, 33)), int(rng.integers(10, 29)), int(rng.integers(1, 4)), int(rng.integers(1, 4))
        frames = []
        for _ in range(nf):
            gt = random_plane(rng, w, h)
            frames.append((jitter(rng, gt), gt))
        out.append("case %d %d %d %d" % (w, h, nf, r))
        for pred, gt in frames:
            out.append("pred " + "".join(str(v) for v in pred.ravel()))
            out.append("gt " + "".join(str(v) for v in gt.ravel()))
        out.append("expect " + " ".join("%.17g" % v for v in score(frames, r)))
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "seg_reference.txt")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
