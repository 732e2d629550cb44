"""Small helpers for data-parallel training with torch.distributed (launched by torchrun).

Everything here degrades to a no-op in a single process, so the training loop calls the same functions either
way. The process group is either set up by the caller (then we leave it alone) or, when torchrun's environment
says WORLD_SIZE > 1, initialised here from that environment once per process and destroyed at interpreter exit.
It is deliberately not destroyed after each training call: re-initialising a destroyed group against torchrun's
shared store raced with stale rendezvous keys here (a second `train` in the same process hung), and a process
that trains twice should simply reuse the group.
"""

from __future__ import annotations

import atexit
import datetime as _dt
import os
import socket
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistContext:
    """Where this process sits in the job."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"environment variable {name}={raw!r} is not an integer; torchrun sets it, unset it "
                         f"or launch with torchrun") from None


def env_world_size() -> int:
    """WORLD_SIZE as torchrun exports it (1 when unset)."""
    return _env_int("WORLD_SIZE", 1)


def setup(device_type: str, backend: str | None = None, timeout_s: float = 1800.0) -> DistContext:
    """Join (or create, from torchrun's env://) the default process group; single process when there is none.

    backend defaults to nccl for CUDA and gloo otherwise.
    """
    if dist.is_available() and dist.is_initialized():
        rank, world = dist.get_rank(), dist.get_world_size()
        return DistContext(rank, world, _env_int("LOCAL_RANK", rank))
    world = env_world_size()
    if world <= 1:
        return DistContext()
    if not dist.is_available():
        raise RuntimeError(f"WORLD_SIZE={world} asks for distributed training, but this torch build has no "
                           f"torch.distributed; run a single process (unset WORLD_SIZE) or install a full torch")
    if backend is None:
        backend = "nccl" if device_type == "cuda" else "gloo"
    # env:// reads MASTER_ADDR, MASTER_PORT, RANK and WORLD_SIZE, all of which torchrun sets.
    dist.init_process_group(backend=backend, init_method="env://",
                            timeout=_dt.timedelta(seconds=timeout_s))
    atexit.register(_destroy_at_exit)
    return DistContext(dist.get_rank(), dist.get_world_size(), _env_int("LOCAL_RANK", dist.get_rank()))


def _destroy_at_exit() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def shard_bounds(global_batch: int, rank: int, world_size: int) -> tuple[int, int]:
    """Rows [start, stop) of the global batch that `rank` trains on; the global batch must split evenly.

    Even slices keep DDP's gradient average equal to the gradient of the global-batch mean loss.
    """
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is not in a world of size {world_size}")
    if global_batch % world_size != 0:
        raise ValueError(f"batch_size={global_batch} (the global batch) is not divisible by the number of "
                         f"processes ({world_size}); choose a batch size that is a multiple of {world_size} or "
                         f"launch a different number of processes")
    per = global_batch // world_size
    return rank * per, (rank + 1) * per


def all_reduce_mean(t: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """Mean of `t` over ranks (a new tensor; `t` itself is untouched). gloo has no AVG, so SUM then divide."""
    if not ctx.enabled:
        return t
    out = t.clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out / ctx.world_size


def broadcast_object(obj: Any, ctx: DistContext, src: int = 0) -> Any:
    """Rank `src`'s object on every rank (picklable objects only)."""
    if not ctx.enabled:
        return obj
    box = [obj if ctx.rank == src else None]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def all_gather_object(obj: Any, ctx: DistContext) -> list[Any]:
    """Every rank's object, in rank order, on every rank."""
    if not ctx.enabled:
        return [obj]
    out: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(out, obj)
    return out


def wrap_ddp(module: torch.nn.Module, device: torch.device, ctx: DistContext) -> torch.nn.Module:
    """`module` under DistributedDataParallel when several processes train; itself otherwise.

    DDP broadcasts rank 0's weights at construction, so all ranks start equal. A module without trainable
    parameters is returned as it is (DDP refuses it, and it has no gradients to average).
    """
    if not ctx.enabled or not any(p.requires_grad for p in module.parameters()):
        return module
    from torch.nn.parallel import DistributedDataParallel as DDP

    return DDP(module, device_ids=[device.index] if device.type == "cuda" else None)


def barrier(ctx: DistContext) -> None:
    if ctx.enabled:
        dist.barrier()


def find_free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago on `host` (for tests and single-node launches)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])
