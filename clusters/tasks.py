"""Thin Celery wrappers: the work lives in clusters.rollout and friends.

Every task ends its record whatever goes wrong: an exception of any kind (an unreadable
kubeconfig, credentials encrypted with another key, a refused exec plugin, a bug) is written
where the pages and the API look, never left pending."""

from celery import shared_task
from django.utils import timezone

from clusters import discovery, execution, facts, liveness, rollout, snapshots
from clusters.failures import describe
from clusters.kube import Kube, KubeError
from clusters.models import Cluster


def _failed(cluster_id: int, what: str, error: BaseException) -> None:
    Cluster.objects.filter(pk=cluster_id).update(
        last_error=f"{what}: {describe(error)}", last_error_at=timezone.now()
    )


@shared_task(acks_late=True, reject_on_worker_lost=True)
def run_rollout(rollout_id: int) -> str:
    return rollout.execute(rollout_id)


@shared_task(acks_late=True)
def test_connection(cluster_id: int) -> bool:
    cluster = Cluster.objects.filter(pk=cluster_id).first()
    if cluster is None:
        return False
    now = timezone.now()
    try:
        with Kube(rollout.target_for(cluster)) as kube:
            report = facts.connection_report(kube)
    except Exception as error:
        report = {
            "reachable": False,
            "last_error": f"connection test: {describe(error)}",
            "last_error_at": now,
        }
    else:
        report.update(reachable=True, last_error="")
    # Only these fields: a full save would put back whatever else changed meanwhile.
    Cluster.objects.filter(pk=cluster_id).update(tested_at=now, **report)
    return report["reachable"]


@shared_task(acks_late=True)
def discover_nodes(cluster_id: int) -> int:
    cluster = Cluster.objects.filter(pk=cluster_id).first()
    if cluster is None:
        return 0
    try:
        with Kube(rollout.target_for(cluster)) as kube:
            nodes = kube.nodes()
            try:
                states = kube.list("sriovnetwork.openshift.io/v1", "SriovNetworkNodeState")
            except KubeError as error:
                if error.status != 404:
                    raise
                states = []  # no SR-IOV Network Operator
        found = discovery.parse(nodes, states)
    except Exception as error:
        _failed(cluster_id, "node discovery", error)
        return 0
    Cluster.objects.filter(pk=cluster_id).update(discovery=found, discovered_at=timezone.now())
    return len(found)


@shared_task(acks_late=True)
def check_drift(cluster_id: int) -> bool:
    cluster = Cluster.objects.filter(pk=cluster_id).first()
    if cluster is None:
        return False
    try:
        drifted, _ = rollout.check_drift(cluster)
    except Exception as error:
        _failed(cluster_id, "drift check", error)
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
    cluster = Cluster.objects.filter(pk=cluster_id).first()
    if cluster is None:
        return False
    try:
        return snapshots.refresh(cluster)
    except Exception as error:  # the snapshot stays; the page says why it is stale
        Cluster.objects.filter(pk=cluster_id).update(
            inspect_attempted_at=timezone.now(), inspect_error=describe(error)
        )
        return False


@shared_task
def refresh_due_clusters() -> int:
    ids = snapshots.due()
    for cluster_id in ids:
        refresh_pods.delay(cluster_id)
    return len(ids)


@shared_task(acks_late=True, soft_time_limit=execution.TIMEOUT_SECONDS + 10)
def run_exec(run_id: int) -> int | None:
    return execution.execute(run_id).exit_code


@shared_task
def reap_stale_rollouts() -> int:
    """Interrupt running rollouts and validations whose worker stopped beating, so their
    clusters unlock."""
    from clusters.validation import liveness as validation_liveness

    return liveness.reap() + validation_liveness.reap()


@shared_task(acks_late=True, reject_on_worker_lost=True)
def run_validation(validation_id: int) -> str:
    from clusters.validation import runner

    return runner.execute(validation_id)


@shared_task
def run_due_validations() -> int:
    from clusters.validation import services

    return len(services.start_due())
