"""Thin Celery wrappers: the work lives in clusters.rollout and friends."""

from celery import shared_task
from django.utils import timezone

from clusters import discovery, execution, facts, rollout, snapshots
from clusters.kube import Kube, KubeError
from clusters.models import Cluster


@shared_task(acks_late=True, reject_on_worker_lost=True)
def run_rollout(rollout_id: int) -> str:
    return rollout.execute(rollout_id)


@shared_task(acks_late=True)
def test_connection(cluster_id: int) -> bool:
    cluster = Cluster.objects.get(pk=cluster_id)
    try:
        with Kube(rollout.target_for(cluster)) as kube:
            report = facts.connection_report(kube)
    except KubeError as error:
        report = {"reachable": False, "last_error": str(error)}
    else:
        report.update(reachable=True, last_error="")
    # Only these fields: a full save would put back whatever else changed meanwhile.
    Cluster.objects.filter(pk=cluster_id).update(tested_at=timezone.now(), **report)
    return report["reachable"]


@shared_task(acks_late=True)
def discover_nodes(cluster_id: int) -> int:
    cluster = Cluster.objects.get(pk=cluster_id)
    try:
        with Kube(rollout.target_for(cluster)) as kube:
            nodes = kube.nodes()
            try:
                states = kube.list("sriovnetwork.openshift.io/v1", "SriovNetworkNodeState")
            except KubeError as error:
                if error.status != 404:
                    raise
                states = []  # no SR-IOV Network Operator
    except KubeError as error:
        cluster.last_error = f"node discovery: {error}"
        cluster.save(update_fields=["last_error"])
        return 0
    cluster.discovery = discovery.parse(nodes, states)
    cluster.discovered_at = timezone.now()
    cluster.save(update_fields=["discovery", "discovered_at"])
    return len(cluster.discovery)


@shared_task(acks_late=True)
def check_drift(cluster_id: int) -> bool:
    cluster = Cluster.objects.get(pk=cluster_id)
    try:
        drifted, _ = rollout.check_drift(cluster)
    except KubeError as error:
        cluster.last_error = f"drift check: {error}"
        cluster.save(update_fields=["last_error"])
        return False
    return drifted


@shared_task
def check_drift_all() -> int:
    ids = list(
        Cluster.objects.filter(rollouts__isnull=False).distinct().values_list("pk", flat=True)
    )
    for cluster_id in ids:
        check_drift.delay(cluster_id)
    return len(ids)


@shared_task(acks_late=True)
def refresh_pods(cluster_id: int) -> bool:
    return snapshots.refresh(Cluster.objects.get(pk=cluster_id))


@shared_task
def refresh_due_clusters() -> int:
    ids = snapshots.due()
    for cluster_id in ids:
        refresh_pods.delay(cluster_id)
    return len(ids)


@shared_task(acks_late=True, soft_time_limit=execution.TIMEOUT_SECONDS + 10)
def run_exec(run_id: int) -> int | None:
    return execution.execute(run_id).exit_code


@shared_task(acks_late=True, reject_on_worker_lost=True)
def run_validation(validation_id: int) -> str:
    from clusters.validation import runner

    return runner.execute(validation_id)


@shared_task
def run_due_validations() -> int:
    from clusters.validation import services

    return len(services.start_due())
