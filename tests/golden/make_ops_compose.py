#!/usr/bin/python3
"""Golden cases of the composition, loss, optimiser and initialisation ops
(common/sp_ops_compose.c).  See ops_golden.py for the file format.

Where the op is the reference's own, the expected values come from the
reference's code (reference-bench/ref/src, unmodified, imported read-only):
  clamp          model.tools.get_clamp_func (SoftClamp, Clamp, DiffClamp)
  compose        DTISprites.compose (both of its branches) and
                 layered_composition, called as unbound functions on a small
                 stand-in object that carries the attributes they read
  occlusion_grid DTISprites.predict_occlusion_grid with the occlusion MLP
                 replaced by the identity (the logits are the op's input)
  mse            DTISprites.criterion (nn.MSELoss(reduction='none'), mean
                 over C,H,W) and the forward's .mean() over images
  multistep_lr   the reference's scheduler.MultiStepLR on a dummy optimiser
  gaussian_init  model.tools.create_gaussian_weights (scipy.signal.gaussian)
  adam           torch.optim.Adam itself (what the reference's trainer uses)
The mask-noise injection is inline in DTISprites.predict: its expression is
re-typed here verbatim (`tsf_masks + tsf_noise * (2 * a * noise - a)` with
the noise expanded over layers and images).  uniform_noise has no PyTorch
counterpart (our Philox stream, not torch's generator): its expected values
come from an independent Python Philox 4x32-10, itself checked against the
Random123 known-answer vectors (the ones of tests/unit/test_rng.c).

torchvision is not needed by any of this but transformer.py imports it at
module level; when it is not installed a stub module stands in.

Run: cd tests/golden && PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 make_ops_compose.py
"""
import os
import types
import warnings

import numpy as np
import torch

from ops_golden import case, fwd_bwd, OUT
import reference_import  # noqa: F401  (sys.path to the reference, torchvision stub)
import sptensor

warnings.filterwarnings("ignore")

from model.dti_sprites import DTISprites, layered_composition  # noqa: E402
from model.tools import create_gaussian_weights, get_clamp_func  # noqa: E402
from scheduler import MultiStepLR  # noqa: E402

for f in os.listdir(OUT):
    if f.startswith("compose_") and f.endswith(".sp"):
        os.remove(os.path.join(OUT, f))

torch.manual_seed(7)
g = torch.Generator().manual_seed(11)


def randn(*shape):
    return torch.randn(*shape, generator=g)


def rand(*shape):
    return torch.rand(*shape, generator=g)


# ------------------------------------------------------------------- clamp
# Forward and backward are elementwise and exact in float: rtol 0, atol 1e-7
# (one rounding of a*x).  Finite differences only where no element sits at a
# kink (0 or 1): there the one-sided slopes differ and torch's tie rule
# (min/max split the gradient in halves) is a convention, tested exactly by
# the no-fd cases that contain exact 0s and 1s.
def kinks(n):
    v = torch.tensor([0.0, 1.0, -0.0, 0.5, -2.0, 3.0, 1.0 + 2 ** -23, -(2 ** -23)])
    return torch.cat([v, randn(n)])


def away_from_kinks(*shape):
    x = randn(*shape) * 1.5 + 0.5
    bad = (x.abs() < 0.02) | ((x - 1).abs() < 0.02)
    return torch.where(bad, x + 0.1, x)


for kind, ref_name in [("soft", "soft"), ("soft0.1", "soft0.1"), ("clamp", "clamp"), ("diff", "diff"),
                       ("none", False)]:
    fn = get_clamp_func(ref_name)
    for desc, x, fd in [("exact 0 and 1, kinks", kinks(12), False),
                        ("random [2,3,4,5]", away_from_kinks(2, 3, 4, 5), True),
                        ("empty [0,3]", torch.zeros(0, 3), False)]:
        if kind == "diff" and fd:
            fd = False  # straight-through gradient: not the derivative of the forward
        outs, douts, grads = fwd_bwd(lambda x: {"y": fn(x)}, {"x": x}, ["x"], seed=1)
        case("compose_clamp", "clamp", {"x": x}, outs, grads, douts, attrs={"kind": kind},
             desc=f"{kind}: {desc}", rtol=0, atol=1e-7, fd=fd, fd_eps=1e-3, fd_tol=1e-3)

# ----------------------------------------------------------------- sigmoid
# Our expf vs torch's vectorised exp: a few ulp.  rtol 1e-6, atol 1e-7 (values
# and gradients are <= 1 and 0.25).
for desc, x in [("random [3,4,5]", randn(3, 4, 5) * 3),
                ("saturating", torch.tensor([-200.0, -104.0, -88.0, -20.0, -1e-8, 0.0, 1e-8, 17.0, 88.0, 200.0])),
                ("empty", torch.zeros(0))]:
    outs, douts, grads = fwd_bwd(lambda x: {"y": torch.sigmoid(x)}, {"x": x}, ["x"], seed=2)
    case("compose_sigmoid", "sigmoid", {"x": x}, outs, grads, douts, desc=desc, rtol=1e-6, atol=1e-7,
         fd=desc.startswith("random"), fd_eps=1e-3, fd_tol=2e-3)


# ---------------------------------------------------------------- occlusion
def ref_occ_grid(logits, L):
    """[N, L(L-1)/2] logits -> our [N, L, L] with the reference's code."""
    me = types.SimpleNamespace(n_objects=L, pred_occlusion=True, occ_predictor=lambda f: f)
    x = torch.zeros(logits.shape[0], 1)
    return DTISprites.predict_occlusion_grid(me, x, logits).permute(2, 0, 1)


def ref_fixed_grid(N, L):
    """The non-predicted grid: the occ_grid buffer tril(ones, -1), as [N, L, L]."""
    me = types.SimpleNamespace(n_objects=L, pred_occlusion=False, occ_grid=torch.tril(torch.ones(L, L), diagonal=-1))
    return DTISprites.predict_occlusion_grid(me, torch.zeros(N, 1), None).permute(2, 0, 1)


# Sigmoid then copies: rtol 1e-6, atol 1e-7.  Smooth: fd with eps 1e-3.
for N, L in [(3, 2), (2, 3), (2, 6), (4, 1), (0, 4)]:
    z = randn(N, L * (L - 1) // 2) * 2
    outs, douts, grads = fwd_bwd(lambda logits: {"occ": ref_occ_grid(logits, L)}, {"logits": z}, ["logits"], seed=3)
    case("compose_occlusion", "occlusion_grid", {"logits": z}, outs, grads, douts, attrs={"layers": L},
         desc=f"N={N} L={L}", rtol=1e-6, atol=1e-7, fd=True, fd_eps=1e-3, fd_tol=2e-3)


# ------------------------------------------------------------------ compose
def ref_compose_train(layers, masks, background=None, occlusion=None):
    """The composition the training loss goes through: DTISprites.compose with
    class_prob (after the greedy selection), here with K = 1 candidate and
    class_prob = 1 so that the selection is the identity.  Our layouts:
    layers [L,N,C,H,W], masks [L,N,1,H,W], background [N,C,H,W], occlusion
    [N,L,L] (the reference's grid before its permute to [L,L,N])."""
    L, N = layers.shape[:2]
    if occlusion is None:
        occ = ref_fixed_grid(N, L).permute(1, 2, 0)
    else:
        occ = occlusion.permute(1, 2, 0)
    class_prob = torch.ones(L, 1, N)
    bkg = None if background is None else background[None]
    me = types.SimpleNamespace(pred_occlusion=occlusion is not None)
    y = DTISprites.compose(me, layers[:, None], masks[:, None], occ, bkg, class_prob)
    return {"y": y}


def ref_compose_exhaustive(layers, masks, background=None, occlusion=None):
    """The other branch of DTISprites.compose (no class_prob: every
    combination of sprites, K**L*M composites; gtsrb8 and horse use it),
    here with K = M = 1: one composite.  Its loops skip j == k instead of
    multiplying by (1 - o[k][k] m_k); with a zero diagonal that is the same."""
    L, N = layers.shape[:2]
    occ = (ref_fixed_grid(N, L) if occlusion is None else occlusion).permute(1, 2, 0)
    bkg = None if background is None else background[None]
    me = types.SimpleNamespace(pred_occlusion=occlusion is not None)
    y = DTISprites.compose(me, layers[:, None], masks[:, None], occ, bkg, None)  # [N, 1, C, H, W]
    return {"y": y[:, 0]}


def masks_with_exact(L, N, H, W):
    m = rand(L, N, 1, H, W)
    flat = m.view(-1)
    n = flat.numel()
    if n >= 8:
        idx = torch.randperm(n, generator=g)[: n // 4]
        flat[idx[: len(idx) // 2]] = 0.0
        flat[idx[len(idx) // 2:]] = 1.0
    return m


# Tolerances: rtol 1e-5, atol 2e-6.  The forward is a product of L factors
# and a sum of L+1 terms in float (in another order than torch's for the
# fixed order: measured differences <= 1.2e-7); the mask gradients combine
# L^2 such terms (<= 5e-7 seen); the occlusion gradient is a sum over C*H*W
# pixels, ours in double and torch's in float (<= 1e-6 seen).  The composition is affine in
# every single input value (each mask and occlusion entry enters each product
# once), so central differences are exact up to rounding at any step: eps 1e-2
# keeps the rounding small; fd_tol 2e-3.
compose_cases = [
    # desc, L, N, C, H, W, background, occlusion
    ("tetro-like, fixed order, no background", 3, 2, 3, 5, 7, False, False),
    ("fixed order, background", 3, 2, 3, 5, 7, True, False),
    ("predicted occlusion, background", 3, 2, 3, 5, 7, True, True),
    ("predicted occlusion, no background", 3, 2, 3, 5, 7, False, True),
    ("one layer, background (gtsrb8)", 1, 3, 3, 4, 6, True, False),
    ("one layer, occlusion, background", 1, 2, 3, 3, 3, True, True),
    ("six layers, occlusion, background (clevr6)", 6, 2, 3, 6, 5, True, True),
    ("six layers, fixed order, background", 6, 2, 3, 6, 5, True, False),
    ("1x1 images", 2, 3, 3, 1, 1, True, True),
    ("1x1 images, fixed", 2, 3, 1, 1, 1, True, False),
    ("one channel, odd size", 2, 2, 1, 7, 3, True, True),
    ("several pixel blocks (400 px)", 3, 2, 3, 20, 20, True, True),
    ("several pixel blocks, fixed (600 px)", 2, 1, 3, 20, 30, False, False),
    ("zero-size batch", 3, 0, 3, 4, 4, True, True),
    ("zero-size batch, fixed", 3, 0, 3, 4, 4, True, False),
    ("no layers", 0, 2, 3, 2, 2, True, False),
]
for desc, L, N, C, H, W, with_bg, with_occ in compose_cases:
    inputs = {"layers": rand(L, N, C, H, W), "masks": masks_with_exact(L, N, H, W)}
    if with_bg:
        inputs["background"] = rand(N, C, H, W)
    if with_occ:
        inputs["occlusion"] = ref_occ_grid(randn(N, L * (L - 1) // 2) * 2, L)
    diff = list(inputs)
    fn = ref_compose_train
    if L == 0:
        # torch's prod over an empty dimension cannot build this: the
        # composite of no layers is the background.
        fn = (lambda layers, masks, background=None, occlusion=None: {"y": background.clone()})
    outs, douts, grads = fwd_bwd(fn, inputs, diff, seed=4)
    case("compose_compose", "compose", inputs, outs, grads, douts, desc=desc, rtol=1e-5, atol=2e-6,
         fd=True, fd_eps=1e-2, fd_tol=2e-3)

# The same op against the reference's exhaustive branch (gtsrb8/horse path).
for desc, L, N, C, H, W, with_bg, with_occ in [
        ("exhaustive branch, one layer, background", 1, 3, 3, 4, 5, True, False),
        ("exhaustive branch, fixed order, background", 3, 2, 3, 4, 5, True, False),
        ("exhaustive branch, occlusion, background", 3, 2, 3, 4, 5, True, True),
        ("exhaustive branch, occlusion, no background", 2, 2, 3, 4, 5, False, True)]:
    inputs = {"layers": rand(L, N, C, H, W), "masks": masks_with_exact(L, N, H, W)}
    if with_bg:
        inputs["background"] = rand(N, C, H, W)
    if with_occ:
        inputs["occlusion"] = ref_occ_grid(randn(N, L * (L - 1) // 2) * 2, L)
    diff = [k for k in inputs if k != "occlusion"]  # its loops never read the diagonal
    outs, douts, grads = fwd_bwd(ref_compose_exhaustive, inputs, diff, seed=5)
    case("compose_compose", "compose", inputs, outs, grads, douts, desc=desc, rtol=1e-5, atol=2e-6,
         fd=True, fd_eps=1e-2, fd_tol=2e-3)

# A non-zero diagonal (never produced by the reference's grid) follows
# layered_composition: the factor (1 - o[k][k] m_k) is included.
inputs = {"layers": rand(3, 2, 3, 4, 4), "masks": rand(3, 2, 1, 4, 4), "background": rand(2, 3, 4, 4),
          "occlusion": rand(2, 3, 3)}
outs, douts, grads = fwd_bwd(ref_compose_train, inputs, list(inputs), seed=6)
case("compose_compose", "compose", inputs, outs, grads, douts, desc="arbitrary occlusion matrix, diagonal included",
     rtol=1e-5, atol=2e-6, fd=True, fd_eps=1e-2, fd_tol=2e-3)

# ---------------------------------------------------------------------- mse
# The reference's criterion: per-image mean over C*H*W, then the loss's mean
# over images.  Ours sums in double: rtol 1e-5, atol 1e-7.  Quadratic: central
# differences exact up to rounding, eps 1e-3, fd_tol 2e-3.
criterion_self = types.SimpleNamespace(_criterion=torch.nn.MSELoss(reduction="none"))


def ref_mse(x, target):
    dist = DTISprites.criterion(criterion_self, x.unsqueeze(1), target.unsqueeze(1))  # [N, 1]
    return {"dist": dist[:, 0], "loss": dist.mean()}


for desc, shape in [("[4,3,5,7]", (4, 3, 5, 7)), ("1x1 image", (1, 1, 1, 1)), ("odd [3,1,7,3]", (3, 1, 7, 3)),
                    ("[2,3,35,35]", (2, 3, 35, 35)), ("zero-size batch", (0, 3, 4, 4))]:
    inputs = {"x": rand(*shape), "target": rand(*shape)}
    outs, douts, grads = fwd_bwd(ref_mse, inputs, ["x", "target"], seed=7)
    case("compose_mse", "mse", inputs, outs, grads, douts, desc=desc, rtol=1e-5, atol=1e-7,
         fd=True, fd_eps=1e-3, fd_tol=2e-3)


# --------------------------------------------------------------------- adam
# torch.optim.Adam (1.13, single-tensor path).  Same float operations in the
# same order, with the multiply-adds torch's AVX2 kernels fuse fused by fmaf:
# bit-exact here; rtol 1e-7 (one ulp) in case another torch build rounds
# differently when the goldens are remade.
def adam_cases(desc, shape, steps, times, lr, betas, eps, wd, file="compose_adam"):
    p = torch.nn.Parameter(randn(*shape))
    opt = torch.optim.Adam([{"params": [p] * times}], lr=lr, betas=betas, eps=eps, weight_decay=wd)
    for t in range(steps):
        grad = randn(*shape) * (0.1 if t % 2 else 3.0)
        if t == 2:
            grad[..., 0] = 0.0
        st = opt.state[p]
        m0 = st["exp_avg"].clone() if st else torch.zeros(shape)
        v0 = st["exp_avg_sq"].clone() if st else torch.zeros(shape)
        step0 = int(st["step"].item()) if st else 0
        inputs = {"param": p.detach().clone(), "grad": grad.clone(), "m": m0, "v": v0}
        p.grad = grad.clone()
        opt.step()
        st = opt.state[p]
        assert int(st["step"].item()) == step0 + times
        outs = {"param_out": p.detach().clone(), "m_out": st["exp_avg"].clone(), "v_out": st["exp_avg_sq"].clone()}
        attrs = {"step": step0 + 1, "times": times, "lr": lr, "beta1": betas[0], "beta2": betas[1], "eps": eps,
                 "weight_decay": wd}
        case(file, "adam", inputs, outs, attrs=attrs, desc=f"{desc}, torch step {t + 1}", rtol=1e-7, atol=0,
             fd=False)


adam_cases("lr 1e-3 wd 0", (3, 7), 5, 1, 1e-3, (0.9, 0.999), 1e-8, 0.0)
adam_cases("reference transformer group: lr 1e-4 wd 1e-6", (5, 4), 5, 1, 1e-4, (0.9, 0.999), 1e-8, 1e-6)
adam_cases("large weight decay 0.1, betas (0.5, 0.9)", (11,), 4, 1, 1e-2, (0.5, 0.9), 1e-8, 0.1)
adam_cases("parameter twice in the group (gtsrb8 encoder)", (4, 3), 4, 2, 1e-3, (0.9, 0.999), 1e-8, 1e-6)
adam_cases("parameter 7 times in the group (dsprites, clevr6 encoder), wd 0.1", (6,), 3, 7, 1e-3, (0.9, 0.999),
           1e-8, 0.1)
adam_cases("empty parameter", (0, 5), 2, 1, 1e-3, (0.9, 0.999), 1e-8, 1e-6)


# -------------------------------------------------------------- multistep_lr
# The reference's own MultiStepLR class, stepped epoch times.  lr rounded to
# float: rtol 1e-7.
def sched_lr(base_lr, gamma_list, milestones, epoch, group):
    ps = [torch.nn.Parameter(torch.zeros(1)) for _ in gamma_list]
    opt = torch.optim.SGD([{"params": [q]} for q in ps], lr=base_lr)
    gamma = gamma_list if len(gamma_list) > 1 else float(gamma_list[0])
    s = MultiStepLR(opt, milestones=milestones, gamma=gamma)
    for _ in range(epoch):
        opt.step()
        s.step()
    return s.get_last_lr()[group]


for base_lr, gammas, ms, group in [(1e-4, [1, 0.1], [100, 200], 1), (1e-4, [1, 0.1], [100, 200], 0),
                                   (1e-3, [0.1], [600], 0), (1e-3, [0.5], [3, 3, 7], 0), (2e-3, [0.1], [], 0)]:
    for epoch in sorted({0, 1, 2, 3, 4, 6, 7, 8, 99, 100, 101, 199, 200, 201, 250, 599, 600, 650}):
        if epoch > 250 and 600 not in ms:
            continue
        lr = sched_lr(base_lr, gammas, ms, epoch, group)
        gamma = float(gammas[group])
        case("compose_multistep", "multistep_lr", {}, {"lr": np.array(lr, dtype=np.float32)},
             attrs={"base_lr": base_lr, "gamma": gamma, "milestones": ",".join(str(m) for m in ms), "epoch": epoch},
             desc=f"lr {base_lr} gamma {gamma} milestones {ms} epoch {epoch}", rtol=1e-7, atol=0, fd=False)

# ------------------------------------------------------------- gaussian_init
# The reference's create_gaussian_weights (float64 then one rounding to
# float): rtol 2e-7 (one float ulp, should numpy's exp and libm's differ in the
# last double bit next to a float rounding boundary).
for h, w, c, std in [(24, 24, 1, 5), (28, 28, 1, 7), (40, 40, 1, 10), (35, 35, 3, 5), (64, 64, 1, 20),
                     (1, 1, 1, 3), (1, 5, 2, 2), (5, 8, 2, 2.5), (7, 3, 1, 0.3), (0, 4, 1, 5)]:
    y = create_gaussian_weights((h, w), c, std).contiguous()
    case("compose_gaussian", "gaussian_init", {}, {"y": y}, attrs={"height": h, "width": w, "channels": c, "std": std},
         desc=f"{h}x{w}x{c} std {std}", rtol=2e-7, atol=0, fd=False)

# ------------------------------------------------------------ uniform_noise
M32 = 0xFFFFFFFF


def philox4x32_10(ctr, key):
    """Philox 4x32-10 (Salmon et al. 2011), written from the paper's
    definition: S-box = two 32x32->64 multiplications, key schedule by the
    Weyl constants."""
    c0, c1, c2, c3 = ctr
    k0, k1 = key
    for _ in range(10):
        p0 = 0xD2511F53 * c0
        p1 = 0xCD9E8D57 * c2
        c0, c1, c2, c3 = ((p1 >> 32) ^ c1 ^ k0) & M32, p1 & M32, ((p0 >> 32) ^ c3 ^ k1) & M32, p0 & M32
        k0 = (k0 + 0x9E3779B9) & M32
        k1 = (k1 + 0xBB67AE85) & M32
    return [c0, c1, c2, c3]


# Random123 kat_vectors, philox4x32 10 rounds.
for ctr_key, want in [((0, 0, 0, 0, 0, 0), (0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8)),
                      ((M32,) * 6, (0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd)),
                      ((0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0),
                       (0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1))]:
    assert philox4x32_10(ctr_key[:4], ctr_key[4:]) == list(want), "Philox known answer"


def philox_uniform(seed, stream, index0, n):
    """Value i of (seed, stream): word i%4 of philox(counter {i/4 lo, i/4 hi,
    stream lo, stream hi}, key {seed lo, seed hi}), then (u32 >> 8) * 2^-24."""
    out = np.empty(n, np.float32)
    key = (seed & M32, (seed >> 32) & M32)
    cache = {}
    for i in range(n):
        idx = index0 + i
        block = idx >> 2
        if block not in cache:
            cache[block] = philox4x32_10((block & M32, (block >> 32) & M32, stream & M32, (stream >> 32) & M32), key)
        out[i] = np.float32((cache[block][idx & 3] >> 8) * 2.0 ** -24)
    return out


# Exact: rtol 0, atol 0 (the same float operations: (high-low)*u + low).
for seed, stream, index, shape, low, high in [(0, 0, 0, (2, 3, 4, 4), 0.0, 1.0),
                                              (12345, 7, 5, (3, 5), -0.4, 0.4),
                                              (2 ** 40 + 3, 2 ** 33 + 1, 2 ** 34 - 2, (9,), 0.0, 1.0),
                                              (99, 1, 0, (), -1.0, 3.0),
                                              (5, 0, 0, (0, 4), 0.0, 1.0)]:
    n = int(np.prod(shape, dtype=np.int64))
    u = philox_uniform(seed, stream, index, n)
    y = (np.float32(high - low) * u + np.float32(low)).astype(np.float32).reshape(shape)
    case("compose_noise", "uniform_noise", {}, {"y": y},
         attrs={"seed": seed, "stream": stream, "index": index, "shape": ",".join(str(s) for s in shape),
                "low": low, "high": high},
         desc=f"seed {seed} stream {stream} index {index} shape {shape}", rtol=0, atol=0, fd=False)


# --------------------------------------------------------------- mask_noise
# Re-typed from DTISprites.predict (training with inject_noise = a):
#   noise = torch.rand(K, 1, H, W)[None, None, ...].expand(L, B, K, 1, H, W).transpose(1, 2)
#   tsf_masks = tsf_masks + tsf_noise * (2 * self.inject_noise * noise - self.inject_noise)
# Same float operations: rtol 0, atol 1e-7.  Affine: fd exact, eps 1e-3.
def ref_mask_noise(mask, canvas, u, a):
    L, K, B = mask.shape[:3]
    H, W = mask.shape[-2:]
    noise = u[None, None, ...].expand(L, B, K, 1, H, W).transpose(1, 2)
    return {"y": mask + canvas * (2 * a * noise - a)}


for desc, (L, K, N, H, W), a in [("L=3 K=4 N=2 5x6", (3, 4, 2, 5, 6), 0.4), ("one layer, one sprite", (1, 1, 3, 4, 4), 0.4),
                                 ("amplitude 0.1, 1x1", (2, 3, 2, 1, 1), 0.1), ("zero-size batch", (2, 3, 0, 4, 4), 0.4)]:
    canvas = (rand(L, K, N, 1, H, W) * 1.4 - 0.2).clamp(0, 1)  # ones inside, 0 outside, bilinear between
    inputs = {"mask": randn(L, K, N, 1, H, W) * 0.5 + 0.5, "canvas": canvas, "u": rand(K, 1, H, W)}
    outs, douts, grads = fwd_bwd(lambda mask, canvas, u: ref_mask_noise(mask, canvas, u, a), inputs,
                                 ["mask", "canvas"], seed=8)
    case("compose_mask_noise", "mask_noise", inputs, outs, grads, douts, attrs={"amplitude": a}, desc=desc,
         rtol=0, atol=1e-7, fd=True, fd_eps=1e-3, fd_tol=2e-3)

sizes = {f: os.path.getsize(os.path.join(OUT, f)) for f in sorted(os.listdir(OUT)) if f.startswith("compose_")}
print(" ".join(f"{f} {s // 1024}K" for f, s in sizes.items()), f"total {sum(sizes.values()) // 1024}K")
