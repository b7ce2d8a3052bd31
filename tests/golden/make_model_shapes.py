"""Golden names and shapes of the model's tensors, from the reference itself.

Builds the reference's DTISprites (ref/src/model/dti_sprites.py) for the
paper configs tetro, dsprites, gtsrb8 and horse (ref/configs/*.yml) on a
stand-in dataset with the real one's img_size and n_channels (and random
images for bkg_init 'mean'), and writes every state_dict key with its shape
to tests/golden/model/<config>.txt, one "name d0,d1,..." line each, in
state_dict order.  test_model.c builds our model from
pipelines/configs/<config>.conf and checks that:
  - every tensor of ours is a key of the reference with the same shape;
  - every key of the reference we do not store is one the config determines
    (the modules' identity buffers, TPSGrid's matrices, occ_grid, the
    curriculum activations, num_batches_tracked) or an alias of the shared
    encoder (sprite_transformers.<l>.encoder..., bkg_transformer.encoder...).

Run with Debian's python3 (torch, scipy, sklearn, yaml):
  /usr/bin/python3 tests/golden/make_model_shapes.py
"""
import os
import sys

import torch
import yaml
from torch.utils.data import Dataset

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import reference_import  # noqa: F401,E402  (sys.path to the reference, torchvision stub)
from model.dti_sprites import DTISprites  # noqa: E402

DIMS = {"tetrominoes": (3, 35, 35), "dsprites_gray": (3, 64, 64), "gtsrb8": (3, 28, 28),
        "weizmann_horse": (3, 128, 128)}


class Stand(Dataset):
    def __init__(self, c, h, w):
        self.n_channels, self.img_size = c, (h, w)

    def __len__(self):
        return 200

    def __getitem__(self, i):
        return torch.rand(self.n_channels, *self.img_size), 0


def main():
    torch.manual_seed(0)
    out_dir = os.path.join(HERE, "model")
    os.makedirs(out_dir, exist_ok=True)
    for name in ["tetro", "dsprites", "gtsrb8", "horse"]:
        with open(os.path.join(reference_import.REF, "ref", "configs", name + ".yml")) as f:
            cfg = yaml.load(f, Loader=yaml.FullLoader)
        kw = dict(cfg["model"])
        kw.pop("name")
        c, h, w = DIMS[cfg["dataset"]["name"]]
        model = DTISprites(Stand(c, h, w), **kw)
        lines = ["%s %s" % (k, ",".join(str(d) for d in v.shape)) for k, v in model.state_dict().items()]
        with open(os.path.join(out_dir, name + ".txt"), "w") as f:
            f.write("\n".join(lines) + "\n")
        print(name, len(lines), "keys")


if __name__ == "__main__":
    main()
