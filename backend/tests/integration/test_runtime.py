"""The runtime's process-wide setup."""

from __future__ import annotations

import gc
import weakref


async def test_startup_heap_is_frozen_and_later_garbage_is_still_collected(runtime):
    # Runtime.start moved the objects of startup out of the collector's reach: full collections, which stall
    # the event loop, no longer walk the tens of thousands of objects that live as long as the process.
    assert gc.get_freeze_count() > 10_000

    class Node:
        other: object

    a, b = Node(), Node()
    a.other, b.other = b, a  # a reference cycle made after startup, as a job's objects are
    ref = weakref.ref(a)
    del a, b
    gc.collect()
    assert ref() is None
