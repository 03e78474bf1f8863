"""`wes serve` tunes garbage collection so full collections do not stop the event loop."""

from __future__ import annotations

import gc
import weakref

from backend.app import tune_gc_for_latency


def test_the_start_up_heap_is_frozen_and_young_collections_are_rarer():
    before = gc.get_threshold()
    try:
        tune_gc_for_latency()
        assert gc.get_freeze_count() > 10_000  # everything imported so far
        assert gc.get_threshold()[0] == 10_000
        # What is made afterwards is still collected: a reference cycle goes away.
        class Node:
            pass

        a, b = Node(), Node()
        a.other, b.other = b, a
        gone = weakref.ref(a)
        del a, b
        gc.collect()
        assert gone() is None
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
