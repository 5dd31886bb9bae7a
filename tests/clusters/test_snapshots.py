"""Snapshots: one pass inspects a cluster's pods against the plan of each namespace, and the
store rewrites only the rows whose report changed."""

from dataclasses import replace

import pytest
from django.conf import settings

from clusters import inspect, snapshots
from clusters.models import Cluster, PodStatus, PodStatusCode
from clusters.pod_filters import PodFilters
from planner.seed import seed_plan_spec
from tests.clusters.test_inspect import NS, make_pod


def test_each_namespace_is_compared_with_its_plan_and_the_rest_with_none():
    research = replace(seed_plan_spec(), namespace="research")
    pods = [
        make_pod("trainer", rails=(0, 1)),
        make_pod("probe", rails=(0,), namespace="research"),
        make_pod("stray", rails=(0,), namespace="sandbox"),
    ]
    reports = inspect.inspect_cluster(pods, [], {NS: seed_plan_spec(), "research": research})
    by_name = {report.name: report for report in reports}
    assert [report.name for report in reports] == ["trainer", "probe", "stray"]
    assert by_name["trainer"].interfaces[0].rail == 0  # the plan knows the NAD
    assert by_name["probe"].interfaces[0].rail == 0  # by research's own plan
    assert by_name["stray"].interfaces[0].rail is None  # no plan for sandbox


def _reports(*pods) -> list[inspect.PodReport]:
    return inspect.inspect_pods(list(pods), [], seed_plan_spec())


@pytest.mark.django_db
def test_a_steady_cluster_rewrites_no_rows_and_changes_replace_only_their_row():
    cluster = Cluster.objects.create(name="steady", server="https://127.0.0.1:1")
    first, second = make_pod("first", rails=(0, 1)), make_pod("second", rails=(0, 1))
    snapshots.store(cluster, _reports(first, second))
    before = dict(PodStatus.objects.values_list("name", "pk"))
    assert sorted(before) == ["first", "second"]

    snapshots.store(cluster, _reports(first, second))
    assert dict(PodStatus.objects.values_list("name", "pk")) == before  # nothing rewritten

    moved = make_pod("second", rails=(0, 1), phase="Pending")
    snapshots.store(cluster, _reports(first, moved))
    after = dict(PodStatus.objects.values_list("name", "pk"))
    assert after["first"] == before["first"] and after["second"] != before["second"]
    assert PodStatus.objects.get(name="second").phase == "Pending"

    snapshots.store(cluster, _reports(first))
    assert list(PodStatus.objects.values_list("name", flat=True)) == ["first"]
    assert cluster.inspect_summary["pods"] == 1
    stored = PodStatus.objects.get(name="first")
    assert stored.report == _reports(first)[0].to_dict() and len(stored.digest) == 32


def _versioned(pod: dict, version: str) -> dict:
    pod["metadata"]["resourceVersion"] = version
    return pod


def test_the_reader_reads_again_only_pods_whose_resource_version_changed():
    reader = inspect.PodReader()
    steady = _versioned(make_pod("steady", rails=(0,)), "10")
    moving = _versioned(make_pod("moving", rails=(0,)), "11")
    unversioned = make_pod("unversioned", rails=(0,))  # no resourceVersion: read every time
    first = {view.name: view for view in reader.read([steady, moving, unversioned])}
    assert reader.remembered == 2

    moved = _versioned(make_pod("moving", rails=(0,)), "12")
    status = moved["metadata"]["annotations"]["k8s.v1.cni.cncf.io/network-status"]
    moved["metadata"]["annotations"]["k8s.v1.cni.cncf.io/network-status"] = status.replace(
        "10.50.1.6", "10.99.0.7"
    )
    second = {view.name: view for view in reader.read([steady, moved, unversioned])}
    assert second["steady"] is first["steady"]  # remembered
    assert second["moving"] is not first["moving"]
    assert second["moving"].status_entries[1]["ips"] == ["10.99.0.7"]
    assert second["unversioned"] is not first["unversioned"]

    reports = inspect.inspect_cluster([steady, moved], [], {NS: seed_plan_spec()}, reader=reader)
    assert [r.interfaces[0].status for r in reports] == ["ok", "wrong_subnet"]
    assert reader.remembered == 2
    reader.read([steady])
    assert reader.remembered == 1  # pods that are gone are forgotten


@pytest.mark.django_db
def test_each_cluster_keeps_its_own_reader_for_the_last_few_clusters():
    snapshots.forget_pods()
    clusters = [
        Cluster.objects.create(name=f"c{index}", server="https://127.0.0.1:1")
        for index in range(settings.INSPECT_REMEMBERED_CLUSTERS + 1)
    ]
    first = snapshots.reader_for(clusters[0])
    assert snapshots.reader_for(clusters[0]) is first
    assert snapshots.reader_for(clusters[1]) is not first
    for cluster in clusters[2:]:
        snapshots.reader_for(cluster)
    assert snapshots.reader_for(clusters[0]) is not first  # the oldest was let go
    snapshots.forget_pods()


@pytest.mark.django_db
def test_remembering_no_cluster_reads_every_pod_every_time(settings):
    settings.INSPECT_REMEMBERED_CLUSTERS = 0
    snapshots.forget_pods()
    cluster = Cluster.objects.create(name="forgetful", server="https://127.0.0.1:1")
    assert snapshots.reader_for(cluster) is not snapshots.reader_for(cluster)


def _code_rows() -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    for name, code in PodStatusCode.objects.values_list("pod_status__name", "code"):
        rows.setdefault(name, []).append(code)
    return {name: sorted(codes) for name, codes in rows.items()}


@pytest.mark.django_db
def test_finding_codes_are_stored_as_indexed_rows_that_follow_the_snapshot():
    cluster = Cluster.objects.create(name="codes", server="https://127.0.0.1:1")
    healthy = make_pod("healthy", rails=(0, 1))
    no_lock = make_pod("nolock", rails=(0,), caps=("SYS_NICE",))
    snapshots.store(cluster, _reports(healthy, no_lock))
    assert _code_rows() == {"nolock": ["IPC_LOCK_MISSING"]}
    assert PodStatus.objects.get(name="nolock").codes == "IPC_LOCK_MISSING"

    snapshots.store(cluster, _reports(healthy, no_lock))  # steady: the same rows stay
    assert _code_rows() == {"nolock": ["IPC_LOCK_MISSING"]}

    bare = make_pod("healthy", rails=(0,), caps=())
    snapshots.store(cluster, _reports(bare))  # one pod changed, one gone
    assert _code_rows() == {"healthy": ["IPC_LOCK_MISSING", "SYS_NICE_MISSING"]}
    assert not PodStatus.objects.filter(name="nolock").exists()


@pytest.mark.django_db
def test_the_code_filter_is_one_filter_for_page_and_api_and_reads_the_code_rows():
    cluster = Cluster.objects.create(name="filters", server="https://127.0.0.1:1")
    pods = [
        make_pod("ok-pod", rails=(0,)),
        make_pod("no-lock", rails=(0,), caps=("SYS_NICE",)),
        make_pod("no-nice-x", rails=(0,), caps=("IPC_LOCK",), namespace="research"),
    ]
    snapshots.store(cluster, _reports(*pods))

    def names(**params) -> list[str]:
        rows = PodFilters.read(params).apply(cluster.pods.all())
        return sorted(rows.values_list("name", flat=True))

    assert names(problem="ipc_lock_missing") == ["no-lock"]
    assert names(problem="SYS_NICE_MISSING") == ["no-nice-x"]
    assert names(problem="any") == ["no-lock", "no-nice-x"]
    assert names(problem="none") == ["ok-pod"]
    assert names(problem="SYS_NICE_MISSING", namespace=NS) == []
    assert names(problem="IPC_LOCK") == []  # a code, not a part of one
    rows = PodFilters(problem="NUMA_SPLIT").apply(cluster.pods.all())
    assert "regex" not in str(rows.query).lower() and "REGEXP" not in str(rows.query)
