"""Data-parallel training over processes started by ``torchrun``.

Gradients are averaged with one ``all_reduce`` per network after each backward pass, as
StyleGAN3's trainer does, rather than through the ``DistributedDataParallel`` wrapper: each
step runs several forward passes through the same modules (real, fake, reconstruction) and
a double backward for R1, which DDP's bucketed hooks do not support cleanly. The result is
the same synchronous data parallelism: identical weights on every rank, gradients of the
global batch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device: str = "auto") -> DistInfo:
    """Join the process group when launched by torchrun (``WORLD_SIZE`` > 1)."""
    if device != "auto":
        from seegaan.utils.device import resolve_device

        resolve_device(device)  # "banana" or a missing GPU: one line, not a silent CPU run
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() if device == "auto" else device.startswith("cuda")
    if use_cuda:
        dev = torch.device("cuda", local) if world > 1 or device == "auto" else torch.device(device)
        torch.cuda.set_device(dev)
    else:
        dev = torch.device("cpu")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return DistInfo(rank=rank, world=world, local_rank=local, device=dev)


def average_gradients(params: list[torch.nn.Parameter], info: DistInfo) -> None:
    """Average gradients over processes (flattened into one buffer: one collective per call)."""
    if info.world == 1:
        return
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= info.world
    offset = 0
    for p in params:
        n = p.numel()
        p.grad = flat[offset:offset + n].view_as(p).clone()
        offset += n


def global_mean(x: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Differentiable mean of a per-process scalar over processes (equal local batches)."""
    if info.world == 1:
        return x
    from torch.distributed.nn.functional import all_reduce

    return all_reduce(x) / info.world


def any_flag(flag: bool, info: DistInfo) -> bool:
    """True on every process if it is true on any (used to stop all ranks on Ctrl-C)."""
    if info.world == 1:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=info.device)
    dist.all_reduce(t)
    return bool(t.item() > 0)


def cleanup() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
