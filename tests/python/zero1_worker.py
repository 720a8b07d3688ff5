"""One rank of the sharded-runtime test (issue 17, ZeRO-1): test_ftsrt.py's
ShardedTest starts WORLD of these with torch.distributed's env:// rendezvous
(gloo, CPU) and compares what they write with a single-process run.

    python3 zero1_worker.py MODE PLAN OUT RANK WORLD PORT CKDIR

MODE: "train" (the four-phase plan from scratch, saving after epoch SAVE_AT),
"split" (the same, each rank training on its share of every batch),
"resume" (from that save, to the end), "crash" (rank 1 raises in the middle
of epoch 1; rank 0 reports how its collective failed).  OUT gets a
torch.save of per-epoch records.
"""
import datetime
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
import ftsrt  # noqa: E402

STEPS = 8
SAVE_AT = 3             # save after this epoch's end
# sched4.yaml's metrics (test_ftsrt.METRICS4): best checkpoints at epochs 0, 1, 2, 4, 6,
# so every transition restores one
METRICS = [1.0, 0.9, 0.8, 0.85, 0.7, 0.75, 0.6, 0.65]
TIMEOUT_S = 20


class MLP(torch.nn.Module):
    """test_ftsrt.MLP in float32."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 16),
                                         torch.nn.Tanh(), torch.nn.Linear(16, 1))

    def forward(self, x):
        return self.model(x)


def data():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(STEPS, 32, 8, generator=g)
    return x, torch.sin(x.sum(-1, keepdim=True))


def train(rt, model, epochs, crash_at=None, part=None):
    """Epochs of the plan; every rank sees the same batches (so the averaged
    gradients are each rank's exactly), or with part=(rank, world) its share
    of each batch (rows rank, rank + world, ...: true data parallelism, whose
    average differs from the whole batch's gradient by rounding).  Per epoch:
    phase, lrs, the state bytes after the steps, the events and the
    parameters after it."""
    x, y = data()
    if part is not None:
        x, y = x[:, part[0]::part[1]], y[:, part[0]::part[1]]
    out = []
    for epoch in epochs:
        phase, lrs = rt.phase, rt.lrs()
        for s in range(STEPS):
            if crash_at == (epoch, s):
                raise RuntimeError("rank %d fails on purpose at epoch %d step %d" % (rt._rank, epoch, s))
            loss = torch.nn.functional.mse_loss(model(x[s]), y[s])
            loss.backward()
            rt.step()
            rt.zero_grad()
        state = rt.state_bytes
        events = [(e["kind"], e["phase"]) for e in rt.epoch_end(METRICS[epoch])]
        out.append({"epoch": epoch, "phase": phase, "lrs": lrs, "state_bytes": state, "events": events,
                    "params": [p.detach().clone() for p in model.parameters()]})
    return out


def main():
    mode, plan, out, rank, world, port, ckdir = sys.argv[1:8]
    rank, world = int(rank), int(world)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=port, RANK=str(rank), WORLD_SIZE=str(world))
    dist.init_process_group("gloo", init_method="env://", rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=TIMEOUT_S))
    model = MLP()
    rt = ftsrt.Runtime(plan, model, ckpt_dir=ckdir, process_group=dist.group.WORLD)
    res = {"rank": rank, "shard_range": rt.shard_range, "ranges": rt._ranges}
    save = os.path.join(os.path.dirname(out), "mid.ckpt")
    if mode == "train":
        res["epochs"] = train(rt, model, range(SAVE_AT + 1))
        rt.save(save)
        res["epochs"] += train(rt, model, range(SAVE_AT + 1, 8))
        res["finished"] = rt.finished
    elif mode == "resume":
        rt.resume(save)
        res["resumed_epoch"] = rt.epoch
        res["epochs"] = train(rt, model, range(SAVE_AT + 1, 8))
        res["finished"] = rt.finished
    elif mode == "split":
        res["epochs"] = train(rt, model, range(8), part=(rank, world))
        res["finished"] = rt.finished
    elif mode == "crash":
        t0 = time.monotonic()
        try:
            train(rt, model, range(8), crash_at=(1, 3) if rank == 1 else None)
        except RuntimeError as e:
            res["error"] = "%s: %s" % (type(e).__name__, e)
            res["after_s"] = time.monotonic() - t0
            torch.save(res, out)
            if rank == 1:
                raise
            # leave without the interpreter's teardown: gloo's threads for a
            # group whose peer is gone may call std::terminate when they are
            # destroyed at exit (SIGABRT after the error was handled, seen
            # under load with torch 1.13)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(3)
    torch.save(res, out)
    rt.close()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
