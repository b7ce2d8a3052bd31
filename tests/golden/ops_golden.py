"""Shared by the tests/golden/make_ops_*.py scripts: writes one golden case
of an op as a stream in tests/golden/ops/<file>.sp (cases of one file are
concatenated streams).

A case: header meta {"op": NAME, "case": TEXT, "attrs": {...}, "rtol": r,
"atol": a, "fd": 0|1, "fd_eps": e, "fd_tol": t}; one batch with the op's
inputs, its outputs as PyTorch computed them, the upstream gradients
"d<output>" and PyTorch's input gradients "d<input>".  tests/unit/test_ops.c
runs our op on the inputs and compares (|ours - torch| <= atol + rtol*|torch|
elementwise), then checks our backward by central finite differences.

Run the make_ops_*.py scripts by hand with Debian's /usr/bin/python3 (torch
1.13 CPU); CI only reads the .sp files."""
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "formats"))
import sptensor  # noqa: E402

OUT = os.path.join(HERE, "ops")
os.makedirs(OUT, exist_ok=True)
torch.set_default_dtype(torch.float32)
_files = {}


def arr(t):
    return t.detach().cpu().numpy().copy()


def case(file, op, inputs, outputs, grads=None, douts=None, attrs=None, desc="",
         rtol=1e-5, atol=1e-6, fd=True, fd_eps=1e-3, fd_tol=1e-2):
    """inputs/outputs/grads/douts: dict name -> torch tensor or numpy array.
    grads are named "d<input>", douts "d<output>"."""
    meta = {"op": op, "case": desc, "attrs": attrs or {}, "rtol": float(rtol),
            "atol": float(atol), "fd": int(bool(fd)), "fd_eps": float(fd_eps),
            "fd_tol": float(fd_tol)}
    batch = {}
    for d in (inputs, outputs, douts or {}, grads or {}):
        for k, v in d.items():
            batch[k] = arr(v) if isinstance(v, torch.Tensor) else np.asarray(v)
    path = os.path.join(OUT, file + ".sp")
    mode = "ab" if path in _files else "wb"
    _files[path] = True
    with open(path, mode) as f:
        sptensor.write(f, [batch], meta)


def fwd_bwd(fn, inputs, diff, seed=0):
    """Runs fn(**inputs) -> dict of outputs with autograd; upstream
    gradients are random normal.  Returns (outputs, douts, grads)."""
    g = torch.Generator().manual_seed(seed)
    leaves = {k: (v.detach().clone().requires_grad_(k in diff) if isinstance(v, torch.Tensor) else v)
              for k, v in inputs.items()}
    outs = fn(**leaves)
    douts = {"d" + k: torch.randn(v.shape, generator=g) for k, v in outs.items()}
    loss = sum((outs[k] * douts["d" + k]).sum() for k in outs)
    grads = {}
    if diff:
        gs = torch.autograd.grad(loss, [leaves[k] for k in diff], allow_unused=True)
        grads = {"d" + k: (gv if gv is not None else torch.zeros_like(leaves[k])) for k, gv in zip(diff, gs)}
    return outs, douts, grads
