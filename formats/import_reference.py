#!/usr/bin/python3
"""import_reference.py CONFIG.yml CHECKPOINT.pkl OUT.spm

Converts a checkpoint of the PyTorch reference (monniert/dti-sprites: the dict
its Trainer.save writes, with "model_state" = the model's state_dict) into our
model file (formats/model.md): the YAML configuration becomes our config map
(dotted option names; options we do not have are dropped with a note on
stderr), the tensors keep their names, the encoder is stored once (its copies
under the transformers, identity buffers, TPS buffers, occ_grid, activations
and num_batches_tracked are left out).  The file is written atomically.

Needs Debian's python3-torch, python3-yaml, python3-msgpack, numpy.  Before
the rename the file is loaded by our reader (bin/sp-predict, when built): a
missing tensor or a wrong shape is reported on one line and nothing is written."""
import os
import sys

PROG = "import_reference.py"
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import missing_modules  # noqa: E402

missing_modules.one_line(PROG)
import sprites_model as sm  # noqa: E402


def die(msg):
    print(f"{PROG}: {msg}", file=sys.stderr)
    sys.exit(1)


def main(argv):
    if len(argv) != 3 or argv[0] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr if len(argv) != 1 else sys.stdout)
        sys.exit(0 if argv[:1] in (["-h"], ["--help"]) else 2)
    cfg_path, ckpt_path, out = argv
    import torch
    import yaml
    try:
        with open(cfg_path) as f:
            cfg = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        die(f"{cfg_path}: {e}")
    if not isinstance(cfg, dict) or not isinstance(cfg.get("model"), dict):
        die(f"{cfg_path}: no 'model' section")
    try:
        config = sm.config_from_yaml(cfg, warn=lambda m: print(f"{PROG}: {cfg_path}: {m}", file=sys.stderr))
    except sm.ModelError as e:
        die(f"{cfg_path}: {e}")
    try:
        ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=False)
    except Exception as e:  # noqa: BLE001
        die(f"{ckpt_path}: cannot load ({e})")
    state = ckpt.get("model_state") if isinstance(ckpt, dict) else None
    if state is None and isinstance(ckpt, dict) and all(hasattr(v, "shape") for v in ckpt.values()):
        state = ckpt  # a bare state_dict
    if state is None:
        die(f"{ckpt_path}: no 'model_state' (not a checkpoint of the reference's trainer)")
    if "prototype_params" not in state:
        die(f"{ckpt_path}: model_state: missing key 'prototype_params'")
    if "mask_params" not in state:
        die(f"{ckpt_path}: model_state: missing key 'mask_params'")
    name = config.get("model.name", "dti_sprites")
    if name != "dti_sprites":
        die(f"{cfg_path}: model.name {name!r}: only dti_sprites is supported")
    if int(config["model.n_sprites"]) != state["prototype_params"].shape[0]:
        die(f"{ckpt_path}: prototype_params {list(state['prototype_params'].shape)}: "
            f"the config has model.n_sprites = {config['model.n_sprites']}")
    tensors = {}
    for k, v in state.items():
        if not sm.stored(k):
            continue
        if not v.is_floating_point():
            die(f"{ckpt_path}: {k}: dtype {v.dtype}, expected floating point")
        tensors[k] = v.detach().to("cpu", dtype=torch.float32).contiguous().numpy()
    meta = {"producer": "formats/import_reference.py", "config_file": cfg_path, "checkpoint": ckpt_path}
    for k in ("epoch", "batch"):
        if isinstance(ckpt.get(k), int):
            meta["epoch" if k == "epoch" else "iteration"] = ckpt[k]
    try:
        sm.write_model(out, config, tensors, meta)
    except OSError as e:
        die(f"{out}: {e}")
    except sm.ModelError as e:
        die(str(e))


if __name__ == "__main__":
    main(sys.argv[1:])
