"""Training batches made ahead of the training loop, by background threads.

Cropping and flipping (numpy, which releases the GIL in its copies) overlaps the model's forward and
backward passes instead of preceding each of them. Batches travel as uint8 (a quarter of float32's bytes),
pinned in page-locked memory when the model is on a GPU so that the copy is asynchronous
(``non_blocking``), and are scaled to float32 [0, 1] on the device, channels-last.

With one worker the batch sequence is exactly that of the sampler alone (same seed, same batches); more
workers each draw from their own seeded sampler, interleaved in arrival order.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from types import TracebackType

import numpy as np
import torch

from .data import PatchSampler

Batch = tuple[torch.Tensor, torch.Tensor]
_POLL_S = 0.1


def to_device(arr: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    """A uint8 or float32 NCHW array -> float32 [0, 1] channels-last tensor on ``device``."""
    t = arr if isinstance(arr, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(arr))
    if device.type == "cuda" and not t.is_pinned():
        t = t.pin_memory()
    t = t.to(device, non_blocking=True)
    if t.dtype == torch.uint8:
        t = t.float().mul_(1.0 / 255.0)
    return t.contiguous(memory_format=torch.channels_last)


class BatchLoader:
    """Iterator of (degraded, clean) device batches; ``workers=0`` makes each batch when asked."""

    def __init__(
        self, make_sampler: Callable[[int], PatchSampler], device: torch.device, workers: int = 1, depth: int = 4
    ) -> None:
        self.device = device
        self._samplers = [make_sampler(i) for i in range(max(1, workers))]
        self._queue: queue.Queue[tuple[torch.Tensor, torch.Tensor] | BaseException] = queue.Queue(depth)
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._produce, args=(s,), name=f"batch-loader-{i}", daemon=True)
            for i, s in enumerate(self._samplers)
            if workers > 0
        ]
        for thread in self._threads:
            thread.start()

    def _produce(self, sampler: PatchSampler) -> None:
        pin = self.device.type == "cuda"
        try:
            while not self._stop.is_set():
                x, y = (torch.from_numpy(a) for a in sampler.next_uint8())
                item = (x.pin_memory(), y.pin_memory()) if pin else (x, y)
                while not self._stop.is_set():
                    try:
                        self._queue.put(item, timeout=_POLL_S)
                        break
                    except queue.Full:
                        continue
        except BaseException as exc:  # handed to the training loop, which raises it
            self._queue.put(exc)

    def next(self) -> Batch:
        if not self._threads:
            x, y = self._samplers[0].next_uint8()
            return to_device(x, self.device), to_device(y, self.device)
        item = self._queue.get()
        if isinstance(item, BaseException):
            raise item
        return to_device(item[0], self.device), to_device(item[1], self.device)

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def __enter__(self) -> BatchLoader:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()
