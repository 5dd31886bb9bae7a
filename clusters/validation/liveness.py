"""A running validation proves its worker is alive, as a rollout does (clusters.liveness).

The worker writes `heartbeat_at` every few seconds while the run goes on. A running validation
without a heartbeat for settings.ROLLOUT_STALE_SECONDS lost its worker: `reap` ends it as
failed, saying so and which probe DaemonSet may be left behind, and so unlocks its cluster
for the next run. `reap` runs before a new run is requested, when runs are shown, and from
Celery beat.
"""

from __future__ import annotations

from django.db.models.functions import Coalesce
from django.utils import timezone

from clusters.liveness import Beating, stale_after
from clusters.models import Validation, ValidationState
from clusters.validation import probe


def _stale_running(now):
    return Validation.objects.annotate(
        alive_at=Coalesce("heartbeat_at", "started_at", "created_at")
    ).filter(state=ValidationState.RUNNING, alive_at__lt=now - stale_after())


def is_stale(run: Validation, now=None) -> bool:
    now = now or timezone.now()
    alive_at = run.heartbeat_at or run.started_at or run.created_at
    return run.state == ValidationState.RUNNING and now - alive_at > stale_after()


def reap(cluster_id: int | None = None) -> int:
    """Fail the running validations (of one cluster, or all) whose worker stopped beating."""
    now = timezone.now()
    stale = _stale_running(now).select_related("plan")
    if cluster_id is not None:
        stale = stale.filter(cluster_id=cluster_id)
    ended = 0
    for run in stale:
        ended += Validation.objects.filter(
            pk=run.pk, state=ValidationState.RUNNING, heartbeat_at=run.heartbeat_at
        ).update(state=ValidationState.FAILED, finished_at=now, message=lost_message(run, now))
    return ended


def lost_message(run: Validation, now, lead: str = "Interrupted") -> str:
    quiet = int((now - (run.heartbeat_at or run.started_at or run.created_at)).total_seconds())
    namespace = run.plan.namespace if run.plan is not None else "the plan's namespace"
    return (
        f"{lead}: the worker running it stopped (no heartbeat for {quiet} s). Its probe "
        f"DaemonSet {probe.name_for(run.pk)} in {namespace} may still be there: delete it, "
        "or start a new validation."
    )


class Heartbeat(Beating):
    """Beat every beat_seconds() while the run goes on, in a thread beside it."""

    def __init__(self, validation_id: int):
        super().__init__()
        self.validation_id = validation_id
        self.thread_name = f"validation-{validation_id}-heartbeat"

    def __enter__(self) -> Heartbeat:
        self.beat()
        return super().__enter__()

    def beat(self) -> None:
        Validation.objects.filter(pk=self.validation_id, state=ValidationState.RUNNING).update(
            heartbeat_at=timezone.now()
        )
