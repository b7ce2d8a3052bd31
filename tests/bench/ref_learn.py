#!/usr/bin/python3
"""ref_learn.py MODEL.spm ITERS OUTDIR [--seed S] < IMAGE-STREAM

Trains the PyTorch reference's own DTISprites (../shared/reference-bench,
unmodified, through formats/export_reference.py) from the initial state in
MODEL.spm (our sp-train --init-only) on the batches of the stream on stdin,
for ITERS iterations, and writes what it learnt as our model files
OUTDIR/ref-ITER.spm every 1000 iterations and at the end: so that our pipeline
evaluates and draws both trainings the same way (pipelines/bench-learn.sh).

The loop is the reference's Trainer.run for what a run needs: one Adam with
the two parameter groups of src/trainer.py (sprites at
training.optimizer.cluster.lr, else lr; networks at lr with
training.optimizer.transformer.weight_decay); model.step() at each epoch's
end (epochs in batches: the stream header's count / batch_size, as sp-train
counts them), so the sprites are frozen in the first model.freeze_sprite
epochs; every training.check_cluster_interval iterations, the proportions
averaged since the last check, of one layer drawn at random, go to
reassign_empty_clusters.  The multi-step schedule is left out: the short runs
this is for end before its first milestone (checked).  The reference's noise,
reassignment noise and layer draws come from torch's and numpy's generators
(--seed), not from our Philox streams, so the two runs share their start and
their batches but not their random draws.

Needs Debian's python3-torch, python3-msgpack, numpy (and the reference's
python3-scipy, python3-yaml)."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "formats"))
import export_reference  # noqa: E402
import sprites_model as sm  # noqa: E402
import sptensor  # noqa: E402

PROG = "ref_learn.py"


def die(msg):
    print(f"{PROG}: {msg}", file=sys.stderr)
    sys.exit(1)


def save(model, config, meta, path):
    state = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items() if sm.stored(k)}
    sm.write_model(path, config, state, meta)


def main(argv):
    if len(argv) not in (3, 5) or (len(argv) == 5 and argv[3] != "--seed"):
        die("usage: ref_learn.py MODEL.spm ITERS OUTDIR [--seed S] < IMAGE-STREAM")
    import numpy as np
    import torch
    try:
        model_path, iters, out = argv[0], int(argv[1]), argv[2]
        seed = int(argv[4]) if len(argv) == 5 else 1
    except ValueError:
        die(f"ITERS ({argv[1]}) and --seed must be whole numbers")
    if iters < 1:
        die(f"ITERS ({iters}) must be at least 1")
    torch.manual_seed(seed)
    np.random.seed(seed)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    try:
        config, tensors, meta = sm.read_model(model_path)
        model, _, _ = export_reference.reference_model(config, tensors, model_path)
    except sm.ModelError as e:
        die(str(e))
    from optimizer import get_optimizer  # the reference's, importable once reference_model ran

    def cfg(key, default=None):
        v = config.get(key)
        return default if v is None or v == "" else v

    lr = float(cfg("training.optimizer.lr"))
    cluster = {"lr": float(cfg("training.optimizer.cluster.lr", lr))}
    tsf = {"weight_decay": float(cfg("training.optimizer.transformer.weight_decay", 0.0))}
    opt = get_optimizer(cfg("training.optimizer.name", "adam"))(
        [dict(params=model.cluster_parameters(), **cluster), dict(params=model.transformer_parameters(), **tsf)],
        lr=lr)
    model.set_optimizer(opt)
    check_every = int(cfg("training.check_cluster_interval", 250))
    L, K = model.n_objects, model.n_sprites
    os.makedirs(out, exist_ok=True)
    it, props = 0, []
    for stream in sptensor.read(sys.stdin.buffer):
        count, size = int(stream.meta["count"]), int(stream.meta["batch_size"])
        epoch_batches = count // size if stream.meta.get("drop_last") else -(-count // size)
        milestones = cfg("training.scheduler.milestones")
        if milestones and iters > int(milestones[0]) * epoch_batches:
            die(f"{iters} iterations pass the first lr milestone (epoch {milestones[0]}); not modelled")
        for batch in stream:
            x = torch.from_numpy(np.array(batch["image"], dtype=np.float32))
            model.train()
            opt.zero_grad()
            loss, distances = model(x)
            loss.backward()
            opt.step()
            with torch.no_grad():
                props.append((1 - distances).mean(0))
            it += 1
            if it % check_every == 0:
                p = torch.stack(props).mean(0)
                props = []
                if L > 1:
                    p = p.view(L, K)[np.random.randint(0, L)]
                model.reassign_empty_clusters(p)
            if it % epoch_batches == 0:
                model.step()
            if it % 250 == 0:
                print(f"{PROG}: iteration {it}, loss {loss.item():.6f}", file=sys.stderr, flush=True)
            if it % 1000 == 0 or it == iters:
                model.eval()
                save(model, config, meta, os.path.join(out, f"ref-{it:06d}.spm"))
            if it >= iters:
                return
    die(f"the stream ended after {it} of {iters} iterations")


if __name__ == "__main__":
    main(sys.argv[1:])
