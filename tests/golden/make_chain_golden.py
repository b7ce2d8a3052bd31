"""Golden streams for the whole inference chain sp-predict | sp-select |
sp-compose, from the reference's own code, on paper configurations
(tests/cli/chain.sh compares).

For each case below:
  1. takes a few images (sp-load / sp-gen: real GTSRB-8, Weizmann Horse and
     Fashion-MNIST images, generated Multi-dSprites), committed in the golden;
  2. makes the model ON OUR SIDE, as the test does: tests/golden/chain/model.sh
     (bin/sp-train --init-only on the case's configuration with a fixed seed,
     then tests/tools/perturb with a fixed seed: every tensor perturbed, so no
     transformation is the identity and running statistics and clamps
     matter); only its sha256 is recorded (meta "model_sha256"), no model
     file is committed;
  3. loads that model file into the reference's DTISprites
     (formats/export_reference.py's reference_model: strict load_state_dict,
     every curriculum stage active), eval mode, sprites not frozen
     (cur_epoch past freeze_sprite, so that the greedy offers the empty
     sprite, as sp-select always does);
  4. runs, under no_grad, the reference's
       predict()                  -> expect_cand_layers, expect_cand_masks,
                                     expect_backgrounds, expect_occlusion
     several layers (estimate_minimum: greedy_algo_selection inside predict):
       argmax of class_prob       -> expect_choice; bkg_choice 0 (M = 1)
       transform()                -> expect_recon
       transform(pred_instance_labels / pred_semantic_labels /
                 pred_instance_labels with_bkg=False)
                                  -> expect_pred_mask / _pred_sem / _pred_mask_fg
       criterion of compose(class_prob) per image -> expect_select_error
     one layer (the exact minimum of forward over the K x M composites,
     REFERENCE-NOTES 8):
       forward()'s distances, argmin d over K*M; compose's layout puts
       composite d = m*K + k (background m, sprite k)
                                  -> expect_choice k, expect_bkg_choice m,
                                     expect_pred_label k, expect_select_error
       transform() [.., d]        -> expect_recon
       transform(pred_instance_labels / pred_semantic_labels) [.., k]
                                  -> expect_pred_mask / expect_pred_sem
  5. writes tests/golden/chain/<case>.sp.gz (gzip: the candidates are mostly
     zeros, a sixth of the size): one stream, one batch: image (the
     chain's input) and the expect_* entries, batch first as in our streams
     (the reference's [L,K,B,...] candidates as [B,L,K,...]); i32 labels.

It also measures the reference's own float32 error: the same code run in
float64 (meta "ref_float32_error", max |ref32 - ref64| per candidate entry;
the test's tolerances are set from it), and prints the decision margins (how far the reference's values are from
the thresholds and ties the discrete outputs depend on) so that a golden
whose discrete outputs hinge on float32 noise is noticed.

Needs bin/ and the test tools built (make), ../shared/data (gtsrb8,
weizmann-horse) and Debian's dataset-fashion-mnist.  Run with Debian's python3
(torch, msgpack):
  PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 tests/golden/make_chain_golden.py [CASE ...]
"""
import gzip
import hashlib
import os
import subprocess
import sys
import tempfile

import msgpack
import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "formats"))
import sprites_model as sm  # noqa: E402
from export_reference import reference_model  # noqa: E402

BIN = os.path.join(ROOT, "bin")
DATA = os.environ.get("SP_DATA", os.path.normpath(os.path.join(ROOT, "..", "shared", "data")))
FMNIST = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
OUT = os.path.join(HERE, "chain")


def load(args):
    return [os.path.join(BIN, "sp-load")] + args


# case -> (command writing a stream whose first batch holds the images, or a
# callable making the folder first)
CASES = {
    # similarity sprites, colour+position layers, 3 layers (model.n_objects 5 -> 3 for size),
    # 3 sprites + the empty one, one colour background, predicted occlusion, greedy x3
    "dsprites": ("gen", ["multi-dsprites", "--count", "2", "--seed", "5"], ["--split-rule", "all", "--batch", "2"]),
    # one layer, colour+projective+TPS sprites and background, 8 sprites
    "gtsrb8": ("load", [os.path.join(DATA, "gtsrb8"), "--split", "val", "--size", "28x28", "--limit", "3",
                        "--batch", "3"]),
    # the same with 4 sprites and TWO backgrounds (model.n_backgrounds 2): the K x M minimum
    "gtsrb8-m2": ("load", [os.path.join(DATA, "gtsrb8"), "--split", "val", "--size", "28x28", "--limit", "4",
                           "--batch", "4"]),
    # ResNet-18 encoder, 128x128, one sprite, colour+projective+TPS
    "horse": ("load", [os.path.join(DATA, "weizmann-horse"), "--split", "val", "--split-rule", "horse",
                       "--limit", "2", "--batch", "2"]),
    # grey images: 1 channel, colour+affine+TPS sprites, 10 sprites, colour background
    "fashion-mnist": ("load", ["--idx", FMNIST, "--channels", "1", "--limit", "3", "--batch", "3"]),
}


def tensor(a, dtype="f32"):
    a = np.ascontiguousarray(a, dtype="<f4" if dtype == "f32" else "<i4")
    return {"dtype": dtype, "shape": list(a.shape), "data": a.tobytes()}


def first_images(case, tmp):
    kind, args = CASES[case][0], CASES[case][1]
    if kind == "gen":
        d = os.path.join(tmp, "gen")
        subprocess.run([os.path.join(BIN, "sp-gen")] + args + ["--out", d, "--quiet"], check=True)
        cmd = load([d] + CASES[case][2])
    else:
        cmd = load(args)
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE).stdout
    u = msgpack.Unpacker(raw=False, max_buffer_size=2 ** 32)
    u.feed(out)
    for m in u:
        if "batch" in m:
            t = m["image"]
            return np.frombuffer(t["data"], "<f4").reshape(t["shape"]).copy()
    raise SystemExit(f"{case}: no batch from sp-load")


def write_stream(path, meta, batch):
    pk = msgpack.Packer(use_bin_type=True)
    with (gzip.GzipFile(path, "wb", 9, mtime=0) if path.endswith(".gz") else open(path, "wb")) as f:
        f.write(pk.pack({"sprites": 1, "meta": meta}))
        f.write(pk.pack(batch))
        f.write(pk.pack({"end": 1}))


def float64_error(config, tensors, case, x, ref32):
    """max |ref32 - ref64| per candidate entry: the reference's own float32 error, against the same
    code run in float64 (default dtype float64, TPS kernels inverted in float64), which the test's
    tolerances are set from (tests/cli/chain.sh)."""
    from model.tools import TPSGrid
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        m64, _, _ = reference_model(config, tensors, case)
        m64 = m64.double().eval()
        m64.cur_epoch = 10 ** 6
        for mod in m64.modules():
            if isinstance(mod, TPSGrid):
                N = mod.num_points
                gs = int(round(N ** 0.5))
                y, x_ = torch.meshgrid(torch.linspace(-1, 1, gs), torch.linspace(-1, 1, gs))
                tcp = torch.stack([x_.flatten(), y.flatten()], dim=1)
                fwd = torch.zeros(N + 3, N + 3)
                fwd[:N, :N].copy_(TPSGrid.compute_partial_repr(tcp, tcp))
                fwd[:N, -3].fill_(1)
                fwd[-3, :N].fill_(1)
                fwd[:N, -2:].copy_(tcp)
                fwd[-2:, :N].copy_(tcp.t())
                mod.inverse_kernel.copy_(torch.inverse(fwd))
        with torch.no_grad():
            r64 = m64.predict(x.double())
    finally:
        torch.set_default_dtype(old)
    out = {}
    for i, name in enumerate(("cand_layers", "cand_masks", "backgrounds")):
        if ref32[i] is not None:
            out[name] = float((ref32[i].double() - r64[i]).abs().max())
    return out


def run_case(case):
    with tempfile.TemporaryDirectory() as tmp:
        x_np = first_images(case, tmp)
        images = os.path.join(tmp, "images.sp")
        write_stream(images, {}, {"batch": 0, "image": tensor(x_np)})
        model_path = os.path.join(tmp, "model.spm")
        subprocess.run([os.path.join(HERE, "chain", "model.sh"), case, images, model_path], check=True)
        with open(model_path, "rb") as f:
            sha = hashlib.sha256(f.read()).hexdigest()
        config, tensors, _ = sm.read_model(model_path)
    model, _, kw = reference_model(config, tensors, case)
    model.eval()
    model.cur_epoch = 10 ** 6  # past freeze_sprite: sprites not frozen (the greedy offers the empty sprite)
    x = torch.from_numpy(x_np)
    B = x.shape[0]
    L, K, M = model.n_objects, model.n_sprites, model.n_backgrounds
    margins = {}
    with torch.no_grad():
        layers, masks, bkgs, occ, class_prob = model.predict(x)
        batch = {"batch": 0, "image": tensor(x_np),
                 "expect_cand_layers": tensor(layers.permute(2, 0, 1, 3, 4, 5).numpy()),
                 "expect_cand_masks": tensor(masks.permute(2, 0, 1, 3, 4, 5).numpy())}
        if bkgs is not None:
            batch["expect_backgrounds"] = tensor(bkgs.permute(1, 0, 2, 3, 4).numpy())
        if model.pred_occlusion and L > 1:
            batch["expect_occlusion"] = tensor(occ.permute(2, 0, 1).numpy())
            lower = occ.permute(2, 0, 1)[:, torch.tril_indices(L, L, -1)[0], torch.tril_indices(L, L, -1)[1]]
            margins["occlusion |occ - 0.5|"] = float((lower - 0.5).abs().min())
        if L > 1:
            assert class_prob is not None, "several layers: estimate_minimum expected"
            choice = class_prob.argmax(1).transpose(0, 1)  # BL
            recon = model.transform(x)[:, 0]
            pmask = model.transform(x, pred_instance_labels=True)
            psem = model.transform(x, pred_semantic_labels=True)
            pmask_fg = model.transform(x, pred_instance_labels=True, with_bkg=False)
            target = model.compose(layers, masks, occ, bkgs, class_prob)  # BCHW
            err = model.criterion(x.unsqueeze(1), target.unsqueeze(1))[:, 0]
            bkg_choice = torch.zeros(B, dtype=torch.long)
            batch.update({"expect_pred_mask_fg": tensor(pmask_fg.numpy(), "i32")})
            chosen = masks.permute(2, 0, 1, 3, 4, 5)[torch.arange(B)[:, None], torch.arange(L)[None], choice]
            # fg-reassign: the nearest chosen layer (sum over channels of the squared difference)
            sel = layers.permute(2, 0, 1, 3, 4, 5)[torch.arange(B)[:, None], torch.arange(L)[None], choice]
            d2 = ((sel - x[:, None]) ** 2).sum(2).sort(1)[0]  # B L H W
            gap = (d2[:, 1] - d2[:, 0])[pmask == 0]
            margins["fg-reassign nearest-layer gap (background pixels, exact ties excluded)"] = float(gap[gap > 0].min())
        else:
            _, dist = model(x)  # B x (K**L * M), composite d = m*K + k
            best = dist.min(1)
            d = best[1]
            k, m = d % K, d // K
            srt = dist.sort(1)[0]
            if srt.shape[1] > 1:
                margins["choice: 2nd best - best distance (relative)"] = float(((srt[:, 1] - srt[:, 0]) / srt[:, 0]).min())
            choice = k[:, None]
            bkg_choice = m
            recon = model.transform(x)[torch.arange(B), d]
            pm = model.transform(x, pred_instance_labels=True).reshape(B, K, x.shape[2], x.shape[3])
            ps = model.transform(x, pred_semantic_labels=True).reshape(B, K, x.shape[2], x.shape[3])
            pmask, psem = pm[torch.arange(B), k], ps[torch.arange(B), k]
            err = best[0]
            batch["expect_pred_label"] = tensor(k.numpy(), "i32")
            chosen = masks.permute(2, 0, 1, 3, 4, 5)[torch.arange(B)[:, None], torch.arange(L)[None], choice]
        margins["chosen masks |mask - 0.5|"] = float((chosen - 0.5).abs().min())
        batch.update({"expect_choice": tensor(choice.numpy(), "i32"), "expect_recon": tensor(recon.numpy()),
                      "expect_pred_mask": tensor(pmask.numpy(), "i32"),
                      "expect_pred_sem": tensor(psem.numpy(), "i32"),
                      "expect_select_error": tensor(err.numpy())})
        if M > 0:
            batch["expect_bkg_choice"] = tensor(bkg_choice.numpy(), "i32")
    f64 = float64_error(config, tensors, case, x, (layers, masks, bkgs))
    meta = {"producer": "tests/golden/make_chain_golden.py", "torch": torch.__version__, "case": case,
            "model_sha256": sha, "n_layers": int(L), "n_candidates": int(K), "n_backgrounds": int(M),
            "ref_float32_error": f64}
    os.makedirs(OUT, exist_ok=True)
    write_stream(os.path.join(OUT, case + ".sp.gz"), meta, batch)
    print(case, "choice", choice.tolist(), "bkg", bkg_choice.tolist(), "select_error",
          [f"{v:.6g}" for v in err.tolist()])
    print("  the reference's float32 error (max |ref32 - ref64|):",
          ", ".join(f"{k_} {v:.3g}" for k_, v in f64.items()))
    for k_, v in margins.items():
        print(f"  margin {k_}: {v:.3g}")
    print("  size", os.path.getsize(os.path.join(OUT, case + ".sp.gz")))


def main():
    for case in sys.argv[1:] or list(CASES):
        if case not in CASES:
            raise SystemExit(f"unknown case {case!r} (cases: {' '.join(CASES)})")
        run_case(case)


if __name__ == "__main__":
    main()
