"""planner.podfacts: the one reading of pod resources, capabilities, network attachments and
nodes that preflight (before a pod exists) and inspection (of a live pod) both use."""

import pytest

from clusters import inspect
from planner import podfacts, preflight

RAIL = "nvidia.com/rail0_vf"


def pod(containers, init_containers=(), annotation=None) -> dict:
    metadata = {"name": "p", "namespace": "ai-training"}
    if annotation is not None:
        metadata["annotations"] = {"k8s.v1.cni.cncf.io/networks": annotation}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": {"containers": list(containers), "initContainers": list(init_containers)},
    }


def container(name, requests=None, limits=None, add=(), privileged=False) -> dict:
    security = {"capabilities": {"add": list(add)}}
    if privileged:
        security["privileged"] = True
    return {
        "name": name,
        "resources": {"requests": requests or {}, "limits": limits or {}},
        "securityContext": security,
    }


@pytest.mark.parametrize(
    ("text", "number"),
    [("8", 8), (2, 2), ("500m", 0.5), ("1Gi", 2**30), ("1.5k", 1500), ("lots", None)],
)
def test_quantities(text, number):
    assert podfacts.quantity(text) == number
    assert podfacts.amount(text) == number


def test_unhashable_and_boolean_quantities_read_as_nothing():
    assert podfacts.amount({"a": 1}) is None
    assert podfacts.quantity(True) is None


def test_containers_add_up_and_an_init_container_counts_alone():
    spec = pod(
        [
            container("a", requests={RAIL: "1", "cpu": "500m"}, limits={RAIL: "2"}),
            container("b", limits={RAIL: 1}),
        ],
        [container("init", requests={RAIL: "5", "cpu": "100m"})],
    )["spec"]
    total, containers = podfacts.spec_requests(spec)
    assert total == {RAIL: 5.0, "cpu": 0.5}
    assert [item["name"] for item in containers] == ["a", "b"]
    assert podfacts.container_requests(containers[0]) == {RAIL: 2.0, "cpu": 0.5}


def test_preflight_and_inspection_read_a_pod_the_same_way():
    manifest = pod(
        [container("a", requests={RAIL: "2"}, add=["CAP_IPC_LOCK", "sys_nice"]), container("b")],
        [container("init", limits={RAIL: "3"})],
    )
    total, containers = podfacts.spec_requests(manifest["spec"])
    view = inspect.read_pod(manifest)
    assert view.requests == total == {RAIL: 3.0}
    assert [c.requests for c in view.containers] == [
        podfacts.container_requests(c) for c in containers
    ]
    assert view.containers[0].capabilities == podfacts.capabilities(containers[0])[0]
    assert view.capabilities() == ["IPC_LOCK", "SYS_NICE"]


def test_which_containers_need_rdma_capabilities_and_what_they_lack():
    requests = [{"cpu": 1.0}, {RAIL: 1.0}, {RAIL: 2.0}]
    assert podfacts.rdma_containers(requests, {RAIL}) == [1, 2]
    assert podfacts.rdma_containers(requests, {"other/vf"}) == [0]
    assert podfacts.rdma_containers([], {RAIL}) == []
    assert podfacts.missing_rdma_capabilities({"IPC_LOCK"}, False) == ["SYS_NICE"]
    assert podfacts.missing_rdma_capabilities(set(), True) == []


def test_preflight_and_diagnosis_name_the_same_missing_capability():
    """The same pod, checked before it exists and diagnosed live: both say IPC_LOCK_MISSING for
    the container that asks for the rail, neither for the one that does not."""
    manifest = pod([container("side"), container("main", requests={RAIL: "1"}, add=["SYS_NICE"])])
    nads = [
        {
            "namespace": "ai-training",
            "name": "sriov-rail-0",
            "annotations": {"k8s.v1.cni.cncf.io/resourceName": RAIL},
            "config": '{"cniVersion": "0.3.1", "type": "sriov", "ipam": {}}',
        }
    ]
    manifest["metadata"]["annotations"] = {"k8s.v1.cni.cncf.io/networks": "sriov-rail-0"}
    before = [
        (f.code, f.field)
        for f in preflight.run([manifest], None, preflight.ClusterFacts(nads=nads))
        if f.code.endswith("_MISSING")
    ]
    report = inspect.inspect_pods([manifest], [], None, nads=nads)[0]
    live = [
        (f["code"], f["field"])
        for f in report.to_dict()["findings"]
        if f["code"].endswith("_MISSING")
    ]
    field = "spec.containers[1].securityContext.capabilities.add"
    assert before == [("IPC_LOCK_MISSING", field)]
    assert live == [("IPC_LOCK_MISSING", field)]


def test_networks_annotation_in_both_forms():
    assert podfacts.parse_networks_annotation("sriov-rail-0@net1, other/sriov-rail-1") == [
        {"name": "sriov-rail-0", "namespace": None, "interface": "net1", "position": 0},
        {"name": "sriov-rail-1", "namespace": "other", "interface": None, "position": 1},
    ]
    assert podfacts.parse_networks_annotation('[{"name": "a", "interface": "net3"}]') == [
        {"name": "a", "namespace": None, "interface": "net3", "position": 0}
    ]
    with pytest.raises(ValueError, match="namespace"):
        podfacts.parse_networks_annotation('[{"name": "ns/a"}]')
    with pytest.raises(ValueError, match="list"):
        podfacts.parse_networks_annotation('{"name": "a"}')


def test_node_index_reads_summaries_and_v1_nodes_alike():
    summary = {
        "name": "gpu-0",
        "allocatable": {RAIL: "4", "cpu": "64"},
        "labels": {"pool": "a"},
        "gpu_numa": {"0": 4, "x": "y"},
        "nic_numa": {"1A:00.0": 1},
    }
    v1 = {
        "metadata": {"name": "gpu-1", "labels": {"pool": "b"}},
        "status": {"allocatable": {RAIL: "0", "nvidia.com/gpu": "8"}},
    }
    nodes = podfacts.NodeIndex([summary, v1, {"name": ""}, "junk"])
    assert nodes.names == ["gpu-0", "gpu-1"]
    assert nodes.amounts(RAIL) == {"gpu-0": 4.0, "gpu-1": 0.0}
    assert nodes.lists("gpu-1", RAIL) and not nodes.lists("gpu-0", "nvidia.com/gpu")
    assert nodes.advertised[RAIL] == 1 and nodes.advertised["nvidia.com/gpu"] == 1
    assert nodes.matching({"pool": "b"}) == ["gpu-1"]
    assert nodes.matching({"kubernetes.io/hostname": "gpu-0"}) == ["gpu-0"]
    assert nodes.matching({}) == ["gpu-0", "gpu-1"]
    assert nodes.matching({"pool": "c"}) == []
    assert nodes.gpu_numa["gpu-0"] == {0: 4}
    assert nodes.nic_numa_of("gpu-0", None, "0000:1a:00.0") == 1
    assert nodes.nic_numa_of("gpu-1", "0000:1a:00.0") is None
