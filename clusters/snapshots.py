"""Pod inspection snapshots: fetch what a cluster says about its pods, inspect and diagnose
them against the bound plans (clusters.inspect, pure), and store one row per pod so pages and
the API answer from the last snapshot at once."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from clusters import inspect
from clusters.kube import Kube, KubeError
from clusters.models import Cluster, PodStatus
from clusters.rollout import target_for
from planner.manifests import NAD_API_VERSION, NAD_KIND

IPPOOL = ("whereabouts.cni.cncf.io/v1alpha1", "IPPool")
NETWORKS_ANNOTATION = "k8s.v1.cni.cncf.io/networks"
LAB_DEVICE_LOOKUPS = 256  # per refresh; one request each


def _optional_list(kube: Kube, api_version: str, kind: str) -> list[dict]:
    try:
        return kube.list(api_version, kind)
    except KubeError as error:
        if error.status == 404:
            return []  # that CRD is not installed
        raise


def lab_devices(kube: Kube, pods: list[dict]) -> dict[str, dict]:
    """Which GPUs and VFs (and their NUMA nodes) each multi-network pod got, from a lab
    cluster's device view. Real clusters expose this only per node (kubelet PodResources), so
    there NUMA is judged from device-info PCI addresses and the NIC inventory alone."""
    devices = {}
    wanted = [p for p in pods if NETWORKS_ANNOTATION in (p["metadata"].get("annotations") or {})]
    for pod in wanted[:LAB_DEVICE_LOOKUPS]:
        namespace, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        found = kube.lab_pod_devices(namespace, name)
        if found:
            devices[f"{namespace}/{name}"] = found
    return devices


def collect(kube: Kube, *, lab: bool = False) -> dict:
    pods = kube.pods()
    return {
        "pods": pods,
        "devices": lab_devices(kube, pods) if lab else {},
        "events": kube.events(),
        "nodes": kube.nodes(),
        "nads": _optional_list(kube, NAD_API_VERSION, NAD_KIND),
        "ippools": _optional_list(kube, *IPPOOL),
    }


def reports_for(cluster: Cluster, data: dict) -> list[inspect.PodReport]:
    """Pods in a bound plan's namespace are compared with that plan; the rest with no plan."""
    common = {
        "nodes": data["nodes"],
        "nads": data["nads"],
        "ippools": data["ippools"],
        "devices": data.get("devices") or None,
    }
    reports, covered = [], set()
    for plan in cluster.plans.order_by("name"):
        spec = plan.to_spec()
        if spec.namespace in covered:
            continue
        covered.add(spec.namespace)
        reports += inspect.inspect_pods(
            data["pods"], data["events"], spec, namespace=spec.namespace, **common
        )
    others = [pod for pod in data["pods"] if pod["metadata"].get("namespace") not in covered]
    reports += inspect.inspect_pods(others, data["events"], None, **common)
    return reports


@transaction.atomic
def store(cluster: Cluster, reports: list[inspect.PodReport]) -> None:
    cluster.pods.all().delete()
    rows = []
    for report in reports:
        data = report.to_dict()
        codes = sorted(
            {finding["code"] for finding in data["findings"] if finding["severity"] != "info"}
        )
        rows.append(
            PodStatus(
                cluster=cluster,
                namespace=report.namespace,
                name=report.name,
                node=report.node or "",
                phase=report.phase or "",
                ok=report.ok,
                problems=report.problems,
                codes=" ".join(codes)[:500],
                report=data,
            )  # fmt: skip
        )
    PodStatus.objects.bulk_create(rows, batch_size=1000)
    now = timezone.now()
    cluster.inspected_at = cluster.inspect_attempted_at = now
    cluster.inspect_error = ""
    cluster.inspect_summary = inspect.summarize(reports)
    cluster.save(
        update_fields=["inspected_at", "inspect_attempted_at", "inspect_error", "inspect_summary"]
    )


def refresh(cluster: Cluster) -> bool:
    """Take a new snapshot. When the cluster does not answer, the last snapshot stays and the
    error is recorded, so pages can say the data is stale."""
    try:
        with Kube(target_for(cluster)) as kube:
            data = collect(kube, lab=cluster.is_lab)
    except KubeError as error:
        cluster.inspect_attempted_at = timezone.now()
        cluster.inspect_error = str(error)
        cluster.save(update_fields=["inspect_attempted_at", "inspect_error"])
        return False
    store(cluster, reports_for(cluster, data))
    return True


def is_stale(cluster: Cluster) -> bool:
    return bool(cluster.inspect_error) or cluster.inspected_at is None


def due(now=None) -> list[int]:
    """Clusters whose periodic refresh is due."""
    now = now or timezone.now()
    ids = []
    for cluster in Cluster.objects.filter(inspect_interval_seconds__gt=0):
        last = cluster.inspect_attempted_at
        if last is None or (now - last).total_seconds() >= cluster.inspect_interval_seconds:
            ids.append(cluster.pk)
    return ids
