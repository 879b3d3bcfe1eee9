"""Data-parallel training on every GPU of a node (PyTorch DistributedDataParallel).

One process per GPU, started by torchrun (`launch`), which sets RANK, WORLD_SIZE and
LOCAL_RANK. Each process reads its own share of every epoch's clips (`epoch_order`, the
semantics of torch's DistributedSampler with a global batch), DDP averages the gradients,
so that N processes with a per-process batch of B / N take the very steps one process
with batch B takes. Metrics are summed over processes (`all_sum`, `gather`) and only rank 0
writes files (`Context.is_main`).

Without torchrun's variables (a plain `python -m ...`, or a unit test) everything runs in
the one process, with no process group.
"""

import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Context:
    """Where this process stands: its rank among world_size, and its device."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def setup(device: str = "cpu") -> Context:
    """Read torchrun's environment and join the process group: NCCL between GPUs (each
    process on GPU LOCAL_RANK), gloo on the CPU. `device` is the run's device kind
    (cpu | cuda)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    if device == "cuda":
        torch.cuda.set_device(local)
        where = torch.device("cuda", local)
    else:
        where = torch.device(device)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if where.type == "cuda" else "gloo",
                                rank=rank, world_size=world)
    return Context(rank, world, local, where)


def teardown(context: Context) -> None:
    if context.distributed and dist.is_initialized():
        dist.destroy_process_group()


def epoch_order(n: int, batch_size: int, seed: int, epoch: int, rank: int = 0,
                world_size: int = 1, shuffle: bool = True, drop_last: bool = True) -> np.ndarray:
    """This process's positions of one epoch, (batches, batch_size // world_size):
    row j is its share of global batch j.

    The order is a permutation drawn from (seed, epoch) alone, the same in every process
    (DistributedSampler's set_epoch), cut into global batches; process r takes items r,
    r + W, r + 2W, ... of each (DistributedSampler's interleaving, within a batch so that
    the union of the processes' j-th batches is global batch j). drop_last drops the last
    partial batch, as TimeSformer's (SlowFast's) training loader does; without it (test
    passes) the order is neither shuffled nor cut: each process gets a ragged share,
    positions rank::world_size, as one row.
    """
    if not drop_last:
        return np.arange(n)[rank::world_size][None]
    if batch_size % world_size:
        raise ValueError(f"global batch {batch_size} does not split over {world_size} processes")
    generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
    order = torch.randperm(n, generator=generator).numpy() if shuffle else np.arange(n)
    batches = order[: n // batch_size * batch_size].reshape(-1, batch_size)
    return batches[:, rank::world_size]


def all_sum(values: Sequence[float], context: Context) -> list[float]:
    """Element-wise sum over processes (the train loss and counts of an epoch)."""
    if not context.distributed:
        return [float(v) for v in values]
    device = context.device if context.device.type == "cuda" else torch.device("cpu")
    x = torch.tensor([float(v) for v in values], dtype=torch.float64, device=device)
    dist.all_reduce(x)
    return x.tolist()


def gather(arrays: dict[str, np.ndarray], context: Context) -> dict[str, np.ndarray]:
    """Every process's rows of each array, concatenated rank after rank (the test
    outputs, each process having scored its own positions rank::world_size); every
    process gets the result."""
    if not context.distributed:
        return arrays
    parts: list[dict | None] = [None] * context.world_size
    dist.all_gather_object(parts, arrays)
    return {k: np.concatenate([p[k] for p in parts]) for k in arrays}


def interleaved(n: int, world_size: int) -> np.ndarray:
    """The positions (0 ... n - 1) of `gather`'s rows when process r had rank::world_size."""
    return np.concatenate([np.arange(n)[r::world_size] for r in range(world_size)])


def barrier(context: Context) -> None:
    if context.distributed:
        dist.barrier()


def launch(spec_json: Path, nproc: int, module: str = "avrepro.train.imd") -> None:
    """Run `python -m module spec_json` in nproc processes under torchrun (standalone: one
    node, a free rendezvous port) and copy their output, line by line, to this process's
    stdout (the job's log). Raises CalledProcessError if it fails."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc_per_node={nproc}", "-m", module, str(spec_json)]
    # Unbuffered children: a killed job's log still ends where the run stopped.
    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, bufsize=1, env=env) as process:
        for line in process.stdout:
            sys.stdout.write(line)
        sys.stdout.flush()
    if process.returncode:
        raise subprocess.CalledProcessError(process.returncode, command)
