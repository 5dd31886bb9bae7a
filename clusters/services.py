"""Cluster registration and rollout requests, shared by the pages and the API."""

from __future__ import annotations

from celery import group
from django.db import transaction
from django.utils import timezone

from clusters import execution, kubeconfig_policy, kubeconfigs, ownership, rollout, tasks
from clusters.models import Cluster, ExecRun, Rollout
from planner import plancache
from planner.models import Plan
from railstudio.queueing import QueueUnavailable, enqueue


def _send_rollouts(ids: list[int]) -> None:
    """Queue rollouts once committed; if the broker is down, fail them (with the reason) rather
    than leave them pending, which would lock their clusters, and say so (503)."""
    try:
        if len(ids) == 1:
            enqueue(lambda: tasks.run_rollout.delay(ids[0]))
        else:
            enqueue(lambda: group(tasks.run_rollout.s(pk) for pk in ids).apply_async())
    except QueueUnavailable as error:
        Rollout.objects.filter(pk__in=ids, state="pending").update(
            state="failed", message=f"Not started: {error}", finished_at=timezone.now()
        )
        started = ", ".join(f"#{pk}" for pk in ids)
        raise QueueUnavailable(f"{error}; rollout {started} was not started.") from None


class RegistrationError(Exception):
    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(errors)
        self.errors = errors


def check_kubeconfig(text: str, context: str | None) -> tuple[str, str]:
    """(context, server) for a kubeconfig, or RegistrationError naming the field (for a
    kubeconfig that breaks the credential rules: each key and why)."""
    try:
        config = kubeconfigs.load(text)
        kubeconfig_policy.enforce(config, kubeconfig_policy.current())
        chosen = context or kubeconfigs.current_context(config)
        return chosen, kubeconfigs.server_of(config, chosen)
    except kubeconfig_policy.KubeconfigRefused as error:
        raise RegistrationError({"kubeconfig": error.problems}) from None
    except kubeconfigs.KubeconfigError as error:
        field = "context" if "context" in str(error) and context else "kubeconfig"
        raise RegistrationError({field: [str(error)]}) from None


def register(
    *,
    name: str,
    kubeconfig: str = "",
    context: str = "",
    in_cluster: bool = False,
    plans=(),
    **fields,
) -> Cluster:
    errors: dict[str, list[str]] = {}
    conflicts = bind_conflicts(None, list(plans), fields.get("mode"))
    if conflicts:
        errors["plans"] = conflicts
    if not name:
        errors["name"] = ["A cluster needs a name."]
    elif Cluster.objects.filter(name=name).exists():
        errors["name"] = [f"A cluster named '{name}' already exists."]
    server = "in-cluster"
    if not in_cluster:
        if not kubeconfig.strip():
            errors["kubeconfig"] = ["Paste or upload a kubeconfig, or choose in-cluster config."]
        else:
            try:
                context, server = check_kubeconfig(kubeconfig, context)
            except RegistrationError as error:
                errors.update(error.errors)
    if errors:
        raise RegistrationError(errors)
    cluster = Cluster(name=name, context=context, server=server, in_cluster=in_cluster, **fields)
    if kubeconfig and not in_cluster:
        cluster.set_kubeconfig(kubeconfig)
    cluster.save()
    cluster.plans.set(plans)
    transaction.on_commit(lambda: _send_connection_test(cluster.pk))
    return cluster


def _send_connection_test(cluster_id: int) -> None:
    """The test after registering: nobody waits on the request for it, so a dead broker is
    recorded on the cluster (the page stops waiting and says why)."""
    try:
        enqueue(lambda: tasks.test_connection.delay(cluster_id))
    except QueueUnavailable as error:
        Cluster.objects.filter(pk=cluster_id).update(
            last_error=f"connection test not queued: {error}", last_error_at=timezone.now()
        )


class BindConflict(ValueError):
    def __init__(self, messages: list[str]):
        super().__init__(" ".join(messages))
        self.messages = messages


def _bundle_keys(plan: Plan, mode: str) -> set:
    return {ownership.key_of(obj) for obj in plancache.bundle(plan, mode)}


def bind_conflicts(
    cluster: Cluster | None, plans: list[Plan], mode: str | None = None
) -> list[str]:
    """Why `plans` cannot all be bound to the cluster (with the plans bound there already):
    two plans whose bundles write the same object would overwrite each other."""
    mode = mode or (cluster.mode if cluster else "nad")
    bound = list(cluster.plans.all()) if cluster is not None and cluster.pk else []
    bound_ids = {plan.pk for plan in bound}
    others = [(plan.name, _bundle_keys(plan, mode)) for plan in bound]
    messages = []
    for plan in plans:
        if plan.pk in bound_ids:
            continue
        keys = _bundle_keys(plan, mode)
        messages += ownership.bind_conflicts(plan.name, keys, others)
        others.append((plan.name, keys))
        bound_ids.add(plan.pk)
    return messages


def bind(cluster: Cluster, plans: list[Plan]) -> None:
    """Bind plans to a cluster, or BindConflict naming the plans that would collide."""
    messages = bind_conflicts(cluster, plans)
    if messages:
        raise BindConflict(messages)
    cluster.plans.add(*plans)


def start_rollout(cluster: Cluster, plan: Plan, user, **options) -> Rollout:
    """Record the rollout and hand it to a worker once the record is committed."""
    record = rollout.request_rollout(cluster, plan, user, **options)
    transaction.on_commit(lambda: _send_rollouts([record.pk]))
    return record


def start_rollouts(
    clusters: list[Cluster], plan: Plan, user, **options
) -> tuple[list[Rollout], dict[str, str]]:
    """Fan-out: one task per cluster, as a Celery group. Clusters busy with another rollout are
    reported, not fatal to the others. The bundle is rendered once per cluster mode."""
    started, refused = [], {}
    bundles = {}
    for cluster in clusters:
        if cluster.mode not in bundles:
            bundles[cluster.mode] = plancache.bundle(plan, cluster.mode)
        try:
            started.append(
                rollout.request_rollout(
                    cluster, plan, user, bundle=bundles[cluster.mode], **options
                )
            )
        except rollout.RolloutConflict as error:
            refused[cluster.name] = str(error)
    ids = [record.pk for record in started]
    if ids:
        transaction.on_commit(lambda: _send_rollouts(ids))
    return started, refused


def start_rollback(record: Rollout, user, **options) -> Rollout:
    new = rollout.request_rollback(record, user, **options)
    transaction.on_commit(lambda: _send_rollouts([new.pk]))
    return new


def start_exec(
    cluster: Cluster, namespace: str, pod: str, command: str, user, container: str = ""
) -> ExecRun:
    """Record an allow-listed command for a worker to run and queue it; InvalidTarget (a
    NotAllowed) for names the API server would refuse, before anything reaches the cluster;
    QueueUnavailable (the run ends with the reason) when the broker cannot take it."""
    errors = execution.target_errors(namespace, pod, container)
    if errors:
        raise execution.InvalidTarget(errors)
    run = ExecRun.objects.create(
        cluster=cluster, namespace=namespace, pod=pod, command=execution.normalize(command),
        container=container, requested_by=user if user and user.is_authenticated else None,
    )  # fmt: skip
    transaction.on_commit(lambda: _send_exec(run))
    return run


def _send_exec(run: ExecRun) -> None:
    try:
        enqueue(lambda: tasks.run_exec.delay(run.pk))
    except QueueUnavailable as error:
        ExecRun.objects.filter(pk=run.pk).update(
            error=f"Not run: {error}", finished_at=timezone.now()
        )
        raise
