"""clusters.diagnose: for each rule, lab data that triggers it and lab data that does not.

The data are captures from the lab (tests/clusters/data, written by capture.py); a few rules are
triggered by a capture changed in one place (a plan that moved a rail, a network-status entry
removed), and TopologyAffinityError is crafted from a capture because labsim has no Topology
Manager.
"""

import copy
import json
from dataclasses import replace

import pytest

from clusters.diagnose import Diagnosis, diagnose
from clusters.inspect import inspect_pods
from planner import findings
from planner.planspec import ExclusionSpec
from planner.seed import seed_plan_spec
from tests.clusters.data import captures

NS = "ai-training"
STATUS = "k8s.v1.cni.cncf.io/network-status"


def run(name_or_record, *, plan="lab", with_nodes=True, with_nads=True, with_pools=True,
        with_devices=True):  # fmt: skip
    """Diagnose one capture the way a page would: with its nodes, NADs, IPPools and devices."""
    record = captures.load(name_or_record) if isinstance(name_or_record, str) else name_or_record
    return diagnose(
        record["pod"],
        record["events"],
        plan=captures.lab_plan() if plan == "lab" else plan,
        nodes=record["nodes"] if with_nodes else None,
        nads=record["nads"] if with_nads else None,
        ippools=record["ippools"] if with_pools else None,
        devices=record["devices"] if with_devices else None,
    )


def codes(found) -> set[str]:
    return {item.code for item in found}


def only(found, code: str) -> Diagnosis:
    matching = [item for item in found if item.code == code]
    assert len(matching) == 1, [item.code for item in found]
    return matching[0]


def first(found, code: str) -> Diagnosis:
    matching = [item for item in found if item.code == code]
    assert matching, [item.code for item in found]
    return matching[0]


def plan_with_rail(index: int, **changes):
    plan = captures.lab_plan()
    rails = [replace(rail, **changes) if rail.index == index else rail for rail in plan.rails]
    return replace(plan, rails=tuple(rails))


def inspect_one(record, plan=None, **kwargs):
    return inspect_pods(
        [record["pod"]],
        record["events"],
        plan or captures.lab_plan(),
        nodes=record["nodes"],
        nads=record["nads"],
        **kwargs,
    )[0]


def without_entry(record: dict, network: str) -> dict:
    annotations = record["pod"]["metadata"]["annotations"]
    entries = [e for e in json.loads(annotations[STATUS]) if e["name"] != network]
    annotations[STATUS] = json.dumps(entries)
    return record


def event(record: dict, reason: str, message: str, kind: str = "Warning") -> dict:
    copied = copy.deepcopy(record["events"][-1])
    copied.update(reason=reason, message=message, type=kind, count=2)
    copied["metadata"]["resourceVersion"] = "999999"
    return copied


def duplicate_pair():
    healthy = captures.load("healthy")
    twin = copy.deepcopy(healthy["pod"])
    twin["metadata"].update(name="training-worker-9", uid="uid-twin")
    reports = inspect_pods([healthy["pod"], twin], [], captures.lab_plan())
    return reports[0].findings


def image_pull_backoff():
    record = captures.load("nad_typo")
    record["events"] = [e for e in record["events"] if e["type"] == "Normal"]
    record["events"].append(event(record, "Failed", 'Failed to pull image "x": not found'))
    status = record["pod"]["status"]["containerStatuses"][0]
    status["state"] = {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling"}}
    return run(record)


def node_selector_mismatch():
    record = captures.load("unregistered_resource")
    message = "0/4 nodes are available: 4 node(s) didn't match Pod's node affinity/selector."
    record["events"] = [event(record, "FailedScheduling", message)]
    record["pod"]["status"]["conditions"][0]["message"] = message
    return run(record)


def all_vfs_taken():
    record = captures.load("unregistered_resource")
    record["nodes"] = captures.load("healthy")["nodes"]  # rail3_vf registered: 8 per node
    return run(record)


def vf_not_requested():
    record = captures.load("vf_pci_required")
    del record["pod"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/rail0_vf"]
    del record["pod"]["spec"]["containers"][0]["resources"]["requests"]["nvidia.com/rail0_vf"]
    return run(record)


def nad_without_resource_annotation():
    record = captures.load("vf_pci_required")
    for nad in record["nads"]:
        nad["annotations"] = {}
    return run(record, plan=None)


def without_sys_nice():
    record = captures.load("healthy")
    record["pod"]["spec"]["containers"][0]["securityContext"]["capabilities"]["add"] = ["IPC_LOCK"]
    return run(record)


def broken_annotation(key: str, value: str):
    record = captures.load("healthy")
    record["pod"]["metadata"]["annotations"][key] = value
    return run(record)


# code: (triggers, stays quiet), both on lab data
RULES = {
    "RESOURCE_NOT_ADVERTISED": (
        lambda: run("unregistered_resource"),
        lambda: run("unregistered_recovered"),
    ),
    "RESOURCE_INSUFFICIENT": (all_vfs_taken, lambda: run("unregistered_recovered")),
    "NAD_NOT_FOUND": (lambda: run("nad_typo"), lambda: run("healthy")),
    "IPC_LOCK_MISSING": (lambda: run("no_ipc_lock"), lambda: run("healthy")),
    "SYS_NICE_MISSING": (without_sys_nice, lambda: run("no_ipc_lock")),
    "VF_COUNT_MISMATCH": (lambda: run("vf_pci_required"), lambda: run("healthy")),
    "VF_RESOURCE_MISSING": (vf_not_requested, lambda: run("vf_pci_required")),
    "NAD_RESOURCE_ANNOTATION_MISSING": (
        nad_without_resource_annotation,
        lambda: run("vf_pci_required"),
    ),
    "RANGE_EXHAUSTED": (lambda: run("range_exhausted"), lambda: run("healthy")),
    "DEVICE_PLUGIN_NOT_READY": (lambda: run("admission_error"), lambda: run("healthy")),
    "TOPOLOGY_AFFINITY": (lambda: run("topology_affinity"), lambda: run("numa_aligned")),
    "NUMA_SPLIT": (lambda: run("numa_mismatch"), lambda: run("numa_aligned")),
    "NUMA_UNVERIFIED": (lambda: run("healthy", with_devices=False), lambda: run("healthy")),
    "INTERFACE_WRONG_SUBNET": (
        lambda: run("healthy", plan=plan_with_rail(2, subnet="10.62.0.0/16")),
        lambda: run("healthy"),
    ),
    "INTERFACE_MISSING": (
        lambda: run(without_entry(captures.load("healthy"), f"{NS}/sriov-rail-1")),
        lambda: run("healthy"),
    ),
    "INTERFACE_EXCLUDED_ADDRESS": (
        lambda: run(
            "healthy",
            plan=plan_with_rail(
                0,
                exclusions=(
                    ExclusionSpec(cidr="10.50.0.0/24"),
                    ExclusionSpec(cidr="10.50.1.0/28", purpose="reserved"),
                ),
            ),
        ),
        lambda: run("healthy"),
    ),
    "INTERFACE_OUTSIDE_RANGE": (
        lambda: run("healthy", plan=plan_with_rail(3, range_start="10.53.2.0")),
        lambda: run("healthy"),
    ),
    "INTERFACE_DUPLICATE_IP": (
        duplicate_pair,
        lambda: inspect_one(captures.load("healthy")).findings,
    ),
    "INTERFACE_WRONG_NAME": (lambda: run("default_names"), lambda: run("comma_form")),
    "NETWORK_STATUS_INVALID": (
        lambda: broken_annotation(STATUS, "[{"),
        lambda: run("healthy"),
    ),
    "NETWORKS_ANNOTATION_INVALID": (
        lambda: broken_annotation("k8s.v1.cni.cncf.io/networks", '[{"name": "sriov-rail-0"'),
        lambda: run("healthy"),
    ),
    "POD_NOT_RUNNING": (image_pull_backoff, lambda: run("nad_typo")),
    "NODE_SELECTOR_NO_MATCH": (node_selector_mismatch, lambda: run("unregistered_resource")),
}


def test_every_diagnosis_code_has_a_rule_test():
    assert set(RULES) >= findings.DIAGNOSIS_CODES
    assert set(RULES) <= set(findings.CODES)


@pytest.mark.parametrize("code", sorted(RULES))
def test_rule_triggers(code):
    trigger, _ = RULES[code]
    item = first(trigger(), code)
    assert item.message and item.fix and item.object.startswith("Pod ai-training/")
    assert item.evidence
    assert item.to_dict()["evidence"] == item.evidence


@pytest.mark.parametrize("code", sorted(RULES))
def test_rule_stays_quiet(code):
    _, quiet = RULES[code]
    assert code not in codes(quiet())


# --- the healthy pods ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["healthy", "comma_form", "numa_aligned", "unregistered_recovered"]
)
def test_healthy_pods_have_nothing_to_report(name):
    assert run(name) == []


def test_without_device_facts_the_numa_check_says_what_it_judged_from():
    """A real cluster's API tells which VFs a pod got (device-info in network-status) but not
    which GPUs: the check names the VFs' NUMA nodes and their source, and says the GPUs'
    alignment is unchecked, as an info finding (the pod stays ok)."""
    item = only(run("healthy", with_devices=False), "NUMA_UNVERIFIED")
    assert item.severity == "info"
    assert "net1 0000:18:00.2 (PF 0000:18:00.0) -> NUMA 0 from the plan's NIC inventory" in (
        item.message
    )
    assert "the Kubernetes API does not say which GPUs a pod got" in item.message
    assert item.evidence.endswith("GPU NUMA: not observable through the API")


def test_healthy_with_no_facts_at_all_has_nothing_to_report():
    record = captures.load("healthy")
    assert diagnose(record["pod"], record["events"]) == []


# --- each rule's words -----------------------------------------------------------------------------


def test_unregistered_resource_says_which_nodes_report_how_many():
    item = only(run("unregistered_resource"), "RESOURCE_NOT_ADVERTISED")
    assert item.severity == "error"
    assert "No node advertises nvidia.com/rail3_vf" in item.message
    assert "4 of 4 node(s) report 0: gpu-node-0, gpu-node-1, gpu-node-2, gpu-node-3" in item.message
    assert "SR-IOV device plugin" in item.fix
    assert item.evidence == (
        "Warning FailedScheduling: 0/4 nodes are available: 4 Insufficient nvidia.com/rail3_vf."
    )


def test_unregistered_resource_without_nodes_still_names_the_resource():
    item = only(run("unregistered_resource", with_nodes=False), "RESOURCE_NOT_ADVERTISED")
    assert "nvidia.com/rail3_vf" in item.message and "give the nodes" in item.message


def test_a_registered_resource_all_in_use_lists_the_advertising_nodes():
    item = only(all_vfs_taken(), "RESOURCE_INSUFFICIENT")
    assert "4 of 4 node(s) advertise nvidia.com/rail3_vf (gpu-node-0: 8," in item.message
    assert "taken by other pods (4 node(s) short)" in item.message


def test_nad_typo_did_you_mean_from_the_clusters_nads():
    item = only(run("nad_typo"), "NAD_NOT_FOUND")
    assert "NAD sriov-rial-1 in namespace ai-training (asked for as net2)" in item.message
    assert 'Did you mean "sriov-rail-1"? (the closest NAD name in the cluster)' in item.message
    assert 'Change "sriov-rial-1" to "sriov-rail-1"' in item.fix
    assert item.evidence.startswith("Warning NoNetworkFound: cannot find a network-attachment")
    assert item.field == 'metadata.annotations["k8s.v1.cni.cncf.io/networks"]'


def test_nad_typo_without_the_clusters_nads_uses_the_plans():
    item = only(run("nad_typo", with_nads=False), "NAD_NOT_FOUND")
    assert 'Did you mean "sriov-rail-1"? (the closest NAD name in the plan)' in item.message


def test_nad_in_another_namespace_says_so():
    record = captures.load("nad_typo")
    record["nads"].append({"namespace": "research", "name": "sriov-rial-1"})
    item = only(run(record), "NAD_NOT_FOUND")
    assert "exists in namespace research" in item.message
    assert '"namespace": "research"' in item.fix


def test_no_ipc_lock_says_ibv_devinfo_is_empty():
    item = only(run("no_ipc_lock"), "IPC_LOCK_MISSING")
    assert "ibv_devinfo" in item.message and "IPC_LOCK" in item.fix
    assert item.field == "spec.containers[0].securityContext.capabilities.add"
    assert item.evidence == "container trainer: capabilities.add = ['SYS_NICE']"


def test_a_privileged_container_needs_no_capabilities():
    record = captures.load("no_ipc_lock")
    record["pod"]["spec"]["containers"][0]["securityContext"]["privileged"] = True
    assert "IPC_LOCK_MISSING" not in codes(run(record))


def test_vf_pci_addr_required_counts_attachments_against_the_request():
    item = only(run("vf_pci_required"), "VF_COUNT_MISMATCH")
    assert "2 attachments use nvidia.com/rail0_vf (net1, net5) but the pod requests 1" in (
        item.message
    )
    assert "net5 gets none" in item.message
    assert item.fix.startswith("Request nvidia.com/rail0_vf: 2")
    assert "LoadConf(): VF pci addr is required" in item.evidence


def test_exhausted_range_gives_the_rails_utilisation_from_plan_and_ippool():
    item = only(run("range_exhausted"), "RANGE_EXHAUSTED")
    assert "rail 3 (sriov-rail-3, 10.53.0.0/16)" in item.message
    assert "65,279 of 65,279 pod addresses in use (100.0%" in item.message
    assert "IPPool 10.53.0.0-16 holds 65,534 allocation(s)" in item.message
    assert "net4 is never added" in item.message
    assert item.evidence == (
        "Could not allocate IP in range: ip: 10.53.0.1 / - 10.53.255.254 / range: "
        "10.53.0.0/16 / excludeRanges: [10.53.0.0/24]"
    )


def test_exhausted_range_without_plan_or_ippool_reads_the_event():
    item = only(run("range_exhausted", plan=None, with_pools=False), "RANGE_EXHAUSTED")
    assert "sriov-rail-3 (10.53.0.0/16)" in item.message
    assert "65,279 of 65,279 pod addresses in use (100.0%" in item.message
    assert "capacity from the event" in item.message


def test_exhausted_range_with_a_partly_used_ippool():
    record = captures.load("range_exhausted")
    for pool in record["ippools"]:
        if pool["range"] == "10.53.0.0/16":
            pool["allocations"] = 40000
    item = only(run(record), "RANGE_EXHAUSTED")
    assert "40,000 of 65,279 pod addresses in use (61.3%" in item.message


def test_admission_error_after_a_reboot_says_the_device_plugin_was_not_ready():
    item = only(run("admission_error"), "DEVICE_PLUGIN_NOT_READY")
    assert "kubelet on gpu-node-3 rejected the pod at admission" in item.message
    assert "no nvidia.com/rail3_vf device to hand out (requested 1, available 0)" in item.message
    assert "gpu-node-3 now advertises 0 nvidia.com/rail3_vf" in item.message
    assert "delete the pod" in item.fix
    assert item.evidence.startswith("Warning UnexpectedAdmissionError: Allocate failed")


def test_topology_affinity_names_the_numa_layout():
    item = only(run("topology_affinity"), "TOPOLOGY_AFFINITY")
    assert "Topology Manager on gpu-node-3 rejected the pod" in item.message
    assert "NUMA node 0 (rails 0, 1, 2, 3)" in item.message
    assert item.evidence == (
        "Warning TopologyAffinityError: Resources cannot be allocated with Topology locality"
    )


def test_numa_mismatch_says_throughput_is_half_with_the_observed_numa_nodes():
    item = only(run("numa_mismatch"), "NUMA_SPLIT")
    assert item.severity == "warning"
    assert "RDMA works but throughput is about half" in item.message
    assert "net1 (rail 0, NUMA 1, 0000:18:00.2)" in item.message
    assert "the pod's 4 GPU(s) (NUMA node 0)" in item.message
    assert (
        "net1 numa_node=1" in item.evidence and "GPU NUMA from the pod's devices" in item.evidence
    )


def test_numa_from_the_plan_and_the_nodes_gpu_layout():
    # A whole-node pod whose 4 rails the plan puts on NUMA node 1: GPUs span 0 and 1 -> fine.
    record = captures.load("healthy")
    record["devices"] = None
    nodes = [{"name": "gpu-node-0", "gpu_numa": {0: 4, 1: 4}, "allocatable": {}}]
    found = diagnose(record["pod"], record["events"], plan=captures.lab_plan(), nodes=nodes)
    assert "NUMA_SPLIT" not in codes(found)
    # The node's GPUs all on NUMA node 1, the rails on 0: every VF is remote.
    nodes[0]["gpu_numa"] = {1: 8}
    item = only(
        diagnose(record["pod"], record["events"], plan=captures.lab_plan(), nodes=nodes),
        "NUMA_SPLIT",
    )
    assert "GPU NUMA from the node (all its GPUs)" in item.evidence


def test_a_rail_in_the_wrong_subnet_says_which_rail_and_that_the_nad_differs():
    found = run("healthy", plan=plan_with_rail(2, subnet="10.62.0.0/16"))
    item = only(found, "INTERFACE_WRONG_SUBNET")
    assert item.message.startswith(
        "net3 (rail 2, sriov-rail-2) has 10.52.1.0, outside the rail's subnet 10.62.0.0/16"
    )
    assert "the cluster's NAD sriov-rail-2 allocates from 10.52.0.0/16" in item.message
    assert "Roll out the plan" in item.fix
    assert item.field == "interfaces.net3"


def test_a_missing_rail_on_a_running_pod_says_which_and_why():
    item = only(
        run(without_entry(captures.load("healthy"), f"{NS}/sriov-rail-1")), "INTERFACE_MISSING"
    )
    assert item.message.startswith("net2 (rail 1, sriov-rail-1) is not on the pod")
    assert "annotation changed after the pod started" in item.message


def test_an_excluded_address_names_the_exclusion_and_the_nads_exclude_list():
    plan = plan_with_rail(
        0,
        exclusions=(
            ExclusionSpec(cidr="10.50.0.0/24"),
            ExclusionSpec(cidr="10.50.1.0/28", purpose="reserved"),
        ),
    )
    item = only(run("healthy", plan=plan), "INTERFACE_EXCLUDED_ADDRESS")
    assert "has 10.50.1.0, which the plan excludes (10.50.1.0/28 (reserved))" in item.message
    assert (
        "the cluster's NAD sriov-rail-0 does not exclude it (its exclude list is 10.50.0.0/24): "
        "the plan's exclusion has not been rolled out to this cluster." in item.message
    )
    assert item.fix.startswith("Roll out the plan")


def test_an_excluded_address_the_nad_already_excludes_was_given_before_the_rollout():
    """Right after rolling the exclusion out, the pod still has its address: say that, not
    "not rolled out"."""
    plan = plan_with_rail(0, exclusions=(ExclusionSpec(cidr="10.50.1.0/28", purpose="reserved"),))
    record = copy.deepcopy(captures.load("healthy"))
    nad = next(nad for nad in record["nads"] if nad["name"] == "sriov-rail-0")
    config = json.loads(nad["config"])
    config["ipam"]["exclude"] = ["10.50.0.0/24", "10.50.1.5/28"]  # host bits, as whereabouts reads
    nad["config"] = json.dumps(config)
    item = only(run(record, plan=plan), "INTERFACE_EXCLUDED_ADDRESS")
    assert (
        "the cluster's NAD sriov-rail-0 already excludes it (10.50.1.5/28), so the exclusion was "
        "rolled out after the pod got this address" in item.message
    )
    assert "not been rolled out" not in item.message
    assert (
        item.fix == "Recreate the pod to get an address outside the exclusion; nothing to roll out."
    )


def test_a_duplicate_address_names_the_other_pod():
    found = [item for item in duplicate_pair() if item.severity != "info"]
    assert [item.field for item in found] == [f"interfaces.net{i}" for i in range(1, 5)]
    item = first(found, "INTERFACE_DUPLICATE_IP")
    assert "net1 (rail 0, sriov-rail-0) has 10.50.1.0" in item.message
    assert "ai-training/training-worker-9 net1 also hold(s)" in item.message
    assert item.severity == "error"


def test_wrong_names_come_from_default_position_naming():
    found = run("default_names")
    assert [item.code for item in found] == ["INTERFACE_WRONG_NAME"] * 2
    assert "Rail 2 (sriov-rail-2) is net1 in the pod; the plan calls it net3" in found[0].message
    assert "Multus called it by position" in found[0].message
    assert '"interface": "net3"' in found[0].fix


def test_old_events_of_a_pod_that_now_runs_are_history():
    record = captures.load("unregistered_recovered")
    assert any(e["reason"] == "FailedScheduling" for e in record["events"])
    assert run(record) == []


def test_diagnose_keeps_to_the_pods_own_events():
    record = captures.load("healthy")
    foreign = captures.load("nad_typo")["events"]
    assert run({**record, "events": record["events"] + foreign}) == []


def test_findings_come_errors_first_and_as_dicts():
    record = captures.load("no_ipc_lock")
    record["pod"]["spec"]["containers"][0]["securityContext"]["capabilities"]["add"] = []
    found = run(record, plan=plan_with_rail(0, subnet="10.60.0.0/16"))
    assert [item.severity for item in found] == ["error", "error", "warning"]
    assert isinstance(found[0], findings.Finding)
    assert set(found[0].to_dict()) == {
        "code", "severity", "object", "field", "message", "fix", "evidence"
    }  # fmt: skip


def test_interfaces_may_be_passed_as_dicts_from_a_report():
    record = captures.load("default_names")
    report = inspect_one(record)
    dicts = [item.to_dict() for item in report.interfaces]
    found = diagnose(record["pod"], record["events"], plan=captures.lab_plan(), interfaces=dicts)
    assert codes(found) == {"INTERFACE_WRONG_NAME"}


def test_seed_plan_with_other_pci_addresses_still_diagnoses_the_lab():
    assert run("healthy", plan=seed_plan_spec()) == []
    assert codes(run("nad_typo", plan=seed_plan_spec())) == {"NAD_NOT_FOUND"}


def test_a_kubelet_out_of_resource_rejection_is_read_like_the_schedulers():
    record = captures.load("admission_error")
    record["events"] = record["events"][:1]  # only Scheduled
    record["pod"]["status"].update(
        reason="OutOfnvidia.com/rail3_vf",
        message="Node didn't have enough resource: nvidia.com/rail3_vf, requested: 1, used: 0, "
        "capacity: 0",
    )
    found = run(record)
    assert codes(found) == {"RESOURCE_NOT_ADVERTISED"}
    assert found[0].message.startswith(
        "The kubelet on gpu-node-3 refused the pod: gpu-node-3 advertises 0 nvidia.com/rail3_vf; "
        "3 other node(s) do (gpu-node-0: 8, gpu-node-1: 8, gpu-node-2: 8)."
    )
    assert found[0].evidence.startswith("OutOfnvidia.com/rail3_vf: Node didn't have enough")


def test_a_pod_still_starting_has_nothing_to_report():
    record = captures.load("nad_typo")
    record["events"] = record["events"][:1]  # Scheduled, the sandbox not tried yet
    assert run(record) == []


def test_every_capture_is_there_and_says_what_it_shows():
    for name in captures.SCENARIOS:
        record = captures.load(name)
        assert record["scenario"] == name and record["note"]
        assert record["pod"]["metadata"]["namespace"] == NS
        assert record["nodes"] and record["nads"] and record["events"]
    assert captures.load("topology_affinity")["crafted"] is True
