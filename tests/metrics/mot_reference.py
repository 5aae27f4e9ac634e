#!/usr/bin/python3
"""Reference values for tests/metrics/test_mot_reference.c: CLEAR, Identity and HOTA computed with dense numpy
matrices following TrackEval's clear.py, identity.py and hota.py step by step, with the assignments solved by
brute force over every partial matching (the cases are small), so that the C code's sparse tables, hashing and
assignment solver are checked against an independent implementation.

Writes tests/metrics/data/mot_reference.txt:
    case <n_frames>
    frame <n_gt> <n_pred>
    gt <ids...>
    pred <ids...>
    sim <row-major n_gt*n_pred values>
    expect mota idsw frag idf1 hota deta assa loca motp
Run: /usr/bin/python3 tests/metrics/mot_reference.py
"""
import itertools
import os

import numpy as np

EPS = np.finfo("float").eps


def best_matching(score):
    """Maximum total score over partial injective row->column maps (pairs with score <= 0 never help)."""
    n, m = score.shape
    best, best_pairs = 0.0, []
    cols = list(range(m))
    for k in range(min(n, m), 0, -1):
        for rows in itertools.combinations(range(n), k):
            for perm in itertools.permutations(cols, k):
                s = sum(score[r, c] for r, c in zip(rows, perm))
                if s > best + 1e-12:
                    best, best_pairs = s, list(zip(rows, perm))
    return best_pairs


def clear(frames, ng_ids, thr=0.5):
    tp = fn = fp = idsw = 0
    motp = 0.0
    prev_tracker = np.full(ng_ids, np.nan)
    prev_ts = np.full(ng_ids, np.nan)
    frag = np.zeros(ng_ids)
    for gt, pr, sim in frames:
        if len(gt) == 0:
            fp += len(pr)
            continue
        if len(pr) == 0:
            fn += len(gt)
            continue
        score = 1000 * (np.array(pr)[None, :] == prev_ts[np.array(gt)][:, None]) + sim
        score[sim < thr - EPS] = 0
        pairs = [(r, c) for r, c in best_matching(score) if score[r, c] > 0 + EPS]
        mg = np.array([gt[r] for r, _ in pairs], dtype=int)
        mp = np.array([pr[c] for _, c in pairs], dtype=float)
        motp += sum(sim[r, c] for r, c in pairs)
        prev = prev_tracker[mg]
        idsw += int(np.sum(np.logical_not(np.isnan(prev)) & (mp != prev)))
        not_prev = np.isnan(prev_ts)
        prev_tracker[mg] = mp
        prev_ts[:] = np.nan
        prev_ts[mg] = mp
        cur = np.logical_not(np.isnan(prev_ts))
        frag += np.logical_and(not_prev, cur)
        tp += len(pairs)
        fn += len(gt) - len(pairs)
        fp += len(pr) - len(pairs)
    mota = (tp - fp - idsw) / max(1, tp + fn)
    return mota, idsw, int(np.sum(frag[frag > 0] - 1)), motp / max(1, tp)


def identity(frames, ng_ids, np_ids, thr=0.5):
    pot = np.zeros((ng_ids, np_ids))
    gc = np.zeros(ng_ids)
    pc = np.zeros(np_ids)
    for gt, pr, sim in frames:
        for r, c in zip(*np.nonzero(sim >= thr)):
            pot[gt[r], pr[c]] += 1
        gc[gt] += 1
        pc[pr] += 1
    pairs = best_matching(pot)
    idtp = sum(pot[r, c] for r, c in pairs)
    idfn = gc.sum() - idtp
    idfp = pc.sum() - idtp
    return idtp / max(1.0, idtp + 0.5 * idfp + 0.5 * idfn)


def hota(frames, ng_ids, np_ids):
    alphas = np.arange(0.05, 0.99, 0.05)
    pot = np.zeros((ng_ids, np_ids))
    gc = np.zeros((ng_ids, 1))
    pc = np.zeros((1, np_ids))
    for gt, pr, sim in frames:
        if len(gt) and len(pr):
            denom = sim.sum(0)[None, :] + sim.sum(1)[:, None] - sim
            siou = np.zeros_like(sim)
            mask = denom > 0 + EPS
            siou[mask] = sim[mask] / denom[mask]
            pot[np.array(gt)[:, None], np.array(pr)[None, :]] += siou
        gc[gt] += 1
        pc[0, pr] += 1
    with np.errstate(invalid="ignore"):   # ids that never appear: 0/0, never used
        align = pot / (gc + pc - pot)
    tp = np.zeros(len(alphas)); fn = np.zeros(len(alphas)); fp = np.zeros(len(alphas)); loc = np.zeros(len(alphas))
    mc = [np.zeros((ng_ids, np_ids)) for _ in alphas]
    for gt, pr, sim in frames:
        if len(gt) == 0:
            fp += len(pr)
            continue
        if len(pr) == 0:
            fn += len(gt)
            continue
        score = align[np.array(gt)[:, None], np.array(pr)[None, :]] * sim
        pairs = best_matching(score)
        for a, alpha in enumerate(alphas):
            ok = [(r, c) for r, c in pairs if sim[r, c] >= alpha - EPS]
            tp[a] += len(ok)
            fn[a] += len(gt) - len(ok)
            fp[a] += len(pr) - len(ok)
            for r, c in ok:
                loc[a] += sim[r, c]
                mc[a][gt[r], pr[c]] += 1
    assa = np.zeros(len(alphas))
    for a in range(len(alphas)):
        ass = mc[a] / np.maximum(1, gc + pc - mc[a])
        assa[a] = np.sum(mc[a] * ass) / np.maximum(1, tp[a])
    deta = tp / np.maximum(1, tp + fn + fp)
    h = np.sqrt(deta * assa)
    loca = np.maximum(1e-10, loc) / np.maximum(1e-10, tp)
    return h.mean(), deta.mean(), assa.mean(), loca.mean()


def main():
    rng = np.random.default_rng(2026)
    out = []
    for case in range(40):
        ng_ids = int(rng.integers(1, 5))
        np_ids = int(rng.integers(1, 5))
        n_frames = int(rng.integers(1, 9))
        frames = []
        for _ in range(n_frames):
            gt = sorted(rng.choice(ng_ids, size=int(rng.integers(0, ng_ids + 1)), replace=False).tolist())
            pr = sorted(rng.choice(np_ids, size=int(rng.integers(0, np_ids + 1)), replace=False).tolist())
            sim = rng.uniform(0, 1, size=(len(gt), len(pr)))
            sim[rng.uniform(0, 1, size=sim.shape) < 0.4] = 0
            sim = np.round(sim, 6)
            frames.append((gt, pr, sim))
        mota, idsw, frag, motp = clear(frames, ng_ids)
        idf1 = identity(frames, ng_ids, np_ids)
        h, d, a, l = hota(frames, ng_ids, np_ids)
        out.append("case %d" % n_frames)
        for gt, pr, sim in frames:
            out.append("frame %d %d" % (len(gt), len(pr)))
            out.append("gt " + " ".join(str(10 + g) for g in gt))       # ids offset so they are not indices
            out.append("pred " + " ".join(str(100 + 7 * p) for p in pr))
            out.append("sim " + " ".join("%.6f" % v for v in sim.ravel()))
        out.append("expect %.17g %d %d %.17g %.17g %.17g %.17g %.17g %.17g" % (mota, idsw, frag, idf1, h, d, a, l, motp))
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "mot_reference.txt")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
