#!/usr/bin/python3
"""Golden cases of the geometry ops (common/sp_ops_geom.c): grids,
grid_sample, the reference's transformations and their sequences, and the
MLP heads.  Files: ops/geom_grid.sp, geom_sample.sp, geom_tsf.sp,
geom_mlp.sp.  See
ops_golden.py for the file format.

Where an op is the reference's own code (the transformation modules of
model/transformer.py, TPSGrid and create_mlp of model/tools.py, kornia's
homography_warp as reference-bench/stubs/kornia has it), the expected values
come from that code, imported unmodified from reference-bench/ref/src; the
building blocks that are PyTorch functions (affine_grid, grid_sample, linear)
come from torch.nn.functional.

Run: cd tests/golden && PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 make_ops_geom.py
(Debian's python3 with torch 1.13; torchvision is stubbed when absent: the
reference imports it only for a VGG encoder that is never built here.)

Finite differences.  tests/unit/test_ops.c checks every backward by central
differences (eps 1e-3) on up to 24 elements per input, in float.  Bilinear
sampling, the clamps and ReLU have kinks; a sampled element whose +-eps step
crosses one would fail for no fault of the op.  So every FD case is drawn
from a seed whose finite differences, emulated here in float64 on exactly the
elements the C test samples, agree with torch's gradient to a quarter of the
case's fd_tol (the remaining margin is for float32 rounding in the C
forward); see emit().  GEOM_DEBUG=1 prints the margin of every seed tried.  Deliberate kink cases (points on pixel centres,
on the borders, clamp ties) are fd=False, with the reason in the description.

Tolerances (forward and backward against torch float32), per family:
 - grids (affine, homography): same float operations as torch up to the
   order of a 3-term dot product: rtol 1e-5, atol 1e-6; their backward sums
   H*W terms (torch in float, ours in double): rtol 1e-5, atol 1e-5.
 - TPS grid: ours folds the kernel into one matrix computed in double and
   rounded to float; the float64 reference (TPSGrid run with float64 default
   dtype) agrees to 4e-7 on the grid and 4e-6 on its gradient (atol 1e-5);
   against the float32 reference (torch.inverse in float) the grid moves by
   up to ~1e-5, hence atol 3e-5 in those cases, and outputs sampled through
   it move by that times the image gradient (atol 3e-4, 1e-3 on gradients).
 - grid_sample, warp_affine: the same arithmetic for the forward (observed
   differences <= 2e-6); input gradients are float sums in the same order
   as torch; grid gradients are C-channel sums scaled by W/2 (values reach
   ~80, observed differences <= 2e-5): rtol 1e-4, atol 1e-4 for all three.
 - transformations and sequences: as grid_sample, plus the parameter
   gradient, a sum over every output pixel and channel (torch: float bmm
   over pixels; ours: double), values up to ~70, observed differences
   <= 2e-5: rtol 1e-4, atol 1e-4.  The TPS case against the float32
   reference moves by its float inverse (see above): rtol, atol 1e-3.
 - colour: elementwise, sums over pixels for beta: rtol 1e-5, atol 1e-5.
 - morphological: exponentials and ratios in float, ours with the maximum
   subtracted: rtol 1e-5, atol 1e-5 (1e-4 for beta's gradient, a sum over
   pixels).
 - linear / mlp: OpenBLAS sgemm on both sides, but different blockings:
   rtol 1e-5, atol 1e-5."""
import importlib
import os
import sys
import types

import numpy as np
import torch
import torch.nn.functional as F

from ops_golden import case, fwd_bwd
from reference_import import REF  # sys.path to the reference and its kornia stub, torchvision stub

HERE = os.path.dirname(os.path.abspath(__file__))
# The reference's model package without its __init__ (which pulls the trainer's
# utilities): a namespace whose path is ref/src/model.
_pkg = types.ModuleType("refmodel")
_pkg.__path__ = [os.path.join(REF, "ref", "src", "model")]
sys.modules["refmodel"] = _pkg
tr = importlib.import_module("refmodel.transformer")
tools = importlib.import_module("refmodel.tools")
import kornia  # noqa: E402  (the stub)

torch.manual_seed(0)
FILE = "geom_grid"  # one file per section: geom_grid, geom_sample, geom_tsf, geom_mlp
FEAT = 8  # regressor input size; irrelevant here (beta is given)

FD_EPS, FD_SAMPLES = 1e-3, 24


def fd_margin(fn64, inputs, diff, douts, grads, eps, tol):
    """Largest |num - ana| / (tol * max(1, |ana|)) over the elements that
    tests/unit/test_ops.c samples, with the forward in float64 at the
    float32-rounded perturbed points, as the C test takes them."""
    base = {k: (torch.as_tensor(np.asarray(v)).double() if isinstance(v, torch.Tensor) else v)
            for k, v in inputs.items()}

    def loss(over):
        ins = dict(base)
        ins.update(over)
        with torch.no_grad():
            outs = fn64(**ins)
        return sum(float((outs[k].double() * douts["d" + k].double()).sum()) for k in outs)

    worst = 0.0
    for d in diff:
        x32 = inputs[d].detach().numpy().astype(np.float32)
        n = x32.size
        step = n // FD_SAMPLES if n > FD_SAMPLES else 1
        ana_all = grads["d" + d].detach().numpy().reshape(-1)
        for i in range(step // 2 if step > 1 else 0, n, step):
            keep = x32.reshape(-1)[i]
            hi, lo = np.float32(keep + np.float32(eps)), np.float32(keep - np.float32(eps))
            xp, xm = x32.copy().reshape(-1), x32.copy().reshape(-1)
            xp[i], xm[i] = hi, lo
            lp = loss({d: torch.from_numpy(xp.reshape(x32.shape)).double()})
            lm = loss({d: torch.from_numpy(xm.reshape(x32.shape)).double()})
            num = (lp - lm) / (float(hi) - float(lo))
            ana = float(ana_all[i])
            worst = max(worst, abs(num - ana) / (tol * max(1.0, abs(ana))))
    return worst


def emit(op, fn, fn64, make_inputs, diff, desc, attrs=None, rtol=1e-5, atol=1e-6, fd=True,
         fd_tol=1e-2, seed=0, tries=40):
    """One case.  make_inputs(seed) -> dict of inputs; with fd, seeds are
    tried from `seed` on until the emulated finite differences (fd_margin)
    pass with a 4x margin."""
    for s in range(seed, seed + (tries if fd else 1)):
        inputs = make_inputs(s)
        outs, douts, grads = fwd_bwd(fn, inputs, diff, seed=s)
        if not fd or not diff:
            break
        m = fd_margin(fn64 or fn, inputs, diff, douts, grads, FD_EPS, fd_tol)
        if os.environ.get("GEOM_DEBUG"):
            print(op, desc, s, round(m, 3), file=sys.stderr)
        if m < 0.25:
            break
    else:
        raise SystemExit(f"{op} ({desc}): no seed with safe finite differences")
    case(FILE, op, inputs, outs, grads, douts, attrs=attrs, desc=desc, rtol=rtol, atol=atol,
         fd=fd, fd_eps=FD_EPS, fd_tol=fd_tol)


def gen(seed):
    return torch.Generator().manual_seed(1000 + seed)


def randn(g, *shape, scale=1.0):
    return torch.randn(*shape, generator=g) * scale


def rand(g, *shape, lo=0.0, hi=1.0):
    return lo + (hi - lo) * torch.rand(*shape, generator=g)


# ---------------------------------------------------------------------------- affine_grid

def empty_batch(fn):
    """torch refuses an empty batch in affine_grid (and the reference's views
    fail on one): run fn on one image of zeros and keep none of it; the
    gradients are then empty tensors of the inputs' shapes."""
    def f(**ins):
        if next(iter(ins.values())).shape[0] > 0:
            return fn(**ins)
        one = {k: torch.zeros(1, *v.shape[1:], dtype=v.dtype) for k, v in ins.items()}
        zero = sum(v.sum() for v in ins.values()) * 0
        return {k: v[:0] + zero for k, v in fn(**one).items()}
    return f


def affine_grid_fn(h, w):
    return empty_batch(lambda theta: {"grid": F.affine_grid(theta, (theta.shape[0], 1, h, w),
                                                            align_corners=False)})


for (n, h, w, desc) in [(2, 7, 9, "random theta, 7x9"), (2, 6, 5, "even/odd 6x5"),
                        (1, 1, 1, "1x1 output (base point 0)"), (0, 5, 4, "zero-size batch")]:
    eye = torch.tensor([[1.0, 0, 0], [0, 1, 0]])
    emit("affine_grid", affine_grid_fn(h, w), None,
         lambda s, n=n: {"theta": eye + randn(gen(s), n, 2, 3, scale=0.3)}, ["theta"], desc,
         attrs={"height": h, "width": w}, rtol=1e-5, atol=1e-5)

# ---------------------------------------------------------------------------- homography_grid


def homography_grid_fn(h, w):
    def f(hom):
        if hom.shape[0] == 0:  # kornia's batching divides by the batch size
            return {"grid": torch.zeros(0, h, w, 2, dtype=hom.dtype) + 0 * hom.sum()}
        grid = kornia.create_meshgrid(h, w, normalized_coordinates=True, device=hom.device).to(hom.dtype)
        return {"grid": kornia.warp_grid(grid, hom)}
    return f


I3 = torch.eye(3)
for (n, h, w, desc, fd, mk) in [
        (2, 7, 9, "random homography near identity, 7x9", True,
         lambda s: {"hom": I3 + randn(gen(s), 2, 3, 3, scale=0.1)}),
        (1, 1, 1, "1x1 output (meshgrid point -1, -1)", True,
         lambda s: {"hom": I3 + randn(gen(s), 1, 3, 3, scale=0.1)}),
        (2, 4, 5, "z = 0 everywhere (last row zero): scale 1, no gradient to the last row; "
         "fd off: a step moves z past 1e-8", False,
         lambda s: {"hom": torch.cat([I3[:2] + randn(gen(s), 2, 2, 3, scale=0.1),
                                      torch.zeros(2, 1, 3)], 1)}),
        (0, 3, 4, "zero-size batch", True, lambda s: {"hom": torch.zeros(0, 3, 3)})]:
    emit("homography_grid", homography_grid_fn(h, w), None, mk, ["hom"], desc,
         attrs={"height": h, "width": w}, rtol=1e-5, atol=1e-5, fd=fd)

# ---------------------------------------------------------------------------- tps_grid


def lattice(g, dtype=torch.float32):
    y, x = torch.meshgrid(torch.linspace(-1, 1, g, dtype=dtype), torch.linspace(-1, 1, g, dtype=dtype),
                          indexing="ij")
    return torch.stack([x.flatten(), y.flatten()], dim=1)


_tps_cache = {}


def tps_grid_module(h, w, g, dtype):
    key = (h, w, g, dtype)
    if key not in _tps_cache:
        old = torch.get_default_dtype()
        torch.set_default_dtype(dtype)  # TPSGrid builds its matrices in the default dtype
        try:
            _tps_cache[key] = tools.TPSGrid((h, w), lattice(g, dtype))
        finally:
            torch.set_default_dtype(old)
    return _tps_cache[key]


def tps_grid_fn(h, w, g, dtype):
    def f(points):
        m = tps_grid_module(h, w, g, dtype if points.dtype == torch.float32 else torch.float64)
        out = m(points.to(m.inverse_kernel.dtype)).view(points.shape[0], h, w, 2)
        return {"grid": out.to(points.dtype)}
    return f


for (n, h, w, g, dtype, desc, atol) in [
        (2, 7, 9, 4, torch.float64, "g 4, 7x9, reference in float64", 1e-5),
        (2, 7, 9, 4, torch.float32, "g 4, 7x9, reference in float32 (its float inverse)", 3e-5),
        (2, 5, 4, 3, torch.float64, "g 3, 5x4", 1e-5),
        (1, 1, 1, 4, torch.float64, "1x1 output (target point -1, -1)", 1e-5),
        (0, 3, 3, 4, torch.float64, "zero-size batch", 1e-5)]:
    emit("tps_grid", tps_grid_fn(h, w, g, dtype), tps_grid_fn(h, w, g, torch.float64),
         lambda s, n=n, g=g: {"points": lattice(g) + randn(gen(s), n, g * g, 2, scale=0.1)},
         ["points"], desc, attrs={"height": h, "width": w}, rtol=1e-5, atol=atol)

# ---------------------------------------------------------------------------- grid_sample
FILE = "geom_sample"


def grid_sample_fn(pad):
    return empty_batch(lambda x, grid: {"y": F.grid_sample(x, grid, mode="bilinear", padding_mode=pad,
                                                           align_corners=False)})


def off_kinks(grid, hin, win, margin=0.02):
    """Moves points whose pixel coordinate lies within `margin` pixels of an
    integer (bilinear and clipping kinks) by 2 margins."""
    g = grid.clone()
    for d, size in ((0, win), (1, hin)):
        pix = (g[..., d] + 1) * size / 2 - 0.5
        near = (pix - pix.round()).abs() < margin
        g[..., d] = torch.where(near, g[..., d] + 4 * margin / size, g[..., d])
    return g


def sample_inputs(n, c, hin, win, h, w, spread):
    def mk(s):
        gg = gen(s)
        x = randn(gg, n, c, hin, win)
        grid = off_kinks(rand(gg, n, h, w, 2, lo=-spread, hi=spread), hin, win)
        return {"x": x, "grid": grid}
    return mk


SAMPLE_TOL = dict(rtol=1e-4, atol=1e-4)
for pad in ("zeros", "border"):
    emit("grid_sample", grid_sample_fn(pad), None, sample_inputs(2, 3, 6, 7, 5, 8, 1.3),
         ["x", "grid"], f"{pad}, random points, some outside", attrs={"padding": pad}, **SAMPLE_TOL)
    emit("grid_sample", grid_sample_fn(pad), None, sample_inputs(2, 2, 12, 11, 35, 33, 1.1),
         ["x", "grid"], f"{pad}, odd sizes 12x11 -> 35x33", attrs={"padding": pad}, **SAMPLE_TOL)
    emit("grid_sample", grid_sample_fn(pad), None, sample_inputs(2, 3, 1, 1, 4, 3, 1.5),
         ["x", "grid"], f"{pad}, 1x1 input", attrs={"padding": pad}, **SAMPLE_TOL)
    emit("grid_sample", grid_sample_fn(pad), None, sample_inputs(2, 3, 5, 6, 1, 1, 0.9),
         ["x", "grid"], f"{pad}, 1x1 output", attrs={"padding": pad}, **SAMPLE_TOL)
    emit("grid_sample", grid_sample_fn(pad), None, sample_inputs(0, 3, 4, 5, 6, 7, 1.0),
         ["x", "grid"], f"{pad}, zero-size batch", attrs={"padding": pad}, **SAMPLE_TOL)

    # Points exactly on the borders (+-1), on pixel centres, on the clipping
    # limits and outside, with an input of 4x8 so that every coordinate is an
    # exact binary fraction.  Torch's kink conventions decide the gradients
    # there (a clipped border has gradient 0), so no finite differences.
    def edge_inputs(s):
        gg = gen(s)
        hin, win = 4, 8
        xs = torch.tensor([-1.0, 1.0, -1 + 1 / win, 1 - 1 / win, -1 + 3 / win, 0.0, -1.25, 1.25,
                           -3.0, 3.0, -1 - 1 / win, 1 + 1 / win])
        ys = torch.tensor([-1.0, 1.0, -1 + 1 / hin, 1 - 1 / hin, 0.0, -1.5, 1.5])
        gy, gx = torch.meshgrid(ys, xs, indexing="ij")
        grid = torch.stack([gx, gy], -1)[None].expand(2, -1, -1, -1).contiguous()
        return {"x": randn(gg, 2, 2, hin, win), "grid": grid}
    emit("grid_sample", grid_sample_fn(pad), None, edge_inputs, ["x", "grid"],
         f"{pad}, points on borders, pixel centres, clip limits and outside (kinks: fd off)",
         attrs={"padding": pad}, fd=False, **SAMPLE_TOL)


# warp_affine: affine_grid + grid_sample, fused in the op
def warp_affine_fn(h, w, pad):
    return empty_batch(lambda x, theta: {"y": F.grid_sample(
        x, F.affine_grid(theta, (x.shape[0], x.shape[1], h, w), align_corners=False),
        mode="bilinear", padding_mode=pad, align_corners=False)})


def warp_affine_inputs(n, c, hin, win):
    def mk(s):
        gg = gen(s)
        eye = torch.tensor([[1.0, 0, 0], [0, 1, 0]])
        return {"x": randn(gg, n, c, hin, win), "theta": eye + randn(gg, n, 2, 3, scale=0.3)}
    return mk


for pad in ("zeros", "border"):
    emit("warp_affine", warp_affine_fn(6, 7, pad), None, warp_affine_inputs(2, 3, 5, 4),
         ["x", "theta"], f"{pad}, 5x4 -> 6x7", attrs={"height": 6, "width": 7, "padding": pad},
         **SAMPLE_TOL)
emit("warp_affine", warp_affine_fn(9, 8, "zeros"), None, warp_affine_inputs(0, 3, 9, 8),
     ["x", "theta"], "zero-size batch, output size = input size (attributes 0)",
     attrs={"padding": "zeros"}, **SAMPLE_TOL)

# ---------------------------------------------------------------------------- transformations
FILE = "geom_tsf"

TSF_TOL = dict(rtol=1e-4, atol=1e-4)


def module_fn(make_module):
    """fn(x, beta) -> {"y": module._transform(x, beta)} with the module in
    the inputs' dtype."""
    mods = {}

    def f(x, beta):
        if x.dtype not in mods:
            m = make_module()
            mods[x.dtype] = m.double() if x.dtype == torch.float64 else m
        m = mods[x.dtype]
        if x.shape[0] == 0:  # the reference's views and kornia's batching fail on an empty batch
            y = m._transform(torch.zeros(1, *x.shape[1:], dtype=x.dtype),
                             torch.zeros(1, beta.shape[1], dtype=x.dtype))[:0]
            return {"y": y + 0 * (x.sum() + beta.sum())}
        return {"y": m._transform(x, beta)}
    return f


def smooth_sprite(g, n, c, h, w):
    """A sprite-like input: a low-frequency pattern under a bump that falls to
    ~0 at the border.  Bilinear sampling's kinks (where a point crosses a
    pixel row or column) change the slope by the input's second difference,
    which is small here, so finite differences of the parameters (which move
    every point at once) stay accurate; the golden comparison with torch's
    gradients does not depend on this choice."""
    yy = torch.linspace(-1, 1, h).view(1, 1, h, 1) if h > 1 else torch.zeros(1, 1, 1, 1)
    xx = torch.linspace(-1, 1, w).view(1, 1, 1, w) if w > 1 else torch.zeros(1, 1, 1, 1)
    fy, fx, ph = (rand(g, n, c, 1, 1, lo=0.5, hi=1.5) for _ in range(3))
    pattern = 0.5 + 0.4 * torch.sin(3 * fx * xx + 2 * fy * yy + 6 * ph)
    bump = (1 - xx ** 2) * (1 - yy ** 2)
    return (pattern * bump).contiguous()


def tsf_inputs(n, c, h, w, P, scale, xlo=0.0, xhi=1.0, beta_fn=None, smooth=False):
    def mk(s):
        gg = gen(s)
        x = smooth_sprite(gg, n, c, h, w) if smooth else rand(gg, n, c, h, w, lo=xlo, hi=xhi)
        beta = beta_fn(gg) if beta_fn else randn(gg, n, P, scale=scale)
        return {"x": x, "beta": beta}
    return mk


# identity
emit("tsf_identity", module_fn(lambda: tr.IdentityModule(FEAT)), None,
     tsf_inputs(2, 4, 5, 6, 0, 0.0), ["x"], "IdentityModule, beta [N,0]", rtol=0, atol=0)
emit("tsf_identity", module_fn(lambda: tr.IdentityModule(FEAT)), None,
     tsf_inputs(0, 4, 5, 6, 0, 0.0), ["x"], "zero-size batch", rtol=0, atol=0)


# colour: inputs in [-0.2, 1.2] and betas of 0.3 so that the clamp's three
# pieces are all used; seeds keep values off the kinks at 0 and 1 (emit).
def color_module(clamp, cc=3):
    return lambda: tr.ColorModule(FEAT, color_channels=cc, use_clamp=clamp)


for (c, clamp, attr_clamp, desc) in [(3, "soft", "soft", "RGB, soft clamp"),
                                     (5, "soft", "soft", "RGB + mask + noise canvas passed through"),
                                     (4, True, "clamp", "RGB + mask, hard clamp"),
                                     (3, False, "none", "no clamp"),
                                     (1, "soft", "soft", "1 channel expanded to 3"),
                                     (3, "soft0.1", "soft0.1", "soft clamp alpha 0.1"),
                                     (4, "diff", "diff", "differentiable clamp (identity gradient)")]:
    fd = clamp != "diff"  # the diff clamp's gradient is not the derivative
    emit("tsf_color", module_fn(color_module(clamp)), None,
         tsf_inputs(2, c, 5, 6, 6, 0.3, -0.2, 1.2), ["x", "beta"],
         desc + ("" if fd else " (gradient is not the derivative: fd off)"),
         attrs={"color_channels": 3, "clamp": attr_clamp}, rtol=1e-5, atol=1e-5, fd=fd)


def color_ties(s):
    # (1 + w) x + b exactly 0 and 1 (soft clamp's tie gradient 1 + alpha/2)
    x = torch.tensor([0.0, 1.0, 0.5, 0.25]).view(1, 1, 2, 2).expand(2, 4, 2, 2).contiguous()
    beta = torch.tensor([[0.0, 0.0, 1.0, -1.0, -1.0, 0.5], [1.0, 0.0, 0.0, 0.0, 3.0, -0.5]])
    return {"x": x, "beta": beta}


emit("tsf_color", module_fn(color_module("soft")), None, color_ties, ["x", "beta"],
     "values exactly 0 and 1 (kinks of the clamp: fd off)", attrs={"color_channels": 3, "clamp": "soft"},
     rtol=1e-5, atol=1e-5, fd=False)
emit("tsf_color", module_fn(color_module("soft")), None, tsf_inputs(0, 4, 5, 6, 6, 0.3),
     ["x", "beta"], "zero-size batch", attrs={"color_channels": 3, "clamp": "soft"})


# spatial: sprites of 4 channels (RGB + mask) warped to another size
def spatial(name, P, make_module, scale, sizes, pads=("zeros", "border"), beta_fn=None, attrs_hw=True,
            tol=TSF_TOL):
    for pad in pads:
        for (n, c, hin, win, h, w, what, *fd_ok) in sizes:
            attrs = {"padding": pad}
            if attrs_hw:
                attrs.update(height=h, width=w)
            # Past a few hundred output points some point crosses a pixel
            # row or column under any +-eps step of beta (every parameter
            # moves every point): finite differences are then meaningless.
            fd = fd_ok[0] if fd_ok else h * w <= 300
            emit("tsf_" + name, module_fn(lambda h=h, w=w, pad=pad: make_module(h, w, pad)), None,
                 tsf_inputs(n, c, hin, win, P, scale, beta_fn=beta_fn, smooth=True), ["x", "beta"],
                 f"{what}, {pad}" + ("" if fd else " (fd off: too many points cross pixel kinks "
                                     "under a step of beta)"), attrs=attrs, fd=fd, **tol)


SIZES = [(2, 4, 9, 8, 11, 13, "sprite 9x8 -> 11x13"), (2, 3, 12, 12, 35, 35, "12x12 -> 35x35"),
         (1, 2, 1, 1, 3, 4, "1x1 sprite"), (2, 4, 5, 5, 1, 1, "1x1 output"),
         (0, 4, 5, 5, 7, 9, "zero-size batch")]
spatial("position", 3,
        lambda h, w, pad: tr.PositionModule(FEAT, img_size=(h, w), padding_mode=pad), 0.3, SIZES)
spatial("similarity", 4,
        lambda h, w, pad: tr.SimilarityModule(FEAT, img_size=(h, w), padding_mode=pad), 0.3, SIZES)
spatial("affine", 6,
        lambda h, w, pad: tr.AffineModule(FEAT, img_size=(h, w), padding_mode=pad), 0.3, SIZES)
# projective: the reference's output size is the input's (dsize = x.size)
spatial("projective", 9, lambda h, w, pad: tr.ProjectiveModule(FEAT, padding_mode=pad), 0.1,
        [(2, 4, 9, 8, 9, 8, "9x8"), (2, 3, 12, 11, 12, 11, "12x11", False), (1, 2, 1, 1, 1, 1, "1x1"),
         (0, 4, 5, 5, 5, 5, "zero-size batch")], attrs_hw=False)


# and with another output size, which the op allows: kornia's warp with dsize
def proj_sized(h, w, pad):
    class M(torch.nn.Module):
        def _transform(self, x, beta):
            return kornia.homography_warp(x, beta.view(-1, 3, 3) + torch.eye(3, dtype=x.dtype),
                                          dsize=(h, w), padding_mode=pad)
    return M()


spatial("projective", 9, proj_sized, 0.1, [(2, 4, 9, 8, 11, 13, "9x8 -> 11x13, kornia dsize")],
        pads=("zeros",))


# tps: the reference module in float64 (see the tolerances above) and in float32
def tps_module(h, w, pad, g=4, dtype=torch.float64):
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        m = tr.TPSModule(FEAT, img_size=(h, w), padding_mode=pad, grid_size=g)
    finally:
        torch.set_default_dtype(old)
    if dtype == torch.float64:
        class Wrap(torch.nn.Module):  # float64 inside, the input's dtype outside
            def __init__(self):
                super().__init__()
                self.m = m

            def double(self):
                return self

            def _transform(self, x, beta):
                return self.m._transform(x.double(), beta.double()).to(x.dtype)
        return Wrap()
    return m


spatial("tps", 32, tps_module, 0.1, SIZES)
spatial("tps", 18, lambda h, w, pad: tps_module(h, w, pad, g=3), 0.1,
        [(2, 4, 9, 8, 10, 12, "g 3, 9x8 -> 10x12")], pads=("zeros",))
spatial("tps", 32, lambda h, w, pad: tps_module(h, w, pad, dtype=torch.float32), 0.1,
        [(2, 4, 9, 8, 11, 13, "sprite 9x8 -> 11x13, reference in float32 (its float inverse)")],
        tol=dict(rtol=1e-3, atol=1e-3))


# morphological: alpha spread over both signs (dilation and erosion)
def morpho_beta(n, k):
    def f(gg):
        b = randn(gg, n, 1 + k * k, scale=1.5)
        b[:, 0] = randn(gg, n, scale=3.0)
        return b
    return f


def morpho_module(k):
    return lambda: tr.MorphologicalModule(FEAT, kernel_size=k)


def morpho_per_image(k):
    """The reference's smoothmax broadcasts alpha [B] against rows B*C, so it
    only runs for C == 1 or B == 1; for B, C > 1 apply it image by image (the
    op's documented generalisation)."""
    f = module_fn(morpho_module(k))

    def g(x, beta):
        return {"y": torch.cat([f(x[i:i + 1], beta[i:i + 1])["y"] for i in range(x.shape[0])], 0)}
    return g


MORPHO_TOL = dict(rtol=1e-5, atol=1e-4)
for (n, c, h, w, k, desc, per_image) in [(2, 1, 6, 7, 3, "k 3, B 2, C 1", False),
                                         (1, 3, 5, 5, 3, "k 3, B 1, C 3", False),
                                         (2, 1, 5, 6, 5, "k 5, B 2, C 1", False),
                                         (2, 3, 4, 5, 3, "k 3, B 2, C 3: image by image", True),
                                         (2, 1, 1, 1, 3, "1x1 images", False),
                                         (0, 1, 4, 4, 3, "zero-size batch", False)]:
    emit("tsf_morpho", morpho_per_image(k) if per_image else module_fn(morpho_module(k)), None,
         tsf_inputs(n, c, h, w, 1 + k * k, 0.0, beta_fn=morpho_beta(n, k)), ["x", "beta"], desc,
         **MORPHO_TOL)


# sequences: TransformationSequence.apply_parameters, the reference's chaining
def seq_module(name, h, w, pad, clamp="soft"):
    def make():
        return tr.TransformationSequence(FEAT, name, img_size=(h, w), color_channels=3,
                                         padding_mode=pad, use_clamp=clamp, grid_size=4,
                                         kernel_size=3)

    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.s = make()

        def _transform(self, x, beta):
            return self.s.apply_parameters(x, beta)
    return M


for (name, n, c, hin, win, h, w, pad, what) in [
        ("color_projective_tps", 2, 5, 9, 8, 9, 8, "zeros", "gtsrb8's sprites (RGB + mask + canvas)"),
        ("color_projective_tps", 2, 3, 9, 8, 9, 8, "border", "gtsrb8's backgrounds"),
        ("identity_similarity", 2, 5, 8, 8, 8, 8, "zeros", "dsprites' sprites"),
        ("color_position", 2, 5, 7, 7, 11, 13, "zeros", "tetro's / dsprites' layers"),
        ("color", 2, 3, 6, 6, 6, 6, "border", "a colour-only background"),
        ("col_aff_morpho", 1, 1, 6, 6, 7, 5, "zeros", "grey input expanded, affine, morpho")]:
    P = sum(m.dim_parameters for m in seq_module(name, h, w, pad)().s.tsf_modules)
    emit("tsf_sequence", module_fn(seq_module(name, h, w, pad)), None,
         tsf_inputs(n, c, hin, win, P, 0.1, smooth=True), ["x", "beta"], f"{name}: {what}",
         attrs={"sequence": name, "height": h, "width": w, "padding": pad}, **TSF_TOL)

# ---------------------------------------------------------------------------- linear, mlp
FILE = "geom_mlp"

LIN_TOL = dict(rtol=1e-5, atol=1e-5)


def linear_inputs(n, i, o, bias=True):
    def mk(s):
        gg = gen(s)
        d = {"x": randn(gg, n, i), "weight": randn(gg, o, i, scale=0.5)}
        if bias:
            d["bias"] = randn(gg, o)
        return d
    return mk


emit("linear", lambda x, weight, bias: {"y": F.linear(x, weight, bias)}, None, linear_inputs(5, 7, 4),
     ["x", "weight", "bias"], "5 x 7 -> 4", **LIN_TOL)
emit("linear", lambda x, weight: {"y": F.linear(x, weight)}, None, linear_inputs(3, 64, 9, False),
     ["x", "weight"], "no bias, 64 -> 9", **LIN_TOL)
emit("linear", lambda x, weight, bias: {"y": F.linear(x, weight, bias)}, None, linear_inputs(0, 6, 3),
     ["x", "weight", "bias"], "zero-size batch", **LIN_TOL)


def mlp_fn(x, w1, b1, w2, b2, w3, b3):
    # create_mlp(in, out, 128, 2), its weights replaced by the inputs
    m = tools.create_mlp(x.shape[1], w3.shape[0], w1.shape[0], 2).to(x.dtype)
    seq = [m[0], m[3], m[5]]
    for lin, w, b in zip(seq, (w1, w2, w3), (b1, b2, b3)):
        del lin.weight, lin.bias
        lin.weight, lin.bias = w, b
    return {"y": m(x)}


def mlp_inputs(n, i, hid, o):
    def mk(s):
        gg = gen(s)
        return {"x": randn(gg, n, i), "w1": randn(gg, hid, i, scale=i ** -0.5),
                "b1": randn(gg, hid, scale=0.1), "w2": randn(gg, hid, hid, scale=hid ** -0.5),
                "b2": randn(gg, hid, scale=0.1), "w3": randn(gg, o, hid, scale=hid ** -0.5),
                "b3": randn(gg, o, scale=0.1)}
    return mk


MLP_IN = ["x", "w1", "b1", "w2", "b2", "w3", "b3"]
emit("mlp", mlp_fn, None, mlp_inputs(3, 16, 128, 9), MLP_IN,
     "create_mlp(16, 9, 128, 2) with non-zero last layer", **LIN_TOL)
emit("mlp", mlp_fn, None, mlp_inputs(4, 6, 8, 32), MLP_IN, "small hidden layer 8, 32 outputs (tps)",
     **LIN_TOL)
emit("mlp", mlp_fn, None, mlp_inputs(0, 6, 8, 3), MLP_IN, "zero-size batch", **LIN_TOL)

for f in ("geom_grid", "geom_sample", "geom_tsf", "geom_mlp"):
    print("wrote", os.path.join("ops", f + ".sp"), os.path.getsize(os.path.join(HERE, "ops", f + ".sp")), "bytes")
