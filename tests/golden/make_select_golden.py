"""Golden selection and composition, from the reference's own
DTISprites.greedy_algo_selection and DTISprites.transform.

Input: tests/golden/predict/tetro-layer.sp, whose expect_* entries are the
reference's eval-mode predict() on 3 real Tetrominoes (make_predict_golden.py:
3 layers, 3 sprites + the empty one, one background, predicted occlusion,
lambda_empty_sprite 1e-4, greedy_algo_iter 1).  Those candidates go through
the reference's methods, called on a stand-in object that holds only the
attributes they read (no network: predict() returns the stored candidates),
and this writes tests/golden/select/tetro-layer.sp: one stream whose batch
holds image and the candidates under sp-predict's names (cand_layers, ...),
plus expect_choice i32 [B,L] (argmax of the greedy's class_prob),
expect_recon f32 [B,C,H,W] (transform()), expect_pred_mask /
expect_pred_sem / expect_pred_mask_fg i32 [B,H,W] (pred_instance_labels,
pred_semantic_labels, pred_instance_labels with with_bkg=False).
tests/cli/select_compose.sh compares sp-select | sp-compose with them.

Run with Debian's python3 (torch, msgpack):
  /usr/bin/python3 tests/golden/make_select_golden.py
"""
import os
import sys
import types

import msgpack
import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import reference_import  # noqa: F401,E402
from model.dti_sprites import DTISprites  # noqa: E402


def tensor(a, dtype="f32"):
    a = np.ascontiguousarray(a, dtype="<f4" if dtype == "f32" else "<i4")
    return {"dtype": dtype, "shape": list(a.shape), "data": a.tobytes()}


def untensor(t):
    return torch.from_numpy(np.frombuffer(t["data"], "<f4").reshape(t["shape"]).copy())


def main():
    with open(os.path.join(HERE, "predict", "tetro-layer.sp"), "rb") as f:
        msgs = list(msgpack.Unpacker(f, raw=False, max_buffer_size=2 ** 32))
    b = [m for m in msgs if "batch" in m][0]
    x = untensor(b["image"])
    layers = untensor(b["expect_cand_layers"]).permute(1, 2, 0, 3, 4, 5)  # LKBCHW
    masks = untensor(b["expect_cand_masks"]).permute(1, 2, 0, 3, 4, 5)
    bkgs = untensor(b["expect_backgrounds"]).permute(1, 0, 2, 3, 4)  # MBCHW
    occ = untensor(b["expect_occlusion"]).permute(1, 2, 0)  # LLB
    L, K = layers.shape[:2]

    m = types.SimpleNamespace(add_empty_sprite=True, are_sprite_frozen=False, greedy_algo_iter=1,
                              lambda_empty_sprite=1.0e-4, n_objects=L, n_sprites=K, pred_occlusion=True,
                              learn_backgrounds=True)
    m.compose = types.MethodType(DTISprites.compose, m)
    with torch.no_grad():
        class_prob = DTISprites.greedy_algo_selection(m, x, layers, masks, bkgs, occ)  # LKB
    m.predict = lambda _x: (layers, masks, bkgs, occ, class_prob)
    recon = DTISprites.transform(m, x)[:, 0]
    pmask = DTISprites.transform(m, x, pred_instance_labels=True)
    psem = DTISprites.transform(m, x, pred_semantic_labels=True)
    pmask_fg = DTISprites.transform(m, x, pred_instance_labels=True, with_bkg=False)
    choice = class_prob.argmax(1).transpose(0, 1)  # BL

    batch = {"batch": 0, "image": b["image"], "cand_layers": b["expect_cand_layers"],
             "cand_masks": b["expect_cand_masks"], "backgrounds": b["expect_backgrounds"],
             "occlusion": b["expect_occlusion"],
             "expect_choice": tensor(choice.numpy(), "i32"), "expect_recon": tensor(recon.numpy()),
             "expect_pred_mask": tensor(pmask.numpy(), "i32"), "expect_pred_sem": tensor(psem.numpy(), "i32"),
             "expect_pred_mask_fg": tensor(pmask_fg.numpy(), "i32")}
    pk = msgpack.Packer(use_bin_type=True)
    os.makedirs(os.path.join(HERE, "select"), exist_ok=True)
    with open(os.path.join(HERE, "select", "tetro-layer.sp"), "wb") as f:
        f.write(pk.pack({"sprites": 1, "meta": {"producer": "tests/golden/make_select_golden.py",
                                                 "torch": torch.__version__, "case": "tetro-layer",
                                                 "n_layers": int(L), "n_candidates": int(K), "n_backgrounds": 1,
                                                 "empty_sprite": 1}}))
        f.write(pk.pack(batch))
        f.write(pk.pack({"end": 1}))
    print("choice", choice.tolist(), "recon", tuple(recon.shape), "pred_mask", tuple(pmask.shape))


if __name__ == "__main__":
    main()
