#!/usr/bin/python3
"""make bench (ops part): for the tetro / dsprites / gtsrb8 shapes of the
reference configs at batch 32, times

  encoder      the reference Encoder, training mode, forward + backward
  transform    every transformation the model applies (sprite, layer and
               background sequences) + grid_sample, forward + backward
  compose      the layered composition (with occlusion where the config
               predicts it) + per-image squared error, forward + backward

with PyTorch (the reference's own modules) and with our ops, in the same run
on the same inputs, and prints both and the ratio.  Our side: the cases are
written as streams (the golden-case format) and timed in-process by
$OBJ/tests/tools/opbench (stream I/O not timed); both sides report their
fastest repetition.  Usage: ops_bench.py OBJDIR [THREADS]."""
import os
import subprocess
import sys
import time
import types
import warnings

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "formats"))
sys.path.insert(0, os.path.join(ROOT, "tests", "golden"))
warnings.filterwarnings("ignore")
import reference_import  # noqa: E402,F401  (sys.path to the reference, torchvision stub)
import sptensor  # noqa: E402
from model import transformer as tr  # noqa: E402
from model.dti_sprites import DTISprites  # noqa: E402

OBJ = sys.argv[1] if len(sys.argv) > 1 else "build/obj-cpu"
THREADS = int(sys.argv[2]) if len(sys.argv) > 2 else 2
torch.set_num_threads(THREADS)
MIN_SECONDS = float(os.environ.get("SP_BENCH_SECONDS", "1"))
N = 32
OUT = os.path.join(ROOT, "build", "bench", "ops")
os.makedirs(OUT, exist_ok=True)
g = torch.Generator().manual_seed(0)


def rand(*s, lo=0.0, hi=1.0):
    return torch.rand(*s, generator=g) * (hi - lo) + lo


def best(fn, reps_min=3):
    """Fastest of repetitions of fn() (which returns (fwd_s, bwd_s)), after a warm-up."""
    fn()
    bf = bb = 1e30
    spent, r = 0.0, 0
    while r < reps_min or (spent < MIN_SECONDS and r < 1000):
        f, b = fn()
        if f == 0 and b == 0:  # nothing timed here (counted with another case)
            return 0.0, 0.0
        bf, bb, spent, r = min(bf, f), min(bb, b), spent + f + b, r + 1
    return bf, bb


# ---------------------------------------------------------------- workloads
# (config, part) -> list of cases; each case knows its torch timing and its stream.
cases = []


# Registry backwards of these ops recompute their forward (they get only the
# inputs), so for them our "forward + backward" is the backward call alone.
BWD_INCLUDES_FWD = {"encoder_resnet32", "encoder_resnet18", "tsf_sequence"}


def add_case(config, part, op, attrs, inputs, torch_fn):
    cases.append((config, part, op, attrs, inputs, torch_fn))


def encoder_case(config, name, h, w, pool):
    enc = tr.Encoder(3, encoder_name=name, img_size=(h, w), with_pool=pool)
    enc.train()
    x = rand(N, 3, h, w)
    with torch.no_grad():
        y = enc(x)
    dy = rand(*y.shape, lo=-1, hi=1)

    def t():
        xx = x.clone().requires_grad_()
        t0 = time.perf_counter()
        yy = enc(xx)
        t1 = time.perf_counter()
        yy.backward(dy)
        t2 = time.perf_counter()
        enc.zero_grad()
        return t1 - t0, t2 - t1
    inputs = {"x": x, "dy": dy}
    for k, v in enc.state_dict().items():
        if not k.endswith("num_batches_tracked"):
            inputs[k] = v
    op = {"resnet32": "encoder_resnet32", "resnet18": "encoder_resnet18"}[name]
    ph, pw = (pool if isinstance(pool, (list, tuple)) else (1, 1)) if pool else (0, 0)
    add_case(config, "encoder", op, {"training": 1, "pool_h": ph, "pool_w": pw}, inputs, t)


MODULES = {"color": 6, "position": 3, "similarity": 4, "affine": 6, "projective": 9, "tps": 32}


def tsf_case(config, n, c, hin, win, H, W, seq, pad):
    names = seq.split("_")
    mods = []
    for nm in names:
        if nm == "color":
            mods.append(tr.ColorModule(8, color_channels=3, use_clamp="soft"))
        elif nm == "position":
            mods.append(tr.PositionModule(8, img_size=(H, W), padding_mode=pad))
        elif nm == "similarity":
            mods.append(tr.SimilarityModule(8, img_size=(H, W), padding_mode=pad))
        elif nm == "projective":
            mods.append(tr.ProjectiveModule(8, padding_mode=pad))
        elif nm == "tps":
            mods.append(tr.TPSModule(8, img_size=(H, W), padding_mode=pad))
    betas = [rand(n, MODULES[nm], lo=-0.1, hi=0.1) for nm in names]
    x = rand(n, c, hin, win)
    with torch.no_grad():
        y = x
        for m, b in zip(mods, betas):
            y = m._transform(y, b)
    dy = rand(*y.shape, lo=-1, hi=1)

    def t():
        xx = x.clone().requires_grad_()
        bs = [b.clone().requires_grad_() for b in betas]
        t0 = time.perf_counter()
        yy = xx
        for m, b in zip(mods, bs):
            yy = m._transform(yy, b)
        t1 = time.perf_counter()
        yy.backward(dy)
        t2 = time.perf_counter()
        return t1 - t0, t2 - t1
    attrs = {"sequence": seq, "height": H, "width": W, "padding": pad}
    add_case(config, "transform", "tsf_sequence", attrs,
             {"x": x, "beta": torch.cat(betas, 1), "dy": dy}, t)


def compose_case(config, L, C, H, W, bg, occ):
    layers, masks = rand(L, N, C, H, W), rand(L, N, 1, H, W)
    bkg = rand(N, C, H, W) if bg else None
    o = rand(N, L, L) if occ else None
    img, dy = rand(N, C, H, W), rand(N, C, H, W, lo=-1, hi=1)
    me = types.SimpleNamespace(pred_occlusion=bool(occ))
    fixed = torch.tril(torch.ones(L, L), diagonal=-1)[..., None].expand(L, L, N)
    cp = torch.ones(L, 1, N)

    def t():
        ll, mm = layers[:, None].clone().requires_grad_(), masks[:, None].clone().requires_grad_()
        bb = bkg[None].clone().requires_grad_() if bg else None
        oo = o.permute(1, 2, 0).clone().requires_grad_() if occ else fixed
        leaves = [v for v in (ll, mm, bb, oo if occ else None) if v is not None]
        t0 = time.perf_counter()
        y = DTISprites.compose(me, ll, mm, oo, bb, cp)
        loss = ((img.unsqueeze(1) - y.unsqueeze(1)) ** 2).flatten(2).mean(2).mean()
        t1 = time.perf_counter()
        torch.autograd.grad(loss, leaves)
        t2 = time.perf_counter()
        return t1 - t0, t2 - t1
    ins = {"layers": layers, "masks": masks, "dy": dy}
    if bg:
        ins["background"] = bkg
    if occ:
        ins["occlusion"] = o
    add_case(config, "compose", "compose", {}, ins, t)
    add_case(config, "compose", "mse", {}, {"x": rand(N, C, H, W), "target": img,
                                            "ddist": torch.zeros(N), "dloss": torch.tensor(1.0)},
             lambda: (0.0, 0.0))  # torch's loss is timed with the composition above


# tetro: 19 sprites, 3 layers, 24x24 sprites -> 35x35, layers colour+position, no background
encoder_case("tetro", "resnet32", 35, 35, True)
for _ in range(3):
    tsf_case("tetro", N * 19, 5, 24, 24, 35, 35, "color_position", "zeros")
compose_case("tetro", 3, 3, 35, 35, False, False)
# dsprites: 3 sprites (+ empty), 5 layers, 28x28 sprites -> 64x64, similarity on sprites,
# colour+position on layers, colour background, predicted occlusion
encoder_case("dsprites", "resnet32", 64, 64, [4, 4])
for _ in range(20):
    tsf_case("dsprites", N, 5, 28, 28, 28, 28, "similarity", "zeros")
for _ in range(5):
    tsf_case("dsprites", N * 4, 5, 28, 28, 64, 64, "color_position", "zeros")
tsf_case("dsprites", N, 3, 64, 64, 64, 64, "color", "border")
compose_case("dsprites", 5, 3, 64, 64, True, True)
# gtsrb8: 8 sprites, 1 layer, colour+projective+TPS on sprites and background, 28x28
encoder_case("gtsrb8", "resnet32", 28, 28, True)
for _ in range(8):
    tsf_case("gtsrb8", N, 5, 28, 28, 28, 28, "color_projective_tps", "zeros")
tsf_case("gtsrb8", N, 3, 28, 28, 28, 28, "color_projective_tps", "border")
compose_case("gtsrb8", 1, 3, 28, 28, True, False)


def to_np(v):
    return v.detach().numpy() if isinstance(v, torch.Tensor) else np.asarray(v)


path = os.path.join(OUT, "cases.sp")
with open(path, "wb") as f:
    for config, part, op, attrs, inputs, _ in cases:
        sptensor.write(f, [{k: to_np(v) for k, v in inputs.items()}],
                       {"op": op, "attrs": attrs, "config": config, "part": part,
                        "bwd_includes_fwd": int(op in BWD_INCLUDES_FWD)})

env = dict(os.environ, OMP_NUM_THREADS=str(THREADS), OPENBLAS_NUM_THREADS="1")
res = subprocess.run([os.path.join(ROOT, OBJ, "tests", "tools", "opbench"), "--min-seconds",
                      str(MIN_SECONDS), path], capture_output=True, text=True, env=env)
if res.returncode != 0:
    sys.exit("opbench failed: " + res.stderr.strip())
ours = {}
for line in res.stdout.split("\n"):
    if line.strip():
        c, p, _, fw, bw, inc = line.split()
        ours[(c, p)] = ours.get((c, p), 0.0) + (float(bw) if inc == "1" else float(fw) + float(bw))
theirs = {}
for config, part, op, attrs, inputs, fn in cases:
    fw, bw = best(fn)
    theirs[(config, part)] = theirs.get((config, part), 0.0) + (fw + bw) * 1e3

print(f"ops, batch {N}, forward + backward, ms per batch; {THREADS} threads "
      f"(ours: OpenMP {THREADS}, OpenBLAS 1 thread; PyTorch {torch.__version__}: "
      f"set_num_threads({THREADS}), OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')})")
print(f"{'config':9s} {'part':10s} {'ours':>9s} {'pytorch':>9s} {'speed-up':>9s}")
for key in sorted(ours, key=lambda k: (["tetro", "dsprites", "gtsrb8"].index(k[0]), k[1])):
    a, b = ours[key], theirs.get(key, float("nan"))
    print(f"{key[0]:9s} {key[1]:10s} {a:9.2f} {b:9.2f} {b / a:8.2f}x")
