"""What the processes of one training run agree on each step (``torch.distributed``), and nothing when alone.

A run of ``world`` processes must take the same decisions at the same step, or one process waits forever in
a collective the others never reach: whether to stop (cancelled, or out of time), and whether the loss is
still finite. Each is one tiny all-reduce per step; a one-process run makes no collective call at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Group:
    """This process's place in its training run."""

    rank: int = 0
    world: int = 1

    @property
    def is_main(self) -> bool:
        """Rank 0 evaluates, writes checkpoints and reports progress."""
        return self.rank == 0

    def agree_max(self, value: int, device: torch.device) -> int:
        """The largest ``value`` over all processes."""
        if self.world == 1:
            return value
        t = torch.tensor([value], dtype=torch.int64, device=device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return int(t.item())

    def mean(self, value: torch.Tensor) -> float:
        """The mean of a scalar tensor over all processes (a NaN anywhere makes it NaN everywhere)."""
        if self.world == 1:
            return float(value.detach())
        t = value.detach().float().reshape(1).clone()
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return float(t.item()) / self.world
