"""Pausing CPython's cyclic garbage collector around bulk work on big JSON.

Thousands of pods are millions of small acyclic objects; the full collections their creation
triggers walk the whole heap again and again and cost as much as the work itself."""

import contextlib
import gc


@contextlib.contextmanager
def collector_paused():
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
