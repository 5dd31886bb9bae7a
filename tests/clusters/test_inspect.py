"""clusters.inspect: network-status parsing, per-interface status against the plan, pod reports.

Crafted dicts for the variants and statuses; captures from the lab (tests/clusters/data) for
what Multus, whereabouts and the kubelet really write; and one run against a live lab.
"""

import json
from dataclasses import replace

import pytest

from clusters import inspect
from clusters.inspect import inspect_pods, parse_network_status, read_network_status, summarize
from planner.seed import seed_plan_spec
from tests.clusters.data import captures
from tests.helpers import wait_for

NS = "ai-training"
STATUS = "k8s.v1.cni.cncf.io/network-status"
NETWORKS = "k8s.v1.cni.cncf.io/networks"


def rail_entry(rail: int, ip: str, interface: str | None = None, **extra) -> dict:
    entry = {
        "name": f"{NS}/sriov-rail-{rail}",
        "interface": interface or f"net{rail + 1}",
        "ips": [ip],
        "mac": f"02:00:00:0{rail}:00:10",
        "dns": {},
        "device-info": {
            "type": "pci",
            "version": "1.1.0",
            "pci": {
                "pci-address": f"0000:{0x18 + rail:02x}:00.2",
                "rdma-device": f"mlx5_{8 + rail}",
                "pf-pci-address": f"0000:{0x18 + rail:02x}:00.0",
            },
        },
    }
    entry.update(extra)
    return entry


DEFAULT_ENTRY = {"name": "k8s-pod-network", "ips": ["10.100.0.3"], "default": True, "dns": {}}


def make_pod(
    name: str = "worker-0",
    rails=(0, 1),
    entries=None,
    *,
    networks=None,
    phase: str = "Running",
    uid: str | None = None,
    caps=("IPC_LOCK", "SYS_NICE"),
    gpus: int = 8,
    namespace: str = NS,
) -> dict:
    if networks is None:
        networks = json.dumps(
            [{"name": f"sriov-rail-{r}", "interface": f"net{r + 1}"} for r in rails]
        )
    if entries is None:
        entries = [rail_entry(r, f"10.{50 + r}.1.{len(name)}") for r in rails]
    annotations = {}
    if networks is not None:
        annotations[NETWORKS] = networks
    if phase == "Running":
        annotations[STATUS] = json.dumps([DEFAULT_ENTRY, *entries])
    limits = {"nvidia.com/gpu": str(gpus), **{f"nvidia.com/rail{r}_vf": "1" for r in rails}}
    return {
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": uid or f"uid-{name}",
            "annotations": annotations,
        },
        "spec": {
            "nodeName": "gpu-node-0",
            "containers": [
                {
                    "name": "trainer",
                    "resources": {"limits": limits},
                    "securityContext": {"capabilities": {"add": list(caps)}},
                }
            ],
        },
        "status": {
            "phase": phase,
            "containerStatuses": [
                {
                    "name": "trainer",
                    "ready": phase == "Running",
                    "restartCount": 0,
                    "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}
                    if phase == "Running"
                    else {"waiting": {"reason": "ContainerCreating"}},
                }
            ],
        },
    }


def one(pods, plan=None, **kwargs) -> inspect.PodReport:
    reports = inspect_pods(pods, [], plan if plan is not None else seed_plan_spec(), **kwargs)
    return reports[0]


def interface(report, name: str) -> inspect.InterfaceReport:
    return next(item for item in report.interfaces if item.name == name)


# --- network-status variants ------------------------------------------------------------------


def test_parses_what_multus_writes_in_the_lab():
    record = captures.load("healthy")
    value = record["pod"]["metadata"]["annotations"][STATUS]
    entries = parse_network_status(value)
    assert [entry["name"] for entry in entries] == [
        "k8s-pod-network",
        *(f"{NS}/sriov-rail-{index}" for index in range(4)),
    ]
    default, rail0 = entries[0], entries[1]
    assert default["default"] is True and default["interface"] is None
    assert rail0["interface"] == "net1" and rail0["ips"] == ["10.50.1.0"]
    assert rail0["device_info"] == {
        "type": "pci",
        "pci_address": "0000:18:00.2",
        "rdma_device": "mlx5_8",
        "pf_pci_address": "0000:18:00.0",
    }
    assert rail0["gateway"] == [] and rail0["default"] is False


def test_ips_in_cidr_form_and_the_spec_default_route_key():
    value = json.dumps(
        [
            {"name": "ns/a", "interface": "net1", "ips": ["10.50.1.7/16", "fd00::7/64"]},
            {"name": "ns/b", "interface": "net2", "default-route": ["10.51.0.1"]},
            {"name": "ns/c", "interface": "net3", "gateway": ["10.52.0.1"], "mtu": 9000},
        ]
    )
    a, b, c = parse_network_status(value)
    assert a["ips"] == ["10.50.1.7", "fd00::7"]
    assert b["gateway"] == ["10.51.0.1"]
    assert c["gateway"] == ["10.52.0.1"] and c["mtu"] == 9000


def test_a_name_without_namespace_gets_the_pods_but_the_default_network_does_not():
    value = json.dumps(
        [
            {"name": "cbr0", "interface": "eth0", "ips": ["10.244.1.7"], "default": True},
            {"name": "sriov-rail-0", "interface": "net1", "ips": ["10.50.1.1"]},
        ]
    )
    assert [e["name"] for e in parse_network_status(value, NS)] == ["cbr0", f"{NS}/sriov-rail-0"]
    assert [e["name"] for e in parse_network_status(value)] == ["cbr0", "sriov-rail-0"]


def test_a_single_object_and_a_vdpa_device():
    value = json.dumps(
        {
            "name": "ns/a",
            "interface": "net1",
            "ips": "10.50.1.1",
            "device-info": {
                "type": "vdpa",
                "vdpa": {"pci-address": "0000:1A:00.2", "pf-pci-address": "1a:00.0"},
            },
        }
    )
    (entry,) = parse_network_status(value)
    assert entry["ips"] == ["10.50.1.1"]
    assert entry["device_info"]["type"] == "vdpa"
    assert entry["device_info"]["pci_address"] == "0000:1a:00.2"
    assert entry["device_info"]["pf_pci_address"] == "0000:1a:00.0"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("{not json", "not valid JSON"),
        ("42", "not a JSON list"),
        ('"text"', "not a JSON list"),
        ('[1, {"ips": []}, {"name": 3}]', "3 element(s) without a name"),
        ("", None),
        (None, None),
        ("null", "not a JSON list"),
    ],
)
def test_unreadable_values_give_nothing_and_say_why(value, problem):
    entries, reason = read_network_status(value)
    assert entries == []
    assert parse_network_status(value) == []
    if problem is None:
        assert reason is None
    else:
        assert problem in reason


def test_odd_field_types_are_tolerated():
    value = json.dumps(
        [{"name": "ns/a", "interface": 7, "ips": [None, 3, "10.50.1.1"], "mtu": "x", "mac": []}]
    )
    (entry,) = parse_network_status(value)
    assert entry["ips"] == ["10.50.1.1"]
    assert entry["interface"] is None and entry["mtu"] is None and entry["mac"] is None


def test_the_legacy_networks_status_key_is_read():
    pod = make_pod(rails=(0,))
    annotations = pod["metadata"]["annotations"]
    annotations["k8s.v1.cni.cncf.io/networks-status"] = annotations.pop(STATUS)
    report = one([pod])
    assert interface(report, "net1").status == "ok"


def test_a_broken_network_status_is_a_finding_not_an_exception():
    pod = make_pod(rails=(0,))
    pod["metadata"]["annotations"][STATUS] = '[{"name": "ai-training/sriov-rail-0", '
    report = one([pod])
    assert "NETWORK_STATUS_INVALID" in {item.code for item in report.findings}
    assert interface(report, "net1").status == "missing"


# --- interface status against the plan ---------------------------------------------------------


def test_an_interface_in_its_rail_is_ok():
    report = one([make_pod(rails=(0, 1))])
    net1 = interface(report, "net1")
    assert (net1.status, net1.rail, net1.subnet, net1.nad) == (
        "ok",
        0,
        "10.50.0.0/16",
        "sriov-rail-0",
    )
    assert net1.problems == [] and net1.planned_name == "net1"
    assert report.ok and report.problems == 0


def test_a_requested_network_missing_from_network_status():
    pod = make_pod(rails=(0, 1), entries=[rail_entry(0, "10.50.1.9")])
    report = one([pod])
    net2 = interface(report, "net2")
    assert net2.status == "missing" and net2.rail == 1
    assert "not in the pod's network-status" in net2.detail
    assert "INTERFACE_MISSING" in {item.code for item in report.findings}


def test_interfaces_of_a_pod_not_yet_running_are_missing_without_a_finding():
    report = one([make_pod(rails=(0,), phase="Pending")])
    net1 = interface(report, "net1")
    assert net1.status == "missing" and "Pending" in net1.detail
    assert "INTERFACE_MISSING" not in {item.code for item in report.findings}


def test_an_address_outside_the_rail_subnet():
    pod = make_pod(rails=(0,), entries=[rail_entry(0, "10.60.1.9")])
    net1 = interface(one([pod]), "net1")
    assert net1.status == "wrong_subnet"
    assert "outside rail 0's subnet 10.50.0.0/16" in net1.detail


def test_an_ipv6_address_on_an_ipv4_rail_is_in_the_wrong_subnet():
    pod = make_pod(rails=(0,), entries=[rail_entry(0, "fd00::9")])
    assert interface(one([pod]), "net1").status == "wrong_subnet"


def test_an_address_in_an_exclusion():
    pod = make_pod(rails=(0,), entries=[rail_entry(0, "10.50.0.7")])
    net1 = interface(one([pod]), "net1")
    assert net1.status == "excluded"
    assert net1.exclusion == "10.50.0.0/24 (infrastructure)"


def test_the_gateway_counts_as_excluded():
    plan = seed_plan_spec()
    rails = list(plan.rails)
    rails[0] = replace(rails[0], gateway="10.50.1.1")
    plan = replace(plan, rails=tuple(rails))
    pod = make_pod(rails=(0,), entries=[rail_entry(0, "10.50.1.1")])
    net1 = interface(one([pod], plan), "net1")
    assert net1.status == "excluded" and "gateway" in net1.exclusion


def test_an_address_outside_the_pod_range():
    plan = seed_plan_spec()
    rails = list(plan.rails)
    rails[0] = replace(rails[0], range_start="10.50.2.0", range_end="10.50.9.255")
    plan = replace(plan, rails=tuple(rails))
    pod = make_pod(rails=(0,), entries=[rail_entry(0, "10.50.1.9")])
    net1 = interface(one([pod], plan), "net1")
    assert net1.status == "outside_range"
    assert "10.50.2.0-10.50.9.255" in net1.detail


def test_an_address_two_pods_hold_is_a_duplicate_on_both():
    first = make_pod("a", rails=(0,), entries=[rail_entry(0, "10.50.1.9")])
    second = make_pod("b", rails=(0,), entries=[rail_entry(0, "10.50.1.9")])
    third = make_pod("c", rails=(0,), entries=[rail_entry(0, "10.50.1.10")])
    reports = inspect_pods([first, second, third], [], seed_plan_spec())
    a, b, c = (interface(report, "net1") for report in reports)
    assert a.status == b.status == "duplicate"
    assert a.shared_with == [f"{NS}/b net1"] and b.shared_with == [f"{NS}/a net1"]
    assert c.status == "ok"


def test_a_finished_pod_holds_no_address():
    done = make_pod("done", rails=(0,), entries=[rail_entry(0, "10.50.1.9")])
    done["status"]["phase"] = "Succeeded"
    live = make_pod("live", rails=(0,), entries=[rail_entry(0, "10.50.1.9")])
    reports = inspect_pods([done, live], [], seed_plan_spec())
    assert interface(reports[1], "net1").status == "ok"


def test_a_rail_under_another_interface_name():
    networks = "sriov-rail-2, sriov-rail-3"  # no @interface: Multus names them net1, net2
    entries = [rail_entry(2, "10.52.1.1", "net1"), rail_entry(3, "10.53.1.1", "net2")]
    report = one([make_pod(rails=(2, 3), entries=entries, networks=networks)])
    net1 = interface(report, "net1")
    assert net1.status == "wrong_name" and net1.rail == 2 and net1.planned_name == "net3"
    assert net1.interface_given is False


def test_the_worst_problem_is_the_status_and_all_are_listed():
    entries = [rail_entry(0, "10.60.1.1", "net7")]
    networks = json.dumps([{"name": "sriov-rail-0", "interface": "net7"}])
    net7 = interface(one([make_pod(rails=(0,), entries=entries, networks=networks)]), "net7")
    assert net7.status == "wrong_subnet"
    assert net7.problems == ["wrong_subnet", "wrong_name"]


def test_without_a_plan_interfaces_are_only_present_or_missing():
    pod = make_pod(rails=(0, 1), entries=[rail_entry(0, "10.99.1.1")])
    report = inspect_pods([pod], [], None)[0]
    assert [(i.name, i.status, i.rail) for i in report.interfaces] == [
        ("net1", "ok", None),
        ("net2", "missing", None),
    ]


def test_an_attachment_multus_reports_but_the_pod_did_not_ask_for():
    entries = [rail_entry(0, "10.50.1.1"), rail_entry(5, "10.55.1.1", "net6")]
    report = one([make_pod(rails=(0,), entries=entries)])
    extra = interface(report, "net6")
    assert extra.requested is False and extra.rail == 5 and extra.status == "ok"


# --- pod reports ---------------------------------------------------------------------------------


def test_only_pods_asking_for_networks_are_reported_and_a_namespace_filters():
    plain = make_pod("plain", rails=(0,))
    del plain["metadata"]["annotations"][NETWORKS]
    other = make_pod("elsewhere", rails=(0,), namespace="research")
    pods = [plain, make_pod("rails", rails=(0,)), other]
    assert [r.name for r in inspect_pods(pods, [], None)] == ["rails", "elsewhere"]
    assert [r.name for r in inspect_pods(pods, [], None, namespace=NS)] == ["rails"]


def test_both_annotation_forms_give_the_requested_networks():
    comma = make_pod("comma", networks="sriov-rail-0@net1, research/sriov-rail-1, sriov-rail-2")
    as_json = make_pod(
        "json",
        networks=json.dumps(
            [{"name": "sriov-rail-0", "namespace": "research"}, {"name": "sriov-rail-1"}]
        ),
    )
    first, second = inspect_pods([comma, as_json], [], None)
    assert first.networks == [
        {"name": "sriov-rail-0", "namespace": NS, "interface": "net1"},
        {"name": "sriov-rail-1", "namespace": "research", "interface": "net2"},
        {"name": "sriov-rail-2", "namespace": NS, "interface": "net3"},
    ]
    assert second.networks == [
        {"name": "sriov-rail-0", "namespace": "research", "interface": "net1"},
        {"name": "sriov-rail-1", "namespace": NS, "interface": "net2"},
    ]


def test_an_unreadable_networks_annotation_is_reported_with_a_finding():
    report = one([make_pod(networks='[{"name": "sriov-rail-0"')])
    assert report.networks == [] and "not valid JSON" in report.networks_error
    assert "NETWORKS_ANNOTATION_INVALID" in {item.code for item in report.findings}


def test_the_report_carries_phase_node_containers_resources_and_capabilities():
    record = captures.load("healthy")
    report = one([record["pod"]], captures.lab_plan())
    assert (report.namespace, report.name, report.node, report.phase) == (
        NS,
        "training-worker-0",
        "gpu-node-0",
        "Running",
    )
    assert report.containers == [
        {
            "name": "trainer",
            "state": "running",
            "reason": None,
            "message": None,
            "ready": True,
            "restarts": 0,
        }
    ]
    assert report.gpus == 8
    assert report.vfs == {f"nvidia.com/rail{index}_vf": 1 for index in range(4)}
    assert report.capabilities == ["IPC_LOCK", "SYS_NICE"] and report.privileged is False


def test_a_pending_pods_reason_comes_from_its_container_or_scheduling():
    assert one([captures.load("nad_typo")["pod"]]).reason == "ContainerCreating"
    record = captures.load("unregistered_resource")
    report = one([record["pod"]])
    assert report.reason == "Unschedulable"
    assert report.message == "0/4 nodes are available: 4 Insufficient nvidia.com/rail3_vf."


def test_events_are_the_pods_own_oldest_first():
    record = captures.load("healthy")
    stale = dict(record["events"][0], message="from an earlier pod of the same name")
    stale["involvedObject"] = dict(stale["involvedObject"], uid="another-uid")
    foreign = dict(record["events"][1])
    foreign["involvedObject"] = dict(foreign["involvedObject"], name="someone-else")
    events = [*reversed(record["events"]), stale, foreign]
    report = inspect_pods([record["pod"]], events, None)[0]
    assert [event["reason"] for event in report.events] == [
        event["reason"] for event in record["events"]
    ]
    assert set(report.events[0]) == {"type", "reason", "message", "count", "last"}
    assert report.events[2]["message"] == "Add net1 [10.50.1.0/16] from ai-training/sriov-rail-0"


def test_events_of_the_events_k8s_io_api_are_read_too():
    pod = make_pod(rails=(0,))
    event = {
        "regarding": {"kind": "Pod", "namespace": NS, "name": "worker-0", "uid": "uid-worker-0"},
        "reason": "AddedInterface",
        "note": "Add net1 [10.50.1.8/16] from ai-training/sriov-rail-0",
        "type": "Normal",
        "series": {"count": 3, "lastObservedTime": "2026-01-01T00:00:03Z"},
    }
    report = inspect_pods([pod], [event], None)[0]
    assert report.events == [
        {
            "type": "Normal",
            "reason": "AddedInterface",
            "message": "Add net1 [10.50.1.8/16] from ai-training/sriov-rail-0",
            "count": 3,
            "last": "2026-01-01T00:00:03Z",
        }
    ]


def test_device_info_and_numa_from_the_plans_nic_inventory():
    record = captures.load("healthy")
    report = one([record["pod"]], captures.lab_plan())
    net3 = interface(report, "net3")
    assert (net3.pci_address, net3.pf_pci_address, net3.rdma_device) == (
        "0000:3a:00.2",
        "0000:3a:00.0",
        "mlx5_24",
    )
    assert (net3.numa_node, net3.numa_source) == (0, "plan")


def test_numa_by_rail_when_the_plans_pci_addresses_differ_and_observed_wins():
    record = captures.load("numa_mismatch")
    by_rail = one([record["pod"]], seed_plan_spec())  # seed NICs sit on other PCI buses
    assert {(i.numa_node, i.numa_source) for i in by_rail.interfaces} == {(0, "plan")}
    observed = one([record["pod"]], captures.lab_plan(), devices=captures.devices(record))
    assert {(i.numa_node, i.numa_source) for i in observed.interfaces} == {(1, "observed")}


def test_to_dict_is_json_and_complete():
    record = captures.load("healthy")
    data = json.loads(json.dumps(one([record["pod"]], captures.lab_plan()).to_dict()))
    assert data["ok"] is True and data["problems"] == 0
    assert [(f["code"], f["severity"]) for f in data["findings"]] == [("NUMA_UNVERIFIED", "info")]
    assert {"namespace", "name", "node", "phase", "reason", "containers", "networks"} <= set(data)
    assert {"gpus", "vfs", "capabilities", "interfaces", "events"} <= set(data)
    net1 = data["interfaces"][0]
    assert net1["ip"] == "10.50.1.0" and net1["rail"] == 0 and net1["status"] == "ok"
    assert {"name", "nad", "subnet", "mac", "pci_address", "rdma_device", "numa_node"} <= set(net1)


def test_summarize_counts_pods_codes_and_interfaces():
    good = make_pod("good", rails=(0,))
    bad = make_pod("bad", rails=(0, 1), entries=[rail_entry(0, "10.60.1.1")], caps=("SYS_NICE",))
    summary = summarize(inspect_pods([good, bad], [], seed_plan_spec()))
    assert summary["pods"] == 2 and summary["ok"] == 1 and summary["with_problems"] == 1
    assert summary["by_code"] == {
        "INTERFACE_MISSING": 1,
        "INTERFACE_WRONG_SUBNET": 1,
        "IPC_LOCK_MISSING": 1,
    }
    assert summary["interfaces"] == {"missing": 1, "wrong_subnet": 1, "ok": 1}


# --- the lab's captures together -----------------------------------------------------------------

EXPECTED = {
    # scenario: (phase, ok, interface statuses)
    "healthy": ("Running", True, ["ok"] * 4),
    "comma_form": ("Running", True, ["ok"] * 2),
    "default_names": ("Running", False, ["wrong_name"] * 2),
    "nad_typo": ("Pending", False, ["missing"] * 4),
    "no_ipc_lock": ("Running", False, ["ok"] * 4),
    "vf_pci_required": ("Pending", False, ["missing"] * 2),
    "numa_aligned": ("Running", True, ["ok"] * 4),
    "numa_mismatch": ("Running", False, ["ok"] * 4),
    "unregistered_resource": ("Pending", False, ["missing"] * 4),
    "range_exhausted": ("Pending", False, ["missing"] * 4),
    "admission_error": ("Failed", False, ["missing"] * 4),
    "topology_affinity": ("Failed", False, ["missing"] * 4),
}


def test_every_capture_inspected_at_once():
    records = [captures.load(name) for name in EXPECTED]
    devices = {}
    for record in records:
        devices.update(captures.devices(record))
    reports = inspect_pods(
        [record["pod"] for record in records],
        [event for record in records for event in record["events"]],
        captures.lab_plan(),
        nodes=captures.load("healthy")["nodes"],
        nads=captures.load("healthy")["nads"],
        devices=devices,
    )
    assert len(reports) == len(EXPECTED)
    for name, report in zip(EXPECTED, reports, strict=True):
        phase, ok, statuses = EXPECTED[name]
        assert (report.phase, report.ok) == (phase, ok), name
        assert [item.status for item in report.interfaces] == statuses, name
        assert report.events, name


# --- a live lab ------------------------------------------------------------------------------------


@pytest.mark.timeout(20)
def test_inspect_the_pods_of_a_live_lab(tmp_path):
    from kubernetes import client as k8s

    from labsim.testing import SEED_SPEC, running_lab
    from tests.clusters.data.capture import nad, pod, rails_json

    with running_lab(SEED_SPEC, tmp_path) as lab:
        api = lab.api_client()
        core, custom = k8s.CoreV1Api(api), k8s.CustomObjectsApi(api)
        for index in range(4):
            custom.create_namespaced_custom_object(
                "k8s.cni.cncf.io", "v1", NS, "network-attachment-definitions", nad(index)
            )
        core.create_namespaced_pod(NS, pod("training-worker-0", rails_json()))
        core.create_namespaced_pod(NS, pod("typo", rails_json(typo={2: "sriov-rail-22"})))
        core.create_namespaced_pod(NS, pod("plain", rails_json(), gpus=0))
        lab.wait_for_pod(NS, "training-worker-0")
        lab.wait_for_pod(NS, "plain")
        wait_for(
            lambda: any(
                event.reason == "NoNetworkFound" and event.involved_object.name == "typo"
                for event in core.list_namespaced_event(NS).items
            ),
            timeout=10,
            interval=0.05,
        )
        pods = [api.sanitize_for_serialization(p) for p in core.list_namespaced_pod(NS).items]
        plain = next(p for p in pods if p["metadata"]["name"] == "plain")
        del plain["metadata"]["annotations"][NETWORKS]
        events = [api.sanitize_for_serialization(e) for e in core.list_namespaced_event(NS).items]
        nodes = [api.sanitize_for_serialization(n) for n in core.list_node().items]
        nads = custom.list_namespaced_custom_object(
            "k8s.cni.cncf.io", "v1", NS, "network-attachment-definitions"
        )["items"]
        reports = {
            report.name: report
            for report in inspect_pods(pods, events, captures.lab_plan(), nodes=nodes, nads=nads)
        }
    assert set(reports) == {"training-worker-0", "typo"}
    worker = reports["training-worker-0"]
    assert worker.ok and worker.phase == "Running"
    assert [(i.name, i.rail, i.status) for i in worker.interfaces] == [
        (f"net{index + 1}", index, "ok") for index in range(4)
    ]
    assert all(i.ip.startswith(f"10.{50 + i.rail}.") for i in worker.interfaces)
    typo = reports["typo"]
    assert typo.phase == "Pending" and not typo.ok
    (found,) = [item for item in typo.findings if item.code == "NAD_NOT_FOUND"]
    assert 'Did you mean "sriov-rail-2"?' in found.message
    assert found.evidence.startswith("Warning NoNetworkFound: cannot find a network-attach")


def test_numa_from_node_facts_comes_before_the_plan():
    record = captures.load("healthy")
    nodes = [{"name": "gpu-node-0", "allocatable": {}, "nic_numa": {"0000:18:00.0": "1"}}]
    report = one([record["pod"]], captures.lab_plan(), nodes=nodes)
    assert (interface(report, "net1").numa_node, interface(report, "net1").numa_source) == (
        1,
        "node",
    )
    assert interface(report, "net2").numa_source == "plan"


def test_eth0_is_the_default_network_entry_else_the_pod_ip():
    report = one([make_pod("with-status", rails=(0,))])
    assert (report.primary_ip, report.primary_network) == ("10.100.0.3", "k8s-pod-network")
    pending = make_pod("pending", rails=(0,), phase="Pending")
    assert one([pending]).primary_ip is None
    pending["status"]["podIP"] = "10.100.7.7"
    assert one([pending]).primary_ip == "10.100.7.7"
