"""Golden tensors for sp-train's step, from the reference's own training step.

For each case below (small variants of the paper's configurations that
exercise the training forward: mask noise on the canvas channel, frozen and
unfrozen sprites, the greedy selection with the empty sprite and its
penalty, the exact minimum over K x M, the occlusion predictor, the
curriculum), this script
  1. builds the reference's DTISprites for 3x35x35 images, perturbs every
     tensor (as make_predict_golden.py), and writes it as OUR model file
     tests/golden/train/<case>.spm (with the training keys of the case);
  2. builds Adam as src/trainer.py does (two groups: cluster parameters;
     transformer parameters with weight decay, the shared encoder repeated
     once per transformer holding it) and runs Trainer.single_train_batch_run's
     body (train mode, zero_grad, forward, backward, step) STEPS times on the
     first 4 real Tetrominoes, with torch.rand (the mask noise) replaced by
     recorded uniform maps so that our side can be fed the same noise;
  3. writes tests/golden/train/<case>.sp, one batch: `image`, `noise`
     [STEPS, K, H*W] (when the case injects noise), `expect_loss` [STEPS],
     `expect_choice` [B, L] of the first step, and per tensor name the
     first step's gradient `grad/<name>` and the value after the last step
     `after/<name>` (for the encoder only the first and last tensors, to keep
     the files small: every encoder gradient flows through them).
tests/unit/test_train.c compares.

Needs bin/sp-load built.  Run with Debian's python3 (torch, msgpack):
  /usr/bin/python3 tests/golden/make_train_golden.py
"""
import os
import sys

import msgpack
import numpy as np
import torch
from torch.utils.data import Dataset

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
import reference_import  # noqa: F401,E402
sys.path.insert(0, os.path.join(ROOT, "formats"))
from sprites_model import stored, tensor  # noqa: E402
from model.dti_sprites import DTISprites  # noqa: E402
from make_predict_golden import first_batch, perturb, Stand  # noqa: E402

STEPS = 2
TRAIN = {"training.optimizer.name": "adam", "training.optimizer.lr": 1.0e-3,
         "training.optimizer.transformer.weight_decay": 1.0e-6, "training.scheduler.name": "multi_step",
         "training.scheduler.gamma": [1, 0.1], "training.scheduler.milestones": [100, 200],
         "training.n_epoches": 210, "training.check_cluster_interval": 50, "training.seed": 3}

BASE = dict(name="dti_sprites", n_sprites=3, n_backgrounds=1, n_objects=2, freeze_sprite=1,
            inject_noise=0.4, encoder_name="resnet20", transformation_sequence="color",
            transformation_sequence_bkg="color", transformation_sequence_layer="color_position",
            curriculum_learning=False, curriculum_learning_bkg=False, curriculum_learning_layer=False,
            proto_init="constant", mask_init="gaussian", sprite_size=[24, 24], gaussian_weights_std=5,
            pred_occlusion=True, estimate_minimum=True, greedy_algo_iter=2, add_empty_sprite=True,
            lambda_empty_sprite=1.0e-2, n_hidden_layers=1, n_linear_layers=1)
# case: (model kwargs, epoch the step runs at); "frozen" is "greedy"'s model (same seed, one file)
MODEL_OF = {"frozen": "greedy"}
CASES = {
    # greedy selection with noise, occlusion predictor, empty sprite + penalty, background
    "greedy": (BASE, 1),
    # the same while the sprites are frozen: detached, the empty sprite left out of the selection
    "frozen": (BASE, 0),
    # one layer, the exact minimum over K x M, no noise, a projective + TPS warp to image size,
    # a two-module curriculum still at its first stage for the background
    "minimum": (dict(BASE, n_objects=1, inject_noise=0, estimate_minimum=False, add_empty_sprite=False,
                     lambda_empty_sprite=0, pred_occlusion=False, transformation_sequence="color_projective_tps",
                     transformation_sequence_layer="identity", transformation_sequence_bkg="color_projective",
                     curriculum_learning_bkg=[5], n_backgrounds=2, freeze_sprite=0), 1),
}


def kept(keys):
    """Every non-encoder tensor; of the encoder the first 3 and last 5."""
    enc = [k for k in keys if k.startswith("encoder.")]
    keep = set(enc[:3] + enc[-5:])
    return [k for k in keys if not k.startswith("encoder.") or k in keep]


def main():
    out_dir = os.path.join(HERE, "train")
    os.makedirs(out_dir, exist_ok=True)
    x = torch.from_numpy(first_batch(4))
    pk = msgpack.Packer(use_bin_type=True)
    for seed, (case, (kw, epoch)) in enumerate(CASES.items()):
        seed = list(CASES).index(MODEL_OF.get(case, case))
        torch.manual_seed(seed)
        kw = dict(kw)
        name = kw.pop("name")
        model = DTISprites(Stand(), **kw)
        for prm in model.parameters():  # the reference's GPU behaviour (REFERENCE-NOTES 2)
            if not prm.data.is_contiguous():
                prm.data = prm.data.contiguous()
        g = torch.Generator().manual_seed(2000 + seed)
        perturb(model, g)
        # the curriculum at `epoch` (as `epoch` calls of model.step() would leave it)
        for _ in range(epoch):
            model.step()
        assert model.cur_epoch == epoch

        config = {"dataset.name": "tetrominoes", "model.name": name}
        for k, v in kw.items():
            config["model." + k] = v
        config.update(TRAIN)
        sd = model.state_dict()
        tensors = {k: tensor(v.numpy()) for k, v in sd.items() if stored(k)}
        if case not in MODEL_OF:
            with open(os.path.join(out_dir, case + ".spm"), "wb") as f:
                f.write(pk.pack({"sprites-model": 1, "config": config, "tensors": tensors,
                                 "meta": {"producer": "tests/golden/make_train_golden.py", "case": case,
                                          "seed": 3}}))

        opt = torch.optim.Adam([dict(params=model.cluster_parameters()),
                                dict(params=model.transformer_parameters(), weight_decay=1.0e-6)], lr=1.0e-3)
        model.set_optimizer(opt)
        K, (H, W) = model.n_sprites, Stand.img_size
        gn = torch.Generator().manual_seed(3000 + list(CASES).index(case))
        noise = torch.rand(STEPS, K, 1, H, W, generator=gn)
        losses, grads, choice = [], {}, None
        rand = torch.rand
        # every state_dict name of every parameter (the encoder's aliases included)
        named = [(k, v) for k, v in model.state_dict(keep_vars=True).items() if isinstance(v, torch.nn.Parameter)]
        for s in range(STEPS):
            torch.rand = lambda *a, **k: noise[s].clone()  # noqa: E731  (the only torch.rand of a step)
            try:
                model.train()
                opt.zero_grad()
                loss, distances = model(x)
                loss.backward()
            finally:
                torch.rand = rand
            if s == 0:
                for k, p in named:
                    if p.grad is not None:
                        grads[k] = p.grad.detach().clone()
                if model.estimate_minimum:
                    choice = model._class_prob.argmax(1).t()  # [B, L]
                else:
                    choice = distances.argmin(1)[:, None] % K  # one layer: sprite of the best (m, k)
            opt.step()
            losses.append(loss.item())

        sd = model.state_dict()
        batch = {"batch": 0, "image": tensor(x.numpy()),
                 "expect_loss": tensor(np.array(losses, np.float32)),
                 "expect_choice": tensor(choice.numpy().astype(np.int32)),
                 "epoch": epoch}
        if kw.get("inject_noise"):
            batch["noise"] = tensor(noise.reshape(STEPS, K, H * W).numpy())
        grad_keys = [k for k in kept([k for k in sd.keys() if stored(k)]) if k in grads]
        for k in grad_keys:
            batch["grad/" + k] = tensor(grads[k].numpy())
        for k in kept([k for k in sd.keys() if stored(k)]):
            batch["after/" + k] = tensor(sd[k].numpy())
        with open(os.path.join(out_dir, case + ".sp"), "wb") as f:
            f.write(pk.pack({"sprites": 1, "meta": {"producer": "tests/golden/make_train_golden.py",
                                                     "torch": torch.__version__, "case": case}}))
            f.write(pk.pack(batch))
            f.write(pk.pack({"end": 1}))
        print(case, "loss", losses, "grads", len(grad_keys), "choice", choice.tolist())


if __name__ == "__main__":
    main()
