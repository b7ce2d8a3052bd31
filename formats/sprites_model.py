"""sprites_model: read / write our model files (formats/model.md) and map them
to and from the reference's (monniert/dti-sprites) state_dict.

Needs python3-msgpack and numpy; torch only for the callers that use it."""
import os
import re

import msgpack
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))

# C x H x W of each dataset.name (the sizes the paper's configurations use)
DATASET_SHAPES = {"tetrominoes": (3, 35, 35), "dsprites_gray": (3, 64, 64), "clevr6": (3, 128, 128),
                  "gtsrb8": (3, 28, 28), "svhn": (3, 32, 32), "weizmann_horse": (3, 128, 128),
                  "instagram": (3, 128, 128), "fashion_mnist": (1, 28, 28), "mnist": (1, 28, 28)}

SKIPPED = ("identity", "num_batches_tracked", "activations", "inverse_kernel", "padding_matrix",
           "target_coordinate_repr")


class ModelError(Exception):
    pass


def stored(key):
    """Whether we store a reference state_dict key (formats/model.md)."""
    if key.split(".")[0] in ("sprite_transformers", "layer_transformer", "bkg_transformer") and ".encoder." in key:
        return False  # aliases of the shared encoder
    return key != "occ_grid" and key.split(".")[-1] not in SKIPPED


def config_keys():
    """The keys of our configuration table (common/sp_config.c), or None when not found."""
    path = os.path.join(ROOT, "common", "sp_config.c")
    try:
        with open(path) as f:
            return re.findall(r'^\s*\{"((?:dataset|model|training)\.[A-Za-z0-9_.]+)"', f.read(), re.M)
    except OSError:
        return None


def flatten(cfg, prefix=""):
    out = {}
    for k, v in cfg.items():
        if isinstance(v, dict):
            out.update(flatten(v, prefix + str(k) + "."))
        else:
            out[prefix + str(k)] = v
    return out


def config_from_yaml(cfg, warn=None):
    """Reference YAML (nested dict) -> our config map (dotted keys), keys outside our table dropped."""
    flat = flatten(cfg)
    known = config_keys()
    out = {}
    for k, v in flat.items():
        if known is not None and k not in known:
            if warn:
                warn(f"{k}: not an option of ours, dropped")
            continue
        if isinstance(v, tuple):
            v = list(v)
        out[k] = v
    if "model.n_sprites" not in out:
        raise ModelError("model.n_sprites: missing from the configuration")
    return out


def tensor(a):
    a = np.ascontiguousarray(a, dtype="<f4")
    return {"dtype": "f32", "shape": list(a.shape), "data": a.tobytes()}


def check_with_reader(tmp, shown):
    """Loads a model file with bin/sp-predict (our reader): None if it is valid, else its one-line error."""
    import subprocess
    exe = os.path.join(ROOT, "bin", "sp-predict")
    if not os.access(exe, os.X_OK):
        return None
    r = subprocess.run([exe, "--model", tmp], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    err = r.stderr.strip()
    if "empty input" in err:
        return None
    return err.replace(tmp, shown).replace("sp-predict: ", "", 1) or f"sp-predict exit {r.returncode}"


def write_model(path, config, tensors, meta, check=True):
    """Writes a model file atomically (temp beside the target, then rename); with check, the
    temp is first loaded by our reader (bin/sp-predict, when built) and a ModelError names its problem."""
    data = msgpack.Packer(use_bin_type=True).pack(
        {"sprites-model": 1, "config": config, "tensors": {k: tensor(v) for k, v in tensors.items()},
         "meta": meta})
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        err = check_with_reader(tmp, path) if check else None
        if err:
            raise ModelError(err)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_model(path):
    """-> (config, {name: f32 array}, meta)."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        m = msgpack.unpackb(data, raw=False, strict_map_key=False, max_bin_len=2 ** 32)
    except Exception as e:
        raise ModelError(f"{path}: not a model file ({e})")
    if not isinstance(m, dict) or m.get("sprites-model") != 1:
        raise ModelError(f"{path}: not a sprites model file of version 1")
    for k in ("config", "tensors"):
        if not isinstance(m.get(k), dict):
            raise ModelError(f"{path}: no {k!r} map")
    ts = {}
    for name, t in m["tensors"].items():
        if not isinstance(t, dict) or t.get("dtype") != "f32":
            raise ModelError(f"{path}: tensor {name!r}: not an f32 tensor")
        shape = [int(d) for d in t["shape"]]
        if len(t["data"]) != 4 * int(np.prod(shape, dtype=np.int64)):
            raise ModelError(f"{path}: tensor {name!r}: data does not match shape {shape}")
        ts[name] = np.frombuffer(t["data"], "<f4").reshape(shape).copy()
    return m["config"], ts, m.get("meta", {})


def model_kwargs(config):
    """Our config map -> (model name, the reference model's kwargs)."""
    kw = {k[len("model."):]: v for k, v in config.items() if k.startswith("model.") and v is not None}
    return kw.pop("name", "dti_sprites"), kw
