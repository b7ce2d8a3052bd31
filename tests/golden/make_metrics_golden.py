#!/usr/bin/python3
"""Writes the golden values of the evaluation metrics (tests/golden/metrics/*.txt).

Run by hand, not by CI:  PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 tests/golden/make_metrics_golden.py
Needs Debian's numpy, scipy, scikit-learn (the expected values come from
sklearn.metrics.adjusted_rand_score / normalized_mutual_info_score,
scipy.optimize.linear_sum_assignment and the reference's formulas of
ref/src/utils/metrics.py, re-typed below).  Deterministic (fixed seed): running
it again rewrites identical files.

File format (read by tests/unit/test_metrics.c and tests/tools/mkeval.c):
text, one record per line, fields separated by single spaces; lines starting
with '#' and blank lines are ignored.  A case starts with a "case" line and
runs to the next "case" line.  Floats are written with repr() (17 significant
digits, round-trips exactly); "nan" means undefined; "null" (eval.txt only)
means sp-eval prints null.

ari.txt       per-image ARI (the reference's InstanceSegScores.cpu_ari) and fg_acc
  case NAME NPIX
  t ID...               NPIX true ids
  p ID...               NPIX predicted ids
  all N ST SP STAB ARI  all pixels: pixels used, sums of C(x,2) over true
                        class sizes, predicted class sizes, contingency cells;
                        ARI (cross-checked with sklearn's adjusted_rand_score)
  fg N ST SP STAB ARI   same over the pixels whose true id is non-zero
  fgacc V               fraction of pixels with (p > 0) == (t > 0)
hungarian.txt maximum-weight assignment (scipy linear_sum_assignment)
  case NAME NR NC
  w X...                NR*NC weights, row-major
  total T               the optimal total
  acc A                 T / sum of w (nan when the sum is 0)
sem.txt       semantic scores from a confusion over the pixels of a set
  case NAME NPIX NCLASSES
  t ID... / p ID...
  present MACC MIOU MACC_FG MIOU_FG   classes = true ids present (sp-eval's
                        default): Hungarian on the confusion of the present
                        ids; _fg: row of true 0 and column of predicted 0
                        dropped before matching (the reference's "nobkg")
  ref MACC MIOU MACC_FG MIOU_FG       only when NCLASSES > 0: the reference's
                        SegmentationScores(NCLASSES) avg_acc / avg_iou with
                        and without background (sp-eval --sem-classes NCLASSES)
  global G              Hungarian pixel accuracy with background
labels.txt    clustering scores over a set of labels
  case NAME N
  t ID... / p ID...
  acc A                 Hungarian accuracy (scipy)
  nmi V                 sklearn normalized_mutual_info_score, arithmetic
eval.txt      whole sets for sp-eval (tests/cli/eval.sh via tests/tools/mkeval)
  case NAME N H W
  mask V... / pred_mask V... / sem_mask V... / pred_sem V...   N*H*W each,
  label V... / pred_label V...                                  N each (any
                        subset of these lines; absent lines = absent entries)
  expect KEY V KEY V ...              sp-eval's JSON, keys in output order
  expect_skip_empty KEY V ...         with --ari-fg-skip-empty
  expect_classes C KEY V ...          with --sem-classes C
"""
import itertools
import os
import sys

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.special import comb
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "metrics")
rng = np.random.RandomState(20240601)


def fmt(x):
    if x is None:
        return "null"
    x = float(x)
    if np.isnan(x):
        return "nan"
    return repr(x)


def ints(a):
    return " ".join(str(int(v)) for v in np.asarray(a).ravel())


# ---------------------------------------------------------------- reference
def _comb2(n):
    return comb(int(n), 2, exact=1)


def contingency(t, p):
    """Dense contingency of two id arrays (rows: sorted true ids, columns:
    sorted predicted ids): the reference's _fast_hist without its empty rows
    and columns, which add nothing to any pair count."""
    t, p = np.asarray(t).ravel(), np.asarray(p).ravel()
    tu, ti = np.unique(t, return_inverse=True)
    pu, pi = np.unique(p, return_inverse=True)
    m = np.zeros((len(tu), len(pu)), dtype=np.int64)
    np.add.at(m, (ti, pi), 1)
    return m, tu, pu


def ref_cpu_ari(label_true, label_pred, with_bkg):
    """InstanceSegScores.cpu_ari, re-typed."""
    label_true, label_pred = label_true.flatten(), label_pred.flatten()
    if not with_bkg:
        good_idx = label_true != 0
        label_true, label_pred = label_true[good_idx], label_pred[good_idx]
    confusion_matrix, _, _ = contingency(label_true, label_pred)
    sum_comb_c = sum(_comb2(n_c) for n_c in np.ravel(confusion_matrix.sum(axis=1)))
    sum_comb_k = sum(_comb2(n_k) for n_k in np.ravel(confusion_matrix.sum(axis=0)))
    sum_comb_table = sum(_comb2(n_ij) for n_ij in confusion_matrix.flatten())
    sum_comb_n = _comb2(confusion_matrix.sum())
    n = len(label_true)
    if sum_comb_c == sum_comb_k == sum_comb_n == sum_comb_table:
        ari = 1.0
    else:
        prod_comb = (sum_comb_c * sum_comb_k) / sum_comb_n
        mean_comb = (sum_comb_k + sum_comb_c) / 2.
        if sum_comb_c == sum_comb_k == 0:
            # Every pixel its own id on both sides (so the partitions are
            # identical): the reference divides 0 by 0 (ZeroDivisionError);
            # sp-eval says 1.0, as scikit-learn.
            ari = 1.0
        else:
            ari = (sum_comb_table - prod_comb) / (mean_comb - prod_comb)
    # Independent check: sklearn agrees wherever it is defined (n > 0).
    if n > 0:
        sk = adjusted_rand_score(label_true, label_pred)
        assert abs(sk - ari) < 1e-12, (sk, ari)
    return n, sum_comb_c, sum_comb_k, sum_comb_table, ari


def ref_segmentation_scores(t, p, n_classes):
    """SegmentationScores(n_classes).update(t, p).compute(), re-typed:
    returns avg_acc, avg_iou (with background), then without."""
    hist_all = np.bincount(n_classes * t.ravel() + p.ravel(),
                           minlength=n_classes ** 2).reshape(n_classes, n_classes)
    out = {}
    for withbkg in [False, True]:
        hist = hist_all[1:, 1:] if not withbkg else hist_all
        best_assign_idx = linear_sum_assignment(-hist)[1]
        hist = hist[:, best_assign_idx]
        with np.errstate(divide='ignore', invalid='ignore'):
            acc = np.diag(hist) / hist.sum(axis=1)
            avg_acc = np.mean(np.nan_to_num(acc))
            iu = np.diag(hist) / (hist.sum(axis=1) + hist.sum(axis=0) - np.diag(hist))
            avg_iu = np.mean(np.nan_to_num(iu))
        out[withbkg] = (avg_acc, avg_iu)
    return out[True][0], out[True][1], out[False][0], out[False][1]


# ------------------------------------------------------- sp-eval definitions
def assignments(r, c):
    """Every one-to-one assignment of min(r, c) pairs, as lists of (i, j)."""
    if r <= c:
        for perm in itertools.permutations(range(c), r):
            yield list(zip(range(r), perm))
    else:
        for perm in itertools.permutations(range(r), c):
            yield list(zip(perm, range(c)))


def n_assignments(r, c):
    k, K = min(r, c), max(r, c)
    n = 1
    for i in range(k):
        n *= K - i
    return n


def scores_of(m, pairs, ncls):
    rs, cs = m.sum(1), m.sum(0)
    acc = iou = 0.0
    for i, j in pairs:
        d = m[i, j]
        if rs[i] > 0:
            acc += d / rs[i]
        if rs[i] + cs[j] - d > 0:
            iou += d / (rs[i] + cs[j] - d)
    if ncls == 0:
        return float("nan"), float("nan")
    return acc / ncls, iou / ncls


class Ambiguous(Exception):
    pass


def matched_scores(m, ncls):
    """Mean class accuracy / IoU after Hungarian matching of the rows of m
    (true classes) to its columns; classes without a column count 0; divided
    by ncls.  Raises Ambiguous when two optimal assignments give different
    scores (a tie that an implementation may break either way)."""
    r, c = m.shape
    if r == 0 or c == 0:
        return scores_of(m, [], ncls), 0
    ri, ci = linear_sum_assignment(-m)
    best = int(m[ri, ci].sum())
    res = scores_of(m, list(zip(ri, ci)), ncls)
    if n_assignments(r, c) <= 50000:
        for pairs in assignments(r, c):
            if sum(int(m[i, j]) for i, j in pairs) == best:
                other = scores_of(m, pairs, ncls)
                if abs(other[0] - res[0]) > 1e-12 or abs(other[1] - res[1]) > 1e-12:
                    raise Ambiguous()
    else:
        # Unique optimum <=> forbidding any of its edges lowers the optimum.
        for i, j in zip(ri, ci):
            mm = m.astype(np.float64).copy()
            mm[i, j] = -1e12
            a, b = linear_sum_assignment(-mm)
            if mm[a, b].sum() >= best:
                raise Ambiguous()
    return res, best


def sem_present(t, p):
    m, tu, pu = contingency(t, p)
    (macc, miou), _ = matched_scores(m, len(tu))
    rows = tu != 0
    cols = pu != 0
    f = m[rows][:, cols]
    (macc_fg, miou_fg), _ = matched_scores(f, int(rows.sum()))
    return macc, miou, macc_fg, miou_fg


def sem_ref_unambiguous(t, p, n_classes):
    """The reference's numbers, only when no tie can change them (checked on
    the square n_classes matrices, by enumeration)."""
    hist = np.bincount(n_classes * t.ravel() + p.ravel(),
                       minlength=n_classes ** 2).reshape(n_classes, n_classes)
    if n_assignments(n_classes, n_classes) > 50000:
        raise Ambiguous()
    matched_scores(hist, n_classes)
    matched_scores(hist[1:, 1:], n_classes - 1)
    return ref_segmentation_scores(t, p, n_classes)


def hungarian_acc(t, p):
    m, _, _ = contingency(t, p)
    ri, ci = linear_sum_assignment(-m)
    return m[ri, ci].sum() / m.sum()


def nmi(t, p):
    return normalized_mutual_info_score(t, p, average_method="arithmetic")


# --------------------------------------------------------------- ari.txt
def write_ari(f):
    cases = []

    def add(name, t, p):
        cases.append((name, np.asarray(t, dtype=np.int64).ravel(), np.asarray(p, dtype=np.int64).ravel()))

    h = w = 8
    obj = np.zeros((h, w), int)
    obj[2:5, 3:7] = 1
    add("all_background", np.zeros(64), np.zeros(64))
    add("all_background_pred_split", np.zeros(64), np.arange(64) % 3)
    add("one_object_exact", obj, obj)
    add("one_object_relabelled", obj, np.where(obj == 1, 5, 2))
    add("one_object_pred_all_bg", obj, np.zeros_like(obj))
    add("one_object_pred_all_one", obj, np.ones_like(obj) * 3)
    add("empty_fg_pred_objects", np.zeros((6, 6)), (np.arange(36) // 7).reshape(6, 6))
    add("single_pixel_bg", [0], [0])
    add("single_pixel_fg", [2], [7])
    add("two_pixels_split", [1, 1], [1, 2])
    add("two_pixels_merged", [1, 2], [3, 3])
    add("identical_partition", (np.arange(50) * 7) % 5, (np.arange(50) * 7) % 5)
    add("permuted_ids", (np.arange(50) * 7) % 5, ((np.arange(50) * 7) % 5 + 3) % 5)
    add("each_pixel_own_id", np.arange(30), np.arange(30)[::-1] + 100)
    add("each_pixel_own_id_vs_one", np.arange(30), np.zeros(30))
    add("one_vs_each_pixel", np.ones(30), np.arange(30))
    add("large_ids", (np.arange(40) % 4) * 16000 + 3, (np.arange(40) % 2) * 65535)
    add("max_id", np.full(10, 65535), np.arange(10) % 2)
    # many distinct ids: exercises the sort path (table > 65536 cells)
    add("many_ids_sparse", rng.randint(0, 65536, 600), rng.randint(0, 65536, 600))
    add("many_ids_fg", np.where(rng.rand(700) < 0.2, 0, rng.randint(1, 65536, 700)),
        rng.randint(0, 65536, 700))
    # tetromino-like 35x35 with 3 objects + background and a noisy prediction
    t = np.zeros((35, 35), int)
    t[3:9, 4:10] = 1
    t[15:20, 12:28] = 2
    t[25:33, 2:8] = 3
    pnoisy = t.copy()
    flip = rng.rand(35, 35) < 0.1
    pnoisy[flip] = rng.randint(0, 4, flip.sum())
    add("tetro_like_noisy", t, pnoisy)
    add("tetro_like_merged", t, np.where(t > 0, 1, 0))
    add("tetro_like_shifted", t, np.roll(t, 2, axis=1))
    for k in range(40):
        n = rng.randint(1, 300)
        nt = rng.randint(1, 6)
        npred = rng.randint(1, 8)
        tt = rng.randint(0, nt, n)
        if k % 3 == 0:  # correlated prediction
            pp = np.where(rng.rand(n) < 0.7, (tt * 3 + 1) % 9, rng.randint(0, npred, n))
        else:
            pp = rng.randint(0, npred, n)
        add(f"random_{k}", tt, pp)
    for name, t, p in cases:
        a = ref_cpu_ari(t, p, True)
        g = ref_cpu_ari(t, p, False)
        fa = np.mean((p > 0) == (t > 0)) if len(t) else float("nan")
        f.write(f"case {name} {len(t)}\nt {ints(t)}\np {ints(p)}\n")
        f.write(f"all {a[0]} {a[1]} {a[2]} {a[3]} {fmt(a[4])}\n")
        f.write(f"fg {g[0]} {g[1]} {g[2]} {g[3]} {fmt(g[4])}\n")
        f.write(f"fgacc {fmt(fa)}\n")
    return len(cases)


# --------------------------------------------------------- hungarian.txt
def write_hungarian(f):
    cases = []
    cases.append(("empty_rows", np.zeros((0, 3), np.int64)))
    cases.append(("one_by_one", np.array([[7]])))
    cases.append(("zeros_3x3", np.zeros((3, 3), np.int64)))
    cases.append(("greedy_fails", np.array([[10, 9], [9, 0]])))
    cases.append(("wide_2x4", np.array([[1, 8, 3, 9], [2, 9, 1, 1]])))
    cases.append(("tall_4x2", np.array([[1, 8], [8, 3], [9, 9], [0, 1]])))
    cases.append(("identity_5", np.eye(5, dtype=np.int64) * 100))
    cases.append(("antidiag_5", np.fliplr(np.eye(5, dtype=np.int64)) * 100 + 1))
    cases.append(("big_counts", rng.randint(0, 2**40, (6, 6))))
    for k in range(30):
        r, c = rng.randint(1, 12), rng.randint(1, 12)
        cases.append((f"random_{k}_{r}x{c}", rng.randint(0, 50 if k % 2 else 100000, (r, c))))
    cases.append(("random_large_40x50", rng.randint(0, 1000, (40, 50))))
    cases.append(("random_large_60x30", rng.randint(0, 1000, (60, 30))))
    for name, m in cases:
        m = np.asarray(m, np.int64)
        r, c = m.shape
        if r and c:
            ri, ci = linear_sum_assignment(-m)
            total = int(m[ri, ci].sum())
        else:
            total = 0
        s = int(m.sum())
        f.write(f"case {name} {r} {c}\nw {ints(m)}\ntotal {total}\nacc {fmt(total / s if s else float('nan'))}\n")
    return len(cases)


# ---------------------------------------------------------------- sem.txt
def random_seg(n, ncls, npred, noise, rng):
    t = rng.randint(0, ncls, n)
    perm = rng.permutation(max(npred, ncls))
    p = np.where(rng.rand(n) < noise, rng.randint(0, npred, n), perm[t] % npred)
    return t, p


def write_sem(f):
    cases = []

    def add(name, t, p, ncls):
        cases.append((name, np.asarray(t, np.int64).ravel(), np.asarray(p, np.int64).ravel(), ncls))

    add("perfect", [0, 0, 1, 1, 2, 2, 2], [0, 0, 1, 1, 2, 2, 2], 3)
    add("perfect_permuted", [0, 0, 1, 1, 2, 2, 2], [2, 2, 0, 0, 1, 1, 1], 3)
    add("all_background", np.zeros(20), np.zeros(20), 2)
    add("all_background_pred_fg", np.zeros(20), np.arange(20) % 3, 3)
    add("pred_all_background", [0, 0, 1, 1, 2, 2, 2, 1], np.zeros(8), 3)
    add("fg_class_all_predicted_bg", [0, 0, 0, 1, 1, 2, 2, 2, 2], [0, 0, 1, 0, 0, 2, 2, 2, 1], 3)
    add("more_pred_than_true", [0, 0, 0, 1, 1, 1, 1, 2, 2, 2], [0, 0, 4, 1, 1, 3, 1, 2, 2, 5], 6)
    add("fewer_pred_than_true", [0, 0, 0, 1, 1, 1, 2, 2, 3, 3, 3, 3], [0, 0, 0, 1, 1, 1, 1, 1, 0, 1, 1, 0], 4)
    add("absent_class_between", [0, 0, 1, 1, 1, 3, 3, 3, 3], [0, 1, 1, 1, 0, 3, 3, 2, 3], 4)
    add("hungarian_beats_argmax", [0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 2],
        [1, 1, 0, 1, 1, 1, 2, 2, 2, 2, 0, 2], 3)
    add("single_pixel", [1], [2], 3)
    add("large_ids", [0, 0, 60000, 60000, 7, 7, 7], [5, 5, 65535, 65535, 0, 0, 5], 0)
    k = 0
    tries = 0
    while k < 40:
        tries += 1
        ncls = rng.randint(2, 8)
        npred = rng.randint(1, 9)
        n = rng.randint(20, 400)
        t, p = random_seg(n, ncls, npred, rng.choice([0.05, 0.3, 0.8]), rng)
        try:
            sem_present(t, p)
            if t.max() < ncls and p.max() < ncls:
                sem_ref_unambiguous(t, p, ncls)
        except Ambiguous:
            continue
        add(f"random_{k}", t, p, ncls if p.max() < ncls else 0)
        k += 1
    # a 20-class (tetrominoes-sized) case, checked for a unique optimum
    while True:
        t, p = random_seg(3000, 20, 20, 0.4, rng)
        try:
            sem_present(t, p)
            break
        except Ambiguous:
            pass
    add("twenty_classes", t, p, 0)
    nw = 0
    for name, t, p, ncls in cases:
        try:
            pres = sem_present(t, p)
        except Ambiguous:
            sys.exit(f"sem case {name}: tie changes the scores")
        f.write(f"case {name} {len(t)} {ncls}\nt {ints(t)}\np {ints(p)}\n")
        f.write("present " + " ".join(fmt(x) for x in pres) + "\n")
        if ncls > 0:
            ref = sem_ref_unambiguous(t, p, ncls)
            f.write("ref " + " ".join(fmt(x) for x in ref) + "\n")
        m, _, _ = contingency(t, p)
        ri, ci = linear_sum_assignment(-m)
        f.write(f"global {fmt(m[ri, ci].sum() / m.sum())}\n")
        nw += 1
    return nw


# ------------------------------------------------------------- labels.txt
def write_labels(f):
    cases = []

    def add(name, t, p):
        cases.append((name, np.asarray(t, np.int64), np.asarray(p, np.int64)))

    add("one_class_one_cluster", [3, 3, 3, 3], [0, 0, 0, 0])
    add("one_class_many_clusters", [3, 3, 3, 3], [0, 1, 2, 3])
    add("many_classes_one_cluster", [0, 1, 2, 3], [5, 5, 5, 5])
    add("single_sample", [4], [9])
    add("perfect", [0, 0, 1, 1, 2, 2], [0, 0, 1, 1, 2, 2])
    add("permuted", [0, 0, 1, 1, 2, 2], [2, 2, 0, 0, 1, 1])
    add("independent", [0, 0, 1, 1], [0, 1, 0, 1])
    add("more_clusters", [0, 0, 0, 1, 1, 1], [0, 0, 3, 1, 1, 2])
    add("fewer_clusters", [0, 0, 1, 1, 2, 2, 3, 3], [0, 0, 0, 0, 1, 1, 1, 1])
    add("each_own", np.arange(12), np.arange(12)[::-1])
    add("large_ids", [0, 65535, 65535, 100, 100], [7, 7, 8, 40000, 40000])
    for k in range(30):
        n = rng.randint(2, 500)
        nc = rng.randint(1, 12)
        npred = rng.randint(1, 15)
        t = rng.randint(0, nc, n)
        perm = rng.permutation(max(nc, npred) + 3)
        p = np.where(rng.rand(n) < rng.rand(), rng.randint(0, npred, n), perm[t])
        add(f"random_{k}", t, p)
    for name, t, p in cases:
        f.write(f"case {name} {len(t)}\nt {ints(t)}\np {ints(p)}\n")
        f.write(f"acc {fmt(hungarian_acc(t, p))}\nnmi {fmt(nmi(t, p))}\n")
    return len(cases)


# --------------------------------------------------------------- eval.txt
def eval_expect(d, skip_empty=False, sem_classes=0):
    """sp-eval's JSON for the entries in d, in output order."""
    out = [("n", None)]
    n = None
    for k in ("mask", "sem_mask", "label"):
        if k in d:
            n = d[k].shape[0]
    out[0] = ("n", n)
    if "mask" in d and "pred_mask" in d:
        t, p = d["mask"], d["pred_mask"]
        aris = [ref_cpu_ari(t[i], p[i], True)[4] for i in range(n)]
        fgs = [ref_cpu_ari(t[i], p[i], False)[4] for i in range(n) if not (skip_empty and not (t[i] != 0).any())]
        out.append(("ari", np.mean(aris)))
        out.append(("ari_fg", np.mean(fgs) if fgs else None))
        if np.isin(t, [0, 1]).all():
            out.append(("fg_acc", np.mean([np.mean((p[i] > 0) == (t[i] > 0)) for i in range(n)])))
    if "sem_mask" in d and "pred_sem" in d:
        t, p = d["sem_mask"], d["pred_sem"]
        if sem_classes:
            vals = ref_segmentation_scores(t, p, sem_classes) if sem_classes > 1 else None
            sem_ref_unambiguous(t, p, sem_classes)
        else:
            vals = sem_present(t, p)
        for k, v in zip(("macc", "miou", "macc_fg", "miou_fg"), vals):
            out.append((k, None if np.isnan(v) else v))
    if "label" in d and "pred_label" in d:
        out.append(("acc", hungarian_acc(d["label"], d["pred_label"])))
        out.append(("nmi", nmi(d["label"], d["pred_label"])))
    return " ".join(f"{k} {v if k == 'n' else fmt(v)}" for k, v in out)


def write_eval(f):
    cases = []
    # multi-object: instance masks 0..3, semantic classes 0..3, one image
    # without foreground, labels; more predicted sprites than classes.
    N, H, W = 12, 9, 10
    mask = np.zeros((N, H, W), np.int64)
    sem = np.zeros((N, H, W), np.int64)
    for i in range(N - 1):
        for obj in range(1, rng.randint(2, 5)):
            y, x = rng.randint(0, H - 3), rng.randint(0, W - 3)
            mask[i, y:y + 3, x:x + rng.randint(2, 4)] = obj
            sem[i][mask[i] == obj] = rng.randint(1, 4)
    pm = mask.copy()
    flip = rng.rand(N, H, W) < 0.15
    pm[flip] = rng.randint(0, 5, flip.sum())
    ps = np.where(rng.rand(N, H, W) < 0.8, (sem * 2) % 5, rng.randint(0, 5, (N, H, W)))
    lab = rng.randint(0, 3, N)
    pl = np.where(rng.rand(N) < 0.75, (lab + 1) % 4, rng.randint(0, 4, N))
    d = dict(mask=mask, pred_mask=pm, sem_mask=sem, pred_sem=ps, label=lab, pred_label=pl)
    cases.append(("multi", d, [5]))
    # horse-like: binary masks, pred_mask 0/1/2 layers, binary semantic
    N, H, W = 7, 11, 8
    mask = np.zeros((N, H, W), np.int64)
    for i in range(N):
        mask[i, rng.randint(0, 4):rng.randint(6, 11), rng.randint(0, 3):rng.randint(4, 8)] = 1
    pm = np.where(rng.rand(N, H, W) < 0.85, mask, 1 - mask) * rng.randint(1, 3, (N, H, W))
    d = dict(mask=mask, pred_mask=pm, sem_mask=mask.copy(), pred_sem=(pm > 0).astype(np.int64))
    cases.append(("horse", d, [2]))
    # labels only
    lab = rng.randint(0, 5, 40)
    pl = np.where(rng.rand(40) < 0.6, (lab * 3) % 7, rng.randint(0, 7, 40))
    cases.append(("labels", dict(label=lab, pred_label=pl), []))
    # masks only, every image without foreground
    N, H, W = 3, 4, 5
    cases.append(("no_foreground", dict(mask=np.zeros((N, H, W), np.int64),
                                        pred_mask=rng.randint(0, 3, (N, H, W))), []))
    # one class and one cluster: nmi 1, acc 1
    cases.append(("one_cluster", dict(label=np.full(6, 2), pred_label=np.full(6, 9)), []))
    n = 0
    for name, d, classes in cases:
        first = next(iter(d.values()))
        shp = first.shape
        N, H, W = shp[0], (shp[1] if len(shp) > 1 else 0), (shp[2] if len(shp) > 2 else 0)
        if "mask" not in d and "sem_mask" not in d:
            H = W = 0
        f.write(f"case {name} {N} {H} {W}\n")
        for k, v in d.items():
            f.write(f"{k} {ints(v)}\n")
        f.write(f"expect {eval_expect(d)}\n")
        if "mask" in d:
            f.write(f"expect_skip_empty {eval_expect(d, skip_empty=True)}\n")
        for c in classes:
            f.write(f"expect_classes {c} {eval_expect(d, sem_classes=c)}\n")
        n += 1
    return n


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, fn in [("ari", write_ari), ("hungarian", write_hungarian), ("sem", write_sem),
                     ("labels", write_labels), ("eval", write_eval)]:
        path = os.path.join(OUT, name + ".txt")
        with open(path + ".tmp", "w") as f:
            f.write(f"# written by tests/golden/make_metrics_golden.py; format in its header\n")
            k = fn(f)
        os.replace(path + ".tmp", path)
        print(f"{path}: {k} cases", file=sys.stderr)


if __name__ == "__main__":
    main()
