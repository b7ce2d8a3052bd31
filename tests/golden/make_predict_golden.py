"""Golden tensors for sp-predict, from the reference's own DTISprites.predict.

For each case below (a variant of the paper's tetro configuration, small
enough to commit, that exercises every part of the eval-mode forward: sprite
transformers, layer transformer, empty sprite, background transformer,
occlusion predictor), this script
  1. builds the reference's DTISprites (ref/src/model/dti_sprites.py) for
     Tetrominoes-sized images (3x35x35), as make_model_shapes.py does;
  2. PERTURBS every tensor randomly, so that no transformation is the
     identity and the batch norms' running statistics and the clamps matter
     (the initial regressors end in zeros, which would test nothing);
  3. writes its state_dict as OUR model file (formats/model.md):
     tests/golden/predict/<case>.spm, with the configuration as a map of
     our keys (the reader fills the absent ones with their defaults) and
     only the tensors we store (no encoder aliases, identity buffers,
     occ_grid, activations, num_batches_tracked);
  4. runs model.eval() and model.predict(x) under no_grad on the first
     batch of ../shared/data/tetrominoes-real10 as bin/sp-load gives it, and
     writes tests/golden/predict/<case>.sp: one stream, one batch with
     `image` and the expected `expect_cand_layers`, `expect_cand_masks`,
     `expect_backgrounds`, `expect_occlusion`.

Layouts: the reference returns tsf_layers / tsf_masks as [L, K, B, C, H, W],
tsf_bkgs as [M, B, C, H, W] and occ_grid as [L, L, B]; we store them
permuted to [B, L, K, C, H, W], [B, M, C, H, W] and [B, L, L] (batch first,
as every stream entry).  tests/unit/test_predict.c compares.

Needs bin/sp-load built.  Run with Debian's python3 (torch, yaml, msgpack):
  /usr/bin/python3 tests/golden/make_predict_golden.py
"""
import os
import subprocess
import sys

import msgpack
import numpy as np
import torch
from torch.utils.data import Dataset

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
import reference_import  # noqa: F401,E402
sys.path.insert(0, os.path.join(HERE, "..", "..", "formats"))
from sprites_model import stored, tensor  # noqa: E402  (one definition, shared with import_reference.py)
from model.dti_sprites import DTISprites  # noqa: E402

DATA = os.path.normpath(os.path.join(ROOT, "..", "shared", "data", "tetrominoes-real10"))

# The tetro configuration (ref/configs/tetro.yml), made small: 3 sprites,
# resnet20, one hidden layer per regressor (the files stay small), plus the
# parts tetro lacks (empty sprite, background, occlusion predictor).
BASE = dict(name="dti_sprites", n_sprites=3, n_backgrounds=1, n_objects=3, freeze_sprite=1,
            inject_noise=0.4, encoder_name="resnet20", transformation_sequence="color",
            transformation_sequence_bkg="color", transformation_sequence_layer="color_position",
            curriculum_learning=False, curriculum_learning_bkg=False, curriculum_learning_layer=False,
            proto_init="constant", mask_init="gaussian", sprite_size=[24, 24], gaussian_weights_std=5,
            pred_occlusion=True, estimate_minimum=False, greedy_algo_iter=1, add_empty_sprite=True,
            lambda_empty_sprite=1.0e-4, n_hidden_layers=1, n_linear_layers=1)
CASES = {
    # sprite transformers at the sprite size, then the layer transformer
    "tetro-layer": BASE,
    # no layer transformer: the sprite transformers warp to the image size
    "tetro-sprite": dict(BASE, transformation_sequence="color_affine", transformation_sequence_layer="identity",
                         n_objects=2, pred_occlusion=False, add_empty_sprite=False),
}


class Stand(Dataset):
    n_channels, img_size = 3, (35, 35)

    def __len__(self):
        return 200

    def __getitem__(self, i):
        return torch.rand(3, 35, 35), 0


def perturb(model, g):
    with torch.no_grad():
        for k, v in model.state_dict().items():
            if not v.is_floating_point() or v.numel() == 0 or not stored(k):
                continue
            r = lambda: torch.randn(v.shape, generator=g)  # noqa: E731
            u = lambda: torch.rand(v.shape, generator=g)  # noqa: E731
            if k in ("prototype_params", "mask_params", "bkg_params"):
                v.copy_(u() * 1.2 - 0.1)  # beyond [0, 1]: the soft clamp matters
            elif k.endswith("running_var"):
                v.copy_(0.5 + u())
            elif k.endswith("running_mean"):
                v.copy_(0.1 * r())
            elif k.startswith("encoder.") and v.dim() == 4:
                v.mul_(1 + 0.2 * r())
            elif k.startswith("encoder.") and k.endswith("weight"):
                v.copy_(1 + 0.2 * r())
            elif k.startswith("encoder."):
                v.copy_(0.1 * r())
            elif k.endswith("weight") and v.abs().max() == 0:
                v.copy_(0.005 * r())  # the regressors' last layers, zero at init
            elif k.endswith("bias") and v.abs().max() == 0:
                v.copy_(0.05 * r())
            else:
                v.add_(0.01 * r())


def first_batch(n=3):
    """The first n real Tetrominoes as bin/sp-load gives them, [n, 3, 35, 35]."""
    out = subprocess.run([os.path.join(ROOT, "bin", "sp-load"), DATA, "--batch", str(n)], check=True,
                         stdout=subprocess.PIPE).stdout
    u = msgpack.Unpacker(raw=False, max_buffer_size=2 ** 32)
    u.feed(out)
    for m in u:
        if "batch" in m:
            t = m["image"]
            return np.frombuffer(t["data"], "<f4").reshape(t["shape"]).copy()
    raise SystemExit("no batch from sp-load")


def main():
    out_dir = os.path.join(HERE, "predict")
    os.makedirs(out_dir, exist_ok=True)
    x = torch.from_numpy(first_batch())
    pk = msgpack.Packer(use_bin_type=True)
    for seed, (case, kw) in enumerate(CASES.items()):
        torch.manual_seed(seed)
        kw = dict(kw)
        name = kw.pop("name")
        model = DTISprites(Stand(), **kw)
        for prm in model.parameters():  # the reference's GPU behaviour (REFERENCE-NOTES 2)
            if not prm.data.is_contiguous():
                prm.data = prm.data.contiguous()
        g = torch.Generator().manual_seed(1000 + seed)
        perturb(model, g)
        model.eval()
        model.cur_epoch = 10  # sprites not frozen (no effect at eval, said for clarity)
        with torch.no_grad():
            layers, masks, bkgs, occ, _ = model.predict(x)

        config = {"dataset.name": "tetrominoes", "model.name": name}
        for k, v in kw.items():
            config["model." + k] = v
        tensors = {k: tensor(v.numpy()) for k, v in model.state_dict().items() if stored(k)}
        with open(os.path.join(out_dir, case + ".spm"), "wb") as f:
            f.write(pk.pack({"sprites-model": 1, "config": config, "tensors": tensors,
                             "meta": {"producer": "tests/golden/make_predict_golden.py", "case": case}}))

        batch = {"batch": 0, "image": tensor(x.numpy()),
                 "expect_cand_layers": tensor(layers.permute(2, 0, 1, 3, 4, 5).numpy()),
                 "expect_cand_masks": tensor(masks.permute(2, 0, 1, 3, 4, 5).numpy())}
        if bkgs is not None:
            batch["expect_backgrounds"] = tensor(bkgs.permute(1, 0, 2, 3, 4).numpy())
        if kw.get("pred_occlusion"):
            batch["expect_occlusion"] = tensor(occ.permute(2, 0, 1).numpy())
        with open(os.path.join(out_dir, case + ".sp"), "wb") as f:
            f.write(pk.pack({"sprites": 1, "meta": {"producer": "tests/golden/make_predict_golden.py",
                                                     "torch": torch.__version__, "case": case}}))
            f.write(pk.pack(batch))
            f.write(pk.pack({"end": 1}))
        print(case, {k: v["shape"] for k, v in batch.items() if isinstance(v, dict)})


if __name__ == "__main__":
    main()
