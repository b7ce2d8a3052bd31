#!/usr/bin/python3
"""By-hand check of formats/import_reference.py and formats/export_reference.py
against the reference (not in CI: CI has no torch).

For each case of make_predict_golden.py (perturbed tetro variants): builds the
reference's DTISprites, perturbs it, writes its YAML config and a checkpoint as
the reference's Trainer.save does, imports them with import_reference.py, runs
bin/sp-predict on the first batch of ../shared/data/tetrominoes-real10 and
compares with the reference's predict (|ours - ref| <= 5e-5 + 1e-4 |ref|);
then exports our model with export_reference.py, loads it into a fresh
reference model with load_state_dict(strict=True) and checks every tensor
equal.  Also checks that a bad checkpoint gives a one-line error.  Prints
PASS/FAIL lines; exit status 1 on any FAIL.

Needs bin/sp-load and bin/sp-predict built:
  /usr/bin/python3 tests/golden/check_import_export.py"""
import os
import subprocess
import sys
import tempfile

import msgpack
import numpy as np
import torch
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
import make_predict_golden as mpg  # noqa: E402  (its reference_import sets up the reference)
from model.dti_sprites import DTISprites  # noqa: E402

IMPORT = os.path.join(ROOT, "formats", "import_reference.py")
EXPORT = os.path.join(ROOT, "formats", "export_reference.py")
failures = 0


def report(ok, what, detail=""):
    global failures
    print(f"{'PASS' if ok else 'FAIL'}: {what}" + (f" ({detail})" if detail else ""))
    failures += not ok


def tensor(a):
    a = np.ascontiguousarray(a, dtype="<f4")
    return {"dtype": "f32", "shape": list(a.shape), "data": a.tobytes()}


def run_predict(model_path, x):
    pk = msgpack.Packer(use_bin_type=True)
    inp = pk.pack({"sprites": 1}) + pk.pack({"batch": 0, "image": tensor(x)}) + pk.pack({"end": 1})
    r = subprocess.run([os.path.join(ROOT, "bin", "sp-predict"), "--model", model_path], input=inp,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode:
        raise RuntimeError(r.stderr.decode().strip())
    u = msgpack.Unpacker(raw=False, max_buffer_size=2 ** 32)
    u.feed(r.stdout)
    for m in u:
        if "batch" in m:
            return {k: np.frombuffer(v["data"], "<f4").reshape(v["shape"])
                    for k, v in m.items() if isinstance(v, dict) and v.get("dtype") == "f32"}
    raise RuntimeError("no batch from sp-predict")


def build(kw):
    """The reference's DTISprites, its expanded (aliased) gaussian masks made separate copies
    (the reference's GPU behaviour, REFERENCE-NOTES 2; on the CPU they cannot be loaded into)."""
    model = DTISprites(mpg.Stand(), **kw)
    for prm in model.parameters():
        if not prm.data.is_contiguous():
            prm.data = prm.data.contiguous()
    return model


def close(ours, ref):
    err = np.abs(ours - ref) - (5e-5 + 1e-4 * np.abs(ref))
    return ours.shape == ref.shape and bool(np.all(err <= 0)), float(np.max(np.abs(ours - ref))) if ours.shape == ref.shape else -1


def tool(args):
    return subprocess.run(["/usr/bin/python3"] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def main():
    x = torch.from_numpy(mpg.first_batch())
    tmp = tempfile.mkdtemp(prefix="sp-impexp-")
    for seed, (case, kw) in enumerate(mpg.CASES.items()):
        torch.manual_seed(seed)
        kw = dict(kw)
        name = kw.pop("name")
        model = DTISprites(mpg.Stand(), **kw)
        for prm in model.parameters():
            if not prm.data.is_contiguous():
                prm.data = prm.data.contiguous()
        mpg.perturb(model, torch.Generator().manual_seed(2000 + seed))
        model.eval()
        with torch.no_grad():
            layers, masks, bkgs, occ, _ = model.predict(x)

        # the reference's YAML config and its Trainer.save checkpoint
        cfg = {"dataset": {"name": "tetrominoes"}, "model": dict(kw, name=name),
               "training": {"batch_size": 32, "optimizer": {"name": "adam", "lr": 1e-4},
                            "n_epoches": 10, "seed": 65176, "visualizer_port": None}}
        cfg_path, ckpt_path = os.path.join(tmp, case + ".yml"), os.path.join(tmp, case + ".pkl")
        with open(cfg_path, "w") as f:
            yaml.safe_dump(cfg, f)
        opt = torch.optim.Adam(model.parameters(), lr=1e-4)
        torch.save({"epoch": 3, "batch": 7, "model_name": name, "model_kwargs": kw,
                    "model_state": model.state_dict(), "n_prototypes": model.n_prototypes,
                    "optimizer_state": opt.state_dict(), "scheduler_state": {}}, ckpt_path)

        spm = os.path.join(tmp, case + ".spm")
        r = tool([IMPORT, cfg_path, ckpt_path, spm])
        report(r.returncode == 0 and os.path.exists(spm), f"{case}: import", r.stderr.strip())
        if r.returncode:
            continue
        try:
            got = run_predict(spm, x.numpy())
        except RuntimeError as e:
            report(False, f"{case}: sp-predict on the imported model", str(e))
            continue
        exp = {"cand_layers": layers.permute(2, 0, 1, 3, 4, 5).numpy(),
               "cand_masks": masks.permute(2, 0, 1, 3, 4, 5).numpy()}
        if bkgs is not None:
            exp["backgrounds"] = bkgs.permute(1, 0, 2, 3, 4).numpy()
        if kw.get("pred_occlusion"):
            exp["occlusion"] = occ.permute(2, 0, 1).numpy()
        for k, v in exp.items():
            ok, d = close(got[k], v) if k in got else (False, "absent")
            report(ok, f"{case}: sp-predict {k} matches the reference's predict", f"max |diff| {d}")

        pkl = os.path.join(tmp, case + "-out.pkl")
        r = tool([EXPORT, spm, pkl])
        report(r.returncode == 0, f"{case}: export", r.stderr.strip())
        if r.returncode:
            continue
        back = torch.load(pkl, map_location="cpu", weights_only=False)
        fresh = build(back["model_kwargs"])
        try:
            # DTISprites.load_state_dict (the reference's own, no strict argument) only warns on
            # unknown keys: torch's strict version is the check
            torch.nn.Module.load_state_dict(fresh, back["model_state"], strict=True)
            report(True, f"{case}: export loads with load_state_dict(strict=True)")
            fresh2 = build(back["model_kwargs"])
            fresh2.load_state_dict(back["model_state"])
            report(all(torch.equal(v, back["model_state"][k]) for k, v in fresh2.state_dict().items()),
                   f"{case}: the reference's own DTISprites.load_state_dict loads it")
        except RuntimeError as e:
            report(False, f"{case}: export loads with load_state_dict(strict=True)", " ".join(str(e).split())[:400])
            continue
        orig, new = model.state_dict(), fresh.state_dict()
        bad = [k for k in orig if k not in new or orig[k].shape != new[k].shape or not torch.equal(orig[k], new[k])]
        report(not bad, f"{case}: every exported tensor equals the reference's", f"differ: {bad[:3]}" if bad else "")
        fresh.eval()
        with torch.no_grad():
            l2, m2, _, _, _ = fresh.predict(x)
        report(torch.equal(l2, layers) and torch.equal(m2, masks), f"{case}: the exported model predicts the same")

    # errors: one line each, nothing written
    case = next(iter(mpg.CASES))
    cfg_path, ckpt_path = os.path.join(tmp, case + ".yml"), os.path.join(tmp, case + ".pkl")
    ck = torch.load(ckpt_path, map_location="cpu", weights_only=False)
    k0 = next(k for k in ck["model_state"] if k.startswith("encoder.") and k.endswith("weight"))
    del ck["model_state"][k0]
    torch.save(ck, os.path.join(tmp, "missing.pkl"))
    out = os.path.join(tmp, "missing.spm")
    r = tool([IMPORT, cfg_path, os.path.join(tmp, "missing.pkl"), out])
    report(r.returncode != 0 and len(r.stderr.strip().splitlines()) == 1 and not os.path.exists(out),
           "missing tensor: one-line error, nothing written", r.stderr.strip())
    ck = torch.load(ckpt_path, map_location="cpu", weights_only=False)
    ck["model_state"]["mask_params"] = ck["model_state"]["mask_params"][:, :, :20]
    torch.save(ck, os.path.join(tmp, "shape.pkl"))
    out = os.path.join(tmp, "shape.spm")
    r = tool([IMPORT, cfg_path, os.path.join(tmp, "shape.pkl"), out])
    report(r.returncode != 0 and len(r.stderr.strip().splitlines()) == 1 and not os.path.exists(out),
           "shape mismatch: one-line error, nothing written", r.stderr.strip())
    print("FAIL" if failures else "PASS", f"({failures} failures; files in {tmp})")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
