#!/usr/bin/python3
"""export_reference.py MODEL.spm OUT.pkl

Writes our model file (formats/model.md) as a checkpoint of the PyTorch
reference (monniert/dti-sprites), the dict its Trainer.save writes
("model_name", "model_kwargs", "model_state", "n_prototypes", "epoch",
"batch"; no optimizer or scheduler state), so that
    model = DTISprites(dataset, **ckpt["model_kwargs"])
    model.load_state_dict(ckpt["model_state"])       # strict
works.  The complete state_dict (the encoder's copies under every
transformer, identity / TPS buffers, occ_grid, activations at their final
curriculum stage) comes from building the reference's own DTISprites for the
model's configuration and loading our tensors into it; so this needs the
reference's code: $SP_REFERENCE (default ../shared/reference-bench beside the
repository, as tests/golden/reference_import.py).

Needs Debian's python3-torch, python3-msgpack, numpy."""
import os
import sys

PROG = "export_reference.py"
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import missing_modules  # noqa: E402

missing_modules.one_line(PROG)
import sprites_model as sm  # noqa: E402


def die(msg):
    print(f"{PROG}: {msg}", file=sys.stderr)
    sys.exit(1)


def reference_model(config, tensors, src="model"):
    """The reference's DTISprites for our configuration map, with our tensors loaded
    (strict load_state_dict; the encoder copies, buffers and activations as the main
    docstring says).  -> (model, name, kwargs).  Raises sm.ModelError on a mismatch."""
    name, kw = sm.model_kwargs(config)
    if name != "dti_sprites":
        raise sm.ModelError(f"{src}: model.name {name!r}: only dti_sprites is supported")
    ds = config.get("dataset.name")
    if ds not in sm.DATASET_SHAPES:
        raise sm.ModelError(f"{src}: dataset.name {ds!r}: image size unknown")
    C, H, W = sm.DATASET_SHAPES[ds]
    if config.get("dataset.img_size"):
        H, W = config["dataset.img_size"]

    import warnings
    warnings.filterwarnings("ignore", message="Initializing zero-element tensors")  # identity Linear(F, 0)
    import torch
    sys.path.insert(0, os.path.join(sm.ROOT, "tests", "golden"))
    import reference_import  # noqa: F401
    try:
        from model.dti_sprites import DTISprites
    except ImportError as e:
        raise sm.ModelError(f"the reference's code is not importable ({e}); set SP_REFERENCE")

    class Stand(torch.utils.data.Dataset):
        n_channels, img_size = C, (H, W)

        def __len__(self):
            return 1

        def __getitem__(self, i):
            return torch.zeros(C, H, W), 0

    build = dict(kw)  # the initial values are overwritten: no data-dependent initialisation
    build["proto_init"] = "constant"
    build["mask_init"] = "constant"
    build["bkg_init"] = "constant"
    model = DTISprites(Stand(), **build)
    for prm in model.parameters():
        if not prm.data.is_contiguous():
            prm.data = prm.data.contiguous()
    state = model.state_dict()
    want = {k for k in state if sm.stored(k)}
    for k in sorted(want):
        if k not in tensors:
            raise sm.ModelError(f"{src}: missing tensor '{k}'")
        if list(tensors[k].shape) != list(state[k].shape):
            raise sm.ModelError(f"{src}: tensor '{k}': f32 {list(tensors[k].shape)}, "
                                f"the reference expects {list(state[k].shape)}")
    extra = sorted(set(tensors) - want)
    if extra:
        raise sm.ModelError(f"{src}: tensor '{extra[0]}': the reference model has no such tensor")
    new = {}
    for k, v in state.items():
        if k in tensors:
            new[k] = torch.from_numpy(tensors[k]).to(v.dtype)
        elif ".encoder." in k and k.split(".")[0] in ("sprite_transformers", "layer_transformer", "bkg_transformer"):
            shared = "encoder." + k.split(".encoder.", 1)[1]
            new[k] = torch.from_numpy(tensors[shared]).to(v.dtype) if shared in tensors else v.clone()
        elif k.endswith(".activations"):
            new[k] = torch.ones_like(v)  # every transformation active: the final curriculum stage
        else:
            new[k] = v.clone()  # identity / TPS buffers, occ_grid, num_batches_tracked
    torch.nn.Module.load_state_dict(model, new, strict=True)  # DTISprites overrides it without strict
    return model, name, kw


def main(argv):
    if len(argv) != 2 or argv[0] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr if len(argv) != 1 else sys.stdout)
        sys.exit(0 if argv[:1] in (["-h"], ["--help"]) else 2)
    src, out = argv
    try:
        config, tensors, meta = sm.read_model(src)
    except (OSError, sm.ModelError) as e:
        die(str(e) if isinstance(e, sm.ModelError) else f"{src}: {e.strerror or e}")
    try:
        model, name, kw = reference_model(config, tensors, src)
    except sm.ModelError as e:
        die(str(e))
    import torch
    ckpt = {"epoch": int(meta.get("epoch", 0) or 0), "batch": int(meta.get("iteration", 0) or 0),
            "model_name": name, "model_kwargs": kw, "model_state": model.state_dict(),
            "n_prototypes": model.n_prototypes}
    tmp = f"{out}.tmp{os.getpid()}"
    try:
        torch.save(ckpt, tmp)
        os.replace(tmp, out)
    except OSError as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        die(f"{out}: {e}")


if __name__ == "__main__":
    main(sys.argv[1:])
