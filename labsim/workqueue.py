"""Delayed work for the simulated components, run on one task in short slices.

asyncio runs every ready callback before it polls sockets again, so thousands of pod steps
queued at once would stall the API. The queue yields to the event loop between slices.
"""

import asyncio
import contextlib
import heapq
import itertools
import logging
import time

log = logging.getLogger("labsim")


class WorkQueue:
    def __init__(self, slice_seconds: float = 0.01):
        self.slice_seconds = slice_seconds
        self._heap: list = []
        self._order = itertools.count()
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._wakeup = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="labsim-work")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._heap.clear()

    def call_later(self, delay_seconds: float, callback, *args) -> None:
        due = time.monotonic() + max(delay_seconds, 0)
        heapq.heappush(self._heap, (due, next(self._order), callback, args))
        if self._wakeup is not None and self._heap[0][0] == due:
            self._wakeup.set()

    async def _run(self) -> None:
        while True:
            if not self._heap:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            delay = self._heap[0][0] - time.monotonic()
            if delay > 0:
                self._wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), delay)
                continue
            slice_end = time.monotonic() + self.slice_seconds
            while self._heap and self._heap[0][0] <= time.monotonic() < slice_end:
                _, _, callback, args = heapq.heappop(self._heap)
                try:
                    callback(*args)
                except Exception:
                    log.exception("labsim: %s failed", getattr(callback, "__name__", callback))
            await asyncio.sleep(0)
