"""Pod inspection snapshots: fetch what a cluster says about its pods, inspect and diagnose
them against the bound plans (clusters.inspect, pure), and store one row per pod so pages and
the API answer from the last snapshot at once."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from functools import partial

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from clusters import agent_devices, inspect
from clusters.kube import Kube, KubeError, concurrently
from clusters.models import Cluster, PodStatus, PodStatusCode
from clusters.rollout import target_for
from planner import plancache
from planner.findings import INFO
from planner.manifests import NAD_API_VERSION, NAD_KIND
from railstudio.gcpause import collector_paused

IPPOOL = ("whereabouts.cni.cncf.io/v1alpha1", "IPPool")
EVENT_HISTORY_LOOKUPS = 32  # pods with problems whose every event is fetched, per refresh
WARNINGS = "type=Warning"


def _optional_list(kube: Kube, api_version: str, kind: str) -> list[dict]:
    try:
        return kube.list(api_version, kind)
    except KubeError as error:
        if error.status == 404:
            return []  # that CRD is not installed
        raise


def collect(kube: Kube, *, remembered_devices: OrderedDict | None = None) -> dict:
    """Everything a snapshot needs, with the lists fetched in parallel. Only Warning events are
    listed cluster-wide: every rule of the diagnosis reads warnings, and a big cluster has
    dozens of routine events per pod (tens of megabytes at thousands of pods).

    Which GPUs and VFs a pod got is not served through the Kubernetes API: only each node's
    kubelet PodResources socket knows, and the node agent reads it (`devices`). Where no agent
    answers, NUMA is judged from the device-info PCI addresses in network-status, node facts and
    the NIC inventory."""
    calls = {
        "pods": kube.pods,
        "events": lambda: kube.events(field_selector=WARNINGS),
        "nodes": kube.nodes,
        "nads": lambda: _optional_list(kube, NAD_API_VERSION, NAD_KIND),
        "ippools": lambda: _optional_list(kube, *IPPOOL),
    }
    names, data = list(calls), {}
    for index, result, error in concurrently(list(calls.values()), len(calls)):
        if error is not None:
            raise error
        data[names[index]] = result
    data["devices"] = agent_devices.collect(kube, data["pods"], remembered_devices)
    return data


_readers: OrderedDict[int, inspect.PodReader] = OrderedDict()
_devices: dict[int, OrderedDict] = {}  # per cluster: pod uid -> what a node agent said


def reader_for(cluster: Cluster) -> inspect.PodReader:
    """The pod reader of the cluster's last refresh in this process (see inspect.PodReader),
    for the settings.INSPECT_REMEMBERED_CLUSTERS clusters refreshed most recently (about
    70 MB for a cluster of 4,096 multi-rail pods; 0 remembers none)."""
    reader = _readers.pop(cluster.pk, None) or inspect.PodReader()
    _readers[cluster.pk] = reader
    while len(_readers) > settings.INSPECT_REMEMBERED_CLUSTERS:
        forgotten, _ = _readers.popitem(last=False)
        _devices.pop(forgotten, None)
    return reader


def forget_pods() -> None:
    _readers.clear()
    _devices.clear()


def reports_for(cluster: Cluster, data: dict) -> list[inspect.PodReport]:
    """Each interface is judged by the bound plan that owns the NAD it attaches (the NAD's
    plan label); other pods in a bound plan's namespace by that plan; the rest by no plan."""
    plans, by_slug = {}, {}
    for plan in cluster.plans.order_by("name"):
        spec = plancache.spec(plan)
        by_slug[plan.slug] = spec
        plans.setdefault(spec.namespace, spec)
    return inspect.inspect_cluster(
        data["pods"], data["events"], plans, nodes=data["nodes"], nads=data["nads"],
        ippools=data["ippools"], devices=data.get("devices") or None,
        reader=reader_for(cluster), owners=by_slug,
    )  # fmt: skip


def add_event_history(kube: Kube, reports: list[inspect.PodReport]) -> None:
    """Give pods with problems all their events, routine ones included ("Scheduled",
    "AddedInterface net1 ..."), to read beside the warnings; one request per pod, at most
    EVENT_HISTORY_LOOKUPS. Best effort: without them the report keeps its warnings."""
    wanted = [report for report in reports if not report.ok][:EVENT_HISTORY_LOOKUPS]
    calls = [
        partial(kube.events, report.namespace, field_selector=f"involvedObject.name={report.name}")
        for report in wanted
    ]
    for index, events, error in concurrently(calls, kube.max_parallel):
        if error is None:
            wanted[index].events = inspect.events_for(wanted[index], events) or wanted[index].events


COLUMNS = (
    "cluster_id", "namespace", "name", "node", "phase", "ok", "problems", "codes", "report",
    "digest",
)  # fmt: skip
DELETE_BATCH = 1000


def _codes(report: inspect.PodReport) -> list[str]:
    return sorted({item.code for item in report.findings if item.severity != INFO})


def _rows(cluster: Cluster, reports: list[inspect.PodReport]) -> list[tuple]:
    rows = []
    for report in reports:
        data = report.to_dict()
        text = orjson.dumps(data)
        rows.append((
            cluster.pk, report.namespace, report.name, report.node or "", report.phase or "",
            report.ok, report.problems, " ".join(_codes(report))[:500], text.decode(),
            hashlib.blake2b(text, digest_size=16).hexdigest(),
        ))  # fmt: skip
    return rows


def _insert(model, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """COPY on PostgreSQL, one parameterised INSERT run elsewhere: bulk_create's array path on
    PostgreSQL escapes megabytes of JSON with a regex, which takes seconds for 4,096 pods."""
    if not rows:
        return
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        placeholders = ", ".join(["%s"] * len(columns))
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})"
        cursor.executemany(sql, rows)


def _delete(pks: list[int]) -> None:
    """Rows of pods that are gone or changed, with their codes; no signals hang off them."""
    for start in range(0, len(pks), DELETE_BATCH):
        batch = pks[start : start + DELETE_BATCH]
        PodStatusCode.objects.filter(pod_status_id__in=batch)._raw_delete(PodStatus.objects.db)
        PodStatus.objects.filter(pk__in=batch)._raw_delete(PodStatus.objects.db)


def _insert_codes(cluster: Cluster, codes: dict[tuple[str, str], list[str]], kept: set) -> None:
    """The code rows of the pods just written (those with codes), by their new ids."""
    if not codes:
        return
    new_ids = cluster.pods.exclude(codes="").values_list("pk", "namespace", "name")
    rows = [
        (pk, code[:64])
        for pk, namespace, name in new_ids
        if pk not in kept
        for code in codes.get((namespace, name), ())
    ]
    _insert(PodStatusCode, ("pod_status_id", "code"), rows)


@transaction.atomic
def store(cluster: Cluster, reports: list[inspect.PodReport]) -> None:
    """Make the cluster's rows the snapshot of `reports`. A row whose report did not change
    since the last refresh stays as it is (a steady cluster rewrites nothing); the others are
    replaced and the rows of pods that are gone deleted."""
    with collector_paused():
        rows = _rows(cluster, reports)
        stored = {
            (namespace, name): (pk, digest)
            for pk, namespace, name, digest in cluster.pods.values_list(
                "pk", "namespace", "name", "digest"
            )
        }
        kept: set[int] = set()
        fresh, codes = [], {}
        for report, row in zip(reports, rows, strict=True):
            pk, digest = stored.get((row[1], row[2]), (None, None))
            if pk is not None and digest == row[-1]:
                kept.add(pk)
                continue
            fresh.append(row)
            if row[7]:
                codes[(row[1], row[2])] = _codes(report)
        _delete([pk for pk, _ in stored.values() if pk not in kept])
        _insert(PodStatus, COLUMNS, fresh)
        _insert_codes(cluster, codes, kept)
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
    # Millions of short-lived objects (see railstudio.gcpause). They are dropped before the
    # collector wakes up: its first pass would otherwise walk all of them.
    with collector_paused():
        try:
            with Kube(target_for(cluster)) as kube:
                data = collect(
                    kube, remembered_devices=_devices.setdefault(cluster.pk, OrderedDict())
                )
                reports = reports_for(cluster, data)
                del data
                add_event_history(kube, reports)
        except KubeError as error:
            cluster.inspect_attempted_at = timezone.now()
            cluster.inspect_error = str(error)
            cluster.save(update_fields=["inspect_attempted_at", "inspect_error"])
            return False
        store(cluster, reports)
        del reports
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
