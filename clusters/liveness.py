"""A running rollout proves its worker is alive, and can be stopped.

The worker that runs a rollout writes `heartbeat_at` every few seconds (Heartbeat, a thread
beside the work). A running rollout without a heartbeat for settings.ROLLOUT_STALE_SECONDS lost
its worker (killed, out of memory, its machine gone): `reap` marks it interrupted, says which
objects were applied before it stopped, and so unlocks its cluster. `reap` runs on requests
that need an unlocked cluster or show a rollout, and from Celery beat.

Cancelling a pending rollout ends it at once; a running one is asked to stop (the worker stops
before its next write, within a heartbeat) unless its worker is gone already.
"""

from __future__ import annotations

import threading
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from clusters.models import Rollout, RolloutState

CANCELLED = "cancelled"
LOST = "lost"


def stale_after() -> timedelta:
    return timedelta(seconds=settings.ROLLOUT_STALE_SECONDS)


def beat_seconds() -> float:
    return max(0.2, min(2.0, settings.ROLLOUT_STALE_SECONDS / 10))


def last_sign_of_life(record: Rollout):
    return record.heartbeat_at or record.started_at or record.created_at


def is_stale(record: Rollout, now=None) -> bool:
    now = now or timezone.now()
    return record.state == RolloutState.RUNNING and now - last_sign_of_life(record) > stale_after()


def _stale_running(now):
    cutoff = now - stale_after()
    return Rollout.objects.annotate(
        alive_at=Coalesce("heartbeat_at", "started_at", "created_at")
    ).filter(state=RolloutState.RUNNING, alive_at__lt=cutoff)


def reap(cluster_id: int | None = None) -> int:
    """Interrupt the running rollouts (of one cluster, or all) whose worker stopped beating."""
    now = timezone.now()
    stale = _stale_running(now)
    if cluster_id is not None:
        stale = stale.filter(cluster_id=cluster_id)
    count = 0
    for record in stale:
        count += stop(record, RolloutState.INTERRUPTED, now=now)
    return count


def stop(record: Rollout, state: str, *, now=None, by=None) -> int:
    """End a rollout that no worker is running now (pending, or running with a dead worker):
    rows not written yet say so; 1 when this call ended it, 0 when something else did first."""
    now = now or timezone.now()
    outcome = "interrupted" if state == RolloutState.INTERRUPTED else "cancelled"
    with transaction.atomic():
        ended = Rollout.objects.filter(
            pk=record.pk, state=record.state, heartbeat_at=record.heartbeat_at
        ).update(
            state=state,
            finished_at=now,
            message=_stopped_message(record, state, now, by),
            cancelled_by=by if state == RolloutState.CANCELLED else None,
        )
        if ended:
            record.items.filter(outcome="pending").update(outcome=outcome)
    return ended


def _stopped_message(record: Rollout, state: str, now, by) -> str:
    counts = dict.fromkeys(("applied", "dry-run", "pending", "cancelled", "interrupted"), 0)
    for outcome in record.items.values_list("outcome", flat=True):
        counts[outcome] = counts.get(outcome, 0) + 1
    done = counts["applied"] + counts["dry-run"]
    undone = counts["pending"] + counts["cancelled"] + counts["interrupted"]
    progress = (
        f"{done} object(s) {'passed the dry run' if record.dry_run else 'applied'} before it "
        f"stopped, {undone} not {'checked' if record.dry_run else 'applied'}"
        if record.state == RolloutState.RUNNING
        else "nothing was applied"
    )
    if state == RolloutState.INTERRUPTED:
        quiet = int((now - last_sign_of_life(record)).total_seconds())
        return (
            f"Interrupted: the worker running it stopped (no heartbeat for {quiet} s); "
            f"{progress}. Roll out again to finish: applying is idempotent."
        )
    who = f" by {by.username}" if by is not None else ""
    return f"Cancelled{who}; {progress}."


def cancelled_message(record: Rollout) -> str:
    """For the worker that stops a running rollout on request."""
    return _stopped_message(record, RolloutState.CANCELLED, timezone.now(), record.cancelled_by)


def cancel(record: Rollout, user) -> str:
    """'cancelled' (it ended now), 'requested' (its worker stops before the next write) or
    'ended' (it had finished already)."""
    record.refresh_from_db()
    by = user if user is not None and user.is_authenticated else None
    if record.state == RolloutState.PENDING or is_stale(record):
        if stop(record, RolloutState.CANCELLED, by=by):
            return "cancelled"
        record.refresh_from_db()
    if record.state != RolloutState.RUNNING:
        return "ended"
    Rollout.objects.filter(pk=record.pk, cancel_requested_at__isnull=True).update(
        cancel_requested_at=timezone.now(), cancelled_by=by
    )
    return "requested"


def claim(record: Rollout) -> bool:
    """Take a pending (or interrupted, when redelivered) rollout for this worker."""
    now = timezone.now()
    resumed = record.state == RolloutState.INTERRUPTED
    claimed = Rollout.objects.filter(pk=record.pk, state=record.state).update(
        state=RolloutState.RUNNING,
        started_at=Coalesce(F("started_at"), now),
        heartbeat_at=now,
        attempts=F("attempts") + 1,
        finished_at=None,
        message="Resumed by another worker after its first one was lost." if resumed else "",
    )
    return bool(claimed)


def superseded(record: Rollout) -> bool:
    """Whether a rollout to its cluster was asked for after it: then resuming it could put
    back an older bundle."""
    return Rollout.objects.filter(cluster_id=record.cluster_id, pk__gt=record.pk).exists()


class Beating:
    """Calls beat() every beat_seconds() in a thread beside the work, inside `with`. Inside a
    transaction nobody could see the beats, so none are made there."""

    thread_name = "heartbeat"

    def __init__(self):
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def beat(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        if not connection.in_atomic_block:
            self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        try:
            while not self._done.wait(beat_seconds()):
                try:
                    self.beat()
                except Exception:  # a database hiccup: the next beat tries again
                    continue
        finally:
            connection.close()


class Heartbeat(Beating):
    """While the work runs: beat every beat_seconds(), and notice a cancel request or that the
    rollout was taken away (reaped as interrupted while this worker was merely stuck)."""

    def __init__(self, rollout_id: int):
        super().__init__()
        self.rollout_id = rollout_id
        self.thread_name = f"rollout-{rollout_id}-heartbeat"
        self.reason: str | None = None  # CANCELLED or LOST once the work must stop

    @property
    def stopped(self) -> bool:
        return self.reason is not None

    def beat(self) -> None:
        beaten = Rollout.objects.filter(pk=self.rollout_id, state=RolloutState.RUNNING).update(
            heartbeat_at=timezone.now()
        )
        state, cancel = (
            Rollout.objects.filter(pk=self.rollout_id)
            .values_list("state", "cancel_requested_at")
            .first()
        ) or (None, None)
        if cancel is not None:
            self.reason = self.reason or CANCELLED
        elif not beaten and state is not None and state != RolloutState.RUNNING:
            self.reason = self.reason or LOST
