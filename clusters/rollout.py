"""Rolling a plan's bundle out to a cluster: preflight with the cluster's facts, per-object
diff, a dry-run pass, server-side apply, prune; and rollback as a new rollout of an old bundle.

`request_rollout` records the intent (and the exact bundle: the revision); `execute` does the
work inside a Celery task. Executing twice is safe: apply is idempotent, so a task redelivered
after a worker died simply finishes the job.
"""

from __future__ import annotations

import time
from functools import partial

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from clusters import diffing, facts, kubeconfig_policy, liveness, ownership, preview
from clusters.credentials import CredentialsError
from clusters.failures import describe
from clusters.kube import Kube, KubeError, Target, concurrently
from clusters.models import ACTIVE_STATES, Cluster, Rollout, RolloutObject, RolloutState
from planner import manifests, plancache, preflight
from planner.models import Plan


class RolloutConflict(Exception):
    """Another rollout to the same cluster is pending or running."""


def target_for(cluster: Cluster) -> Target:
    return Target(
        kubeconfig=cluster.kubeconfig_text(),
        context=cluster.context,
        in_cluster=cluster.in_cluster,
        policy=kubeconfig_policy.current(),
    )


def render_for(plan: Plan, cluster: Cluster) -> list[dict]:
    return plancache.bundle(plan, cluster.mode)


def _conflict_message(cluster: Cluster) -> str:
    active = cluster.rollouts.filter(state__in=ACTIVE_STATES).first()
    detail = f" (rollout #{active.pk} of {active.plan_slug}, {active.state})" if active else ""
    return f"A rollout to {cluster.name} is already in progress{detail}; wait for it to finish."


def request_rollout(
    cluster: Cluster,
    plan: Plan,
    user,
    *,
    dry_run: bool = False,
    prune: bool = False,
    force: bool = False,
    force_reason: str = "",
    adopt: bool = False,
    adopt_reason: str = "",
    bundle: list[dict] | None = None,
    rollback_of: Rollout | None = None,
) -> Rollout:
    bundle = bundle if bundle is not None else render_for(plan, cluster)
    liveness.reap(cluster.pk)  # a rollout whose worker died must not lock the cluster
    try:
        with transaction.atomic():
            if cluster.rollouts.filter(state__in=ACTIVE_STATES).exists():
                raise RolloutConflict(_conflict_message(cluster))
            return Rollout.objects.create(
                cluster=cluster,
                plan=plan,
                plan_slug=plan.slug,  # the revision number comes when it changes the cluster
                created_by=user if user and user.is_authenticated else None,
                dry_run=dry_run,
                prune=prune,
                force=force,
                force_reason=force_reason,
                adopt=adopt,
                adopt_reason=adopt_reason if adopt else "",
                bundle=bundle,
                rollback_of=rollback_of,
            )
    except IntegrityError:
        raise RolloutConflict(_conflict_message(cluster)) from None


class RollbackRefused(ValueError):
    """That rollout cannot be rolled back to; the message says why."""


def rollback_refusal(rollout: Rollout) -> str | None:
    """Why `rollout` is not a revision to roll back to, or None when it is: only an applied
    (not dry-run) rollout that changed the cluster, of a plan still bound to that cluster."""
    if rollout.dry_run:
        return (
            f"Rollout #{rollout.pk} was a dry run: it applied nothing, so there is no revision "
            "of it to roll back to."
        )
    if rollout.state not in (RolloutState.SUCCEEDED, RolloutState.PARTIAL):
        return f"Rollout #{rollout.pk} {rollout.state}: it applied nothing to roll back to."
    if rollout.revision is None:
        return (
            f"Rollout #{rollout.pk} changed nothing, so it is not a revision: roll back to the "
            "revision it found on the cluster instead."
        )
    if rollout.plan is None:
        return f"The plan of rollout #{rollout.pk} ({rollout.plan_slug}) no longer exists."
    if not rollout.cluster.plans.filter(pk=rollout.plan_id).exists():
        return (
            f"Plan '{rollout.plan.name}' is no longer bound to {rollout.cluster.name}; bind it "
            "again to roll it back there."
        )
    return None


def request_rollback(
    rollout: Rollout, user, *, prune: bool = False, force: bool = False, reason: str = ""
) -> Rollout:
    """Re-apply the bundle an earlier rollout applied, as a new rollout. It prunes (objects
    added since go away) or forces past preflight errors only when asked, with a reason."""
    refusal = rollback_refusal(rollout)
    if refusal:
        raise RollbackRefused(refusal)
    if (prune or force) and not reason.strip():
        raise RollbackRefused("Pruning or forcing a rollback needs a reason, for the audit record.")
    why = f"rollback to {revision_text(rollout)}" + (f": {reason.strip()}" if reason else "")
    return request_rollout(  # the reason is recorded whether it prunes, forces or neither
        rollout.cluster, rollout.plan, user, prune=prune, force=force,
        force_reason=why, bundle=rollout.bundle, rollback_of=rollout,
    )  # fmt: skip


def revision_text(rollout: Rollout) -> str:
    if rollout.revision is None:
        return f"the bundle of rollout #{rollout.pk}"
    return f"revision {rollout.revision}"


# ---------------------------------------------------------------------------------------------
# Execution (inside the worker)


def _number(rollout: Rollout) -> None:
    """A rollout that changed the cluster (applied or pruned an object) becomes the plan's next
    revision there. One that changed nothing keeps no number: a revision is a bundle applied."""
    if rollout.revision is not None or rollout.dry_run:
        return
    if not rollout.items.filter(outcome="applied").exists():
        return
    with transaction.atomic():
        Cluster.objects.select_for_update().filter(pk=rollout.cluster_id).first()
        others = Rollout.objects.filter(cluster_id=rollout.cluster_id, plan_slug=rollout.plan_slug)
        last = others.aggregate(n=Max("revision"))["n"]
        rollout.revision = (last or 0) + 1
        rollout.save(update_fields=["revision"])


def _finish(rollout: Rollout, state: str, message: str = "") -> None:
    _number(rollout)
    """End the rollout, unless it ended meanwhile (cancelled, or interrupted when this worker
    stopped beating): then the record keeps what happened."""
    now = timezone.now()
    ended = Rollout.objects.filter(pk=rollout.pk, state=RolloutState.RUNNING).update(
        state=state, message=message, finished_at=now
    )
    if ended:
        rollout.state, rollout.message, rollout.finished_at = state, message, now
    else:
        rollout.refresh_from_db(fields=["state", "message", "finished_at"])


def execute(rollout_id: int, *, parallel: int | None = None) -> str:
    """Run a recorded rollout. Independent calls to the cluster (the reads, then each pass of
    writes) go out `parallel` at a time (default: settings.ROLLOUT_PARALLEL_CALLS); 1 makes
    every call wait for the one before. A redelivered task (its first worker died) resumes the
    rollout unless another worker still beats for it or a newer rollout was asked for."""
    rollout = _take(rollout_id)
    if rollout is None:
        return Rollout.objects.filter(pk=rollout_id).values_list("state", flat=True).first() or ""
    try:
        with liveness.Heartbeat(rollout.pk) as heartbeat, Kube(target_for(rollout.cluster)) as kube:
            limit = min(parallel or settings.ROLLOUT_PARALLEL_CALLS, kube.max_parallel)
            _run(rollout, kube, limit, heartbeat)
    except KubeError as error:
        verb = "Not run" if error.permanent else "The cluster did not answer"
        _finish(rollout, RolloutState.FAILED, f"{verb}: {error}")
    except CredentialsError as error:
        _finish(rollout, RolloutState.FAILED, f"Not run: {error}")
    except Exception as error:
        _finish(rollout, RolloutState.FAILED, f"Failed: {describe(error)}")
        raise
    return rollout.state


def _take(rollout_id: int) -> Rollout | None:
    """Claim the rollout for this worker: a pending one; a running one whose worker stopped
    beating (interrupted first); an interrupted one nothing has superseded. None when there is
    nothing to run: it ended, or a live worker beats for it."""
    seen, deadline = None, time.monotonic() + liveness.stale_after().total_seconds() + 5
    while True:
        rollout = Rollout.objects.select_related("cluster", "plan").filter(pk=rollout_id).first()
        if rollout is None:
            return None
        if rollout.state == RolloutState.RUNNING:
            if liveness.is_stale(rollout):
                liveness.stop(rollout, RolloutState.INTERRUPTED)
                continue
            if seen is None:
                seen = rollout.heartbeat_at
            elif rollout.heartbeat_at != seen or time.monotonic() > deadline:
                return None  # another worker is alive and running it
            time.sleep(liveness.beat_seconds())
            continue
        if rollout.state == RolloutState.INTERRUPTED and liveness.superseded(rollout):
            return None
        if rollout.state not in (RolloutState.PENDING, RolloutState.INTERRUPTED):
            return None
        try:
            with transaction.atomic():
                claimed = liveness.claim(rollout)
        except IntegrityError:  # another rollout to the cluster started since it was interrupted
            return None
        if claimed:
            rollout.refresh_from_db()
            return rollout


Group = tuple[str, str, str | None]  # apiVersion, kind, namespace (None: cluster-wide)
NODES: Group = ("v1", "Node", None)
ALL_NADS: Group = (manifests.NAD_API_VERSION, manifests.NAD_KIND, None)


def _groups(bundle: list[dict]) -> list[Group]:
    """The lists that show the bundle's live objects and the plan's managed ones: one per kind
    and namespace, except NADs, listed once cluster-wide (preflight needs them all anyway)."""
    groups = {(obj["apiVersion"], obj["kind"], obj["metadata"].get("namespace")) for obj in bundle}
    groups = {group for group in groups if group[:2] != ALL_NADS[:2]}
    return sorted(groups | {ALL_NADS}, key=str)


def _list_all(kube: Kube, groups: list[Group], parallel: int) -> dict[Group, list[dict]]:
    calls = [partial(kube.list, *group) for group in groups]
    lists: dict[Group, list[dict]] = {}
    for index, items, error in concurrently(calls, parallel):
        if error is not None and error.status != 404:
            raise error  # 404: the kind itself is unknown to this cluster (e.g. no Multus CRD)
        lists[groups[index]] = items or []
    return lists


def _live_and_managed(bundle: list[dict], lists: dict[Group, list[dict]], plan_slug: str):
    """Live copies of the bundle's objects, and the live objects labelled as this plan's in the
    bundle's namespaces (those a prune may delete)."""
    by_key = {diffing.key_of(obj): obj for items in lists.values() for obj in items}
    live = {diffing.key_of(obj): by_key.get(diffing.key_of(obj)) for obj in bundle}
    namespaces = {diffing.key_of(obj)[2] for obj in bundle}
    labels = {diffing.MANAGED_BY: "railstudio", diffing.PLAN_LABEL: plan_slug}
    managed = [
        obj
        for key, obj in by_key.items()
        if (not namespaces or key[2] in namespaces)
        and labels.items() <= ((obj.get("metadata") or {}).get("labels") or {}).items()
    ]
    return live, managed


def _preflight(rollout: Rollout, lists: dict[Group, list[dict]]) -> list[dict]:
    cluster_facts = facts.preflight_facts(lists[NODES], lists[ALL_NADS])
    # The bundle's own NADs are about to exist; only NADs of other plans/namespaces are facts.
    if rollout.plan and not rollout.rollback_of:
        found = plancache.preflight_run(rollout.plan, rollout.bundle, cluster_facts)
    else:
        found = preflight.run(rollout.bundle, None, cluster_facts)
    return [f.to_dict() for f in found]


def _record(rollout: Rollout, changes: list[diffing.Change]) -> list[RolloutObject]:
    rollout.items.all().delete()
    rows = []
    for position, change in enumerate(changes):
        api_version, kind, namespace, name = change.key
        rows.append(
            RolloutObject(
                rollout=rollout,
                position=position,
                api_version=api_version,
                kind=kind,
                namespace=namespace,
                name=name,
                action=change.action,
                diff=change.diff,
                outcome="skipped" if change.action == "unchanged" else "pending",
            )  # fmt: skip
        )
    return RolloutObject.objects.bulk_create(rows)


def _set(row: RolloutObject, outcome: str, message: str = "") -> None:
    row.outcome, row.message = outcome, message
    row.save(update_fields=["outcome", "message"])


def _run(rollout: Rollout, kube: Kube, parallel: int, control=None) -> None:
    # One batch of reads: the facts preflight needs and the live objects the diff needs.
    lists = _list_all(kube, sorted(set(_groups(rollout.bundle)) | {NODES}, key=str), parallel)
    live, managed = _live_and_managed(rollout.bundle, lists, rollout.plan_slug)
    adopt_reason = rollout.adopt_reason if rollout.adopt else ""
    rollout.findings = _preflight(rollout, lists) + ownership.findings(
        rollout.bundle, live, rollout.plan_slug, adopt_reason
    )
    rollout.save(update_fields=["findings"])
    blocking = ownership.blocking(rollout.findings, forced=rollout.force)
    if blocking:
        _finish(
            rollout,
            RolloutState.BLOCKED,
            ownership.blocked_message(blocking, forced=rollout.force),
        )
        return
    # The dry-run pass: the server validates everything before anything is written, and its
    # answers (the objects as it would store them) decide what is unchanged.
    prunes = diffing.prunable(rollout.bundle, managed) if rollout.prune else []
    previews = preview.preview(
        kube, rollout.bundle, prunes, parallel, create_namespaces=not rollout.dry_run
    )
    changes = diffing.compare(rollout.bundle, live, previews, managed, rollout.prune)
    rows = _record(rollout, changes)
    passed = []
    for row, change in zip(rows, changes, strict=True):
        if change.action == "unchanged":
            continue
        if change.error:
            _set(row, "failed", change.error)
        else:
            passed.append((row, change))
    if rollout.dry_run:
        for row, _ in passed:
            _set(row, "dry-run")
    else:  # each row is saved as its object lands, so the page shows progress as it happens
        for index, _, error in _writes(kube, passed, parallel, dry_run=False, control=control):
            row = passed[index][0]
            if error is None:
                _set(row, "applied")
            else:
                _set(row, *_failure(error))
    verdict = _verdict(rollout, control)
    if verdict is not None:
        _finish(rollout, *verdict)


class Stopped(KubeError):
    """Not written: the rollout was cancelled, or taken from this worker."""

    def __init__(self, reason: str):
        super().__init__(f"not written: the rollout was {reason}", permanent=True)
        self.outcome = "cancelled" if reason == liveness.CANCELLED else "interrupted"


def _failure(error: KubeError) -> tuple[str, str]:
    if isinstance(error, Stopped):
        return error.outcome, ""
    return "failed", error.message


def _guarded(control, call):
    if control is not None and control.stopped:
        raise Stopped(control.reason)
    return call()


def _writes(
    kube: Kube, work: list[tuple[RolloutObject, diffing.Change]], parallel, *, dry_run, control
):
    calls = [
        partial(_guarded, control, partial(_write, kube, change, dry_run=dry_run))
        for _, change in work
    ]
    return concurrently(calls, parallel)


def _write(kube: Kube, change: diffing.Change, *, dry_run: bool) -> None:
    if change.action == "prune":
        api_version, kind, namespace, name = change.key
        kube.delete(api_version, kind, name, namespace or None, dry_run=dry_run)
    else:
        kube.apply(change.obj, dry_run=dry_run, force=True)


def _verdict(rollout: Rollout, control=None) -> tuple[str, str] | None:
    if control is not None and control.reason == liveness.LOST:
        return None  # interrupted meanwhile: the record already says so
    if control is not None and control.reason == liveness.CANCELLED:
        rollout.refresh_from_db(fields=["cancelled_by"])
        message = liveness.cancelled_message(rollout)
        rollout.items.filter(outcome="pending").update(outcome="cancelled")
        return RolloutState.CANCELLED, message
    outcomes = list(rollout.items.values_list("outcome", flat=True))
    failed = outcomes.count("failed")
    done = len(outcomes) - failed
    if not failed:
        verb = "would change" if rollout.dry_run else "changed"
        changed = sum(1 for o in outcomes if o in ("applied", "dry-run"))
        unchanged = outcomes.count("skipped")
        restored = (
            f"Restored revision {rollout.restores_revision}: " if rollout.rollback_of_id else ""
        )
        if not changed:
            return RolloutState.SUCCEEDED, f"{restored}No changes: {unchanged} object(s) unchanged."
        return (
            RolloutState.SUCCEEDED,
            f"{restored}{changed} object(s) {verb}, {unchanged} unchanged.",
        )
    if done:
        return RolloutState.PARTIAL, f"{failed} of {len(outcomes)} object(s) failed."
    return RolloutState.FAILED, f"All {failed} object(s) failed."


# ---------------------------------------------------------------------------------------------
# Drift


def last_applied(cluster: Cluster) -> list[Rollout]:
    """The latest applied (not dry-run) rollout of each plan on the cluster."""
    latest = {}
    done = cluster.rollouts.filter(
        dry_run=False, state__in=[RolloutState.SUCCEEDED, RolloutState.PARTIAL]
    )
    for rollout in done.order_by("-created_at", "-id"):
        latest.setdefault(rollout.plan_slug, rollout)
    return list(latest.values())


def check_drift(cluster: Cluster) -> tuple[bool, str]:
    """Compare live managed NADs with what the server would make of the NADs of each plan's last
    applied revision (a dry-run apply of each, as a rollout decides "unchanged")."""
    diffs = []
    applied = last_applied(cluster)
    if applied:
        with Kube(target_for(cluster)) as kube:
            lists = _list_all(kube, [ALL_NADS], parallel=1)  # every plan's NADs in one call
            parallel = min(settings.ROLLOUT_PARALLEL_CALLS, kube.max_parallel)
            for rollout in applied:
                diffs += _drift(kube, rollout, lists, parallel)
    drifted = bool(diffs)
    cluster.drifted, cluster.drift_diff, cluster.drift_checked_at = (
        drifted,
        "\n".join(diffs),
        timezone.now(),
    )
    cluster.save(update_fields=["drifted", "drift_diff", "drift_checked_at"])
    return drifted, cluster.drift_diff


def _drift(
    kube: Kube, rollout: Rollout, lists: dict[Group, list[dict]], parallel: int
) -> list[str]:
    nads = [obj for obj in rollout.bundle if obj["kind"] == manifests.NAD_KIND]
    live, managed = _live_and_managed(nads, lists, rollout.plan_slug)
    managed = [obj for obj in managed if obj.get("kind") == manifests.NAD_KIND]
    present = [obj for obj in nads if live.get(diffing.key_of(obj)) is not None]
    previews = preview.preview(kube, present, [], parallel, create_namespaces=False)
    diffs = []
    for change in diffing.compare(nads, live, previews, managed, prune=True):
        if change.action != "unchanged":
            verb = {"create": "missing", "change": "changed", "prune": "not in the plan"}[
                change.action
            ]
            diffs.append(f"# {change.label}: {verb}\n{change.diff or change.error}")
    return diffs
