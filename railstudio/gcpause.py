"""Pausing CPython's cyclic garbage collector around bulk work on big JSON.

Thousands of pods are millions of small acyclic objects; the full collections their creation
triggers walk the whole heap again and again and cost as much as the work itself.

Drop the big structures before the pause ends where you can: the first collection after it
walks every object still alive that was made during the pause."""

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
