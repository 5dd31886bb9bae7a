"""Preflight rules: for each finding code, an input that triggers it and one that does not."""

import json
from collections.abc import Callable
from dataclasses import replace

import pytest

from planner import findings, manifests, preflight
from planner.planspec import ExclusionSpec, PlanSpec
from planner.preflight import ClusterFacts
from planner.seed import seed_plan_spec

NS = "ai-training"


# --- builders -----------------------------------------------------------------------------------


def seed() -> PlanSpec:
    return seed_plan_spec()


def with_rail(plan: PlanSpec, index: int, **changes) -> PlanSpec:
    rails = tuple(replace(rail, **changes) if rail.index == index else rail for rail in plan.rails)
    return replace(plan, rails=rails)


def nad(
    name="sriov-rail-0",
    namespace=NS,
    resource="nvidia.com/rail0_vf",
    cni_type="sriov",
    annotations=None,
    config: dict | str | None = None,
    **ipam,
) -> dict:
    if config is None:
        config = {
            "cniVersion": "0.3.1",
            "type": cni_type,
            "name": name,
            "ipam": {"type": "whereabouts", "range": "10.50.0.0/16", **ipam},
        }
    metadata = {"name": name, "namespace": namespace}
    all_annotations = dict(annotations or {})
    if resource:
        all_annotations["k8s.v1.cni.cncf.io/resourceName"] = resource
    if all_annotations:
        metadata["annotations"] = all_annotations
    text = config if isinstance(config, str) else json.dumps(config)
    return {
        "apiVersion": "k8s.cni.cncf.io/v1",
        "kind": "NetworkAttachmentDefinition",
        "metadata": metadata,
        "spec": {"config": text},
    }


def pod(
    networks=(("sriov-rail-0", "net1"),),
    limits=None,
    caps=("IPC_LOCK", "SYS_NICE"),
    name="worker-0",
    namespace=NS,
    annotation=None,
    node_selector=None,
    privileged=False,
) -> dict:
    if annotation is None:
        annotation = json.dumps([{"name": n, "interface": i} for n, i in networks])
    if limits is None:
        limits = {"nvidia.com/gpu": "8"}
        for network, _ in networks:
            index = network.rsplit("-", 1)[-1]
            limits[f"nvidia.com/rail{index}_vf"] = "1"
    security = {"capabilities": {"add": list(caps)}}
    if privileged:
        security["privileged"] = True
    spec = {
        "containers": [
            {
                "name": "trainer",
                "image": "x",
                "resources": {"limits": limits},
                "securityContext": security,
            }
        ]
    }
    if node_selector:
        spec["nodeSelector"] = node_selector
    metadata = {"name": name, "namespace": namespace}
    if annotation:
        metadata["annotations"] = {"k8s.v1.cni.cncf.io/networks": annotation}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def seed_nads() -> list[dict]:
    return manifests.render_nads(seed())


def facts_for(nodes=2, vfs=8, gpus=8, **extra) -> dict:
    allocatable = {"nvidia.com/gpu": str(gpus)}
    allocatable.update({f"nvidia.com/rail{i}_vf": str(vfs) for i in range(8)})
    return {
        "nodes": [
            {"name": f"gpu-node-{n}", "allocatable": dict(allocatable), "labels": {"pool": "a"}}
            for n in range(nodes)
        ],
        **extra,
    }


def codes(found) -> set[str]:
    return {item.code for item in found}


def only(found, code):
    matches = [item for item in found if item.code == code]
    assert matches, f"{code} not in {codes(found)}"
    return matches[0]


# --- one trigger and one quiet case per code -----------------------------------------------------


Run = Callable[[], list]


def _plan_with(**changes) -> Run:
    return lambda: preflight.check_plan(replace(seed(), **changes))


def _rail_with(index=0, **changes) -> Run:
    return lambda: preflight.check_plan(with_rail(seed(), index, **changes))


def _objects(*objects, plan=None, facts=None) -> Run:
    return lambda: preflight.run(list(objects), plan=plan, facts=facts)


EIGHT_RAIL_POD = pod(networks=[(f"sriov-rail-{i}", f"net{i + 1}") for i in range(8)])
SMALL_NUMA_POD = pod(networks=[(f"sriov-rail-{i}", f"net{i + 1}") for i in range(4)], limits=None)
SMALL_NUMA_POD["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] = "4"
SPLIT_NUMA_POD = pod(networks=[("sriov-rail-0", "net1"), ("sriov-rail-4", "net2")])
SPLIT_NUMA_POD["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] = "2"
OWNED = {
    "sriovnetwork.openshift.io/owner-ref": "SriovNetwork.sriovnetwork.openshift.io/op/sriov-rail-0"
}
SRIOV_NETWORK = {
    "apiVersion": "sriovnetwork.openshift.io/v1",
    "kind": "SriovNetwork",
    "metadata": {"name": "sriov-rail-0", "namespace": "sriov-network-operator"},
    "spec": {"resourceName": "rail0_vf", "networkNamespace": NS, "metaPlugins": '{"type": "rdma"}'},
}
POLICY = {
    "apiVersion": "sriovnetwork.openshift.io/v1",
    "kind": "SriovNetworkNodePolicy",
    "metadata": {"name": "rail0", "namespace": "sriov-network-operator"},
    "spec": {"resourceName": "rail0_vf", "numVfs": 8, "nicSelector": {"pfNames": ["ens1f0np0"]}},
}


def _bad_policy():
    policy = json.loads(json.dumps(POLICY))
    policy["spec"]["nicSelector"] = {"pfName": ["ens1f0np0"]}
    return policy


def _nodes_without_rail(rail: int):
    return tuple(
        replace(node, nics=tuple(nic for nic in node.nics if nic.rail_index != rail))
        if position == 1
        else node
        for position, node in enumerate(seed().nodes)
    )


def _nodes_with_vfs(counts):
    return tuple(
        replace(node, nics=tuple(replace(nic, vf_count=count) for nic in node.nics))
        for node, count in zip(seed().nodes, counts, strict=True)
    )


RULES: dict[str, tuple[Run, Run]] = {
    "OBJECT_MALFORMED": (
        _objects(nad(), {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}, "spec": 5}),
        _objects(nad(), pod()),
    ),
    "NAD_NOT_FOUND": (
        _objects(
            *seed_nads(),
            pod(networks=[("sriov-rail0", "net1")], limits={"nvidia.com/rail0_vf": "1"}),
        ),
        _objects(*seed_nads(), pod()),
    ),
    "NAD_UNVERIFIED": (_objects(pod()), _objects(nad(), pod())),
    "NAD_NAME_DUPLICATE": (
        _objects(nad(), nad()),
        _objects(
            nad(), nad(name="sriov-rail-1", resource="nvidia.com/rail1_vf", range="10.51.0.0/16")
        ),
    ),
    "NAD_CONFIG_INVALID": (_objects(nad(config="{not json")), _objects(nad())),
    "NAD_RESOURCE_ANNOTATION_MISSING": (
        _objects(nad(resource=None)),
        _objects(nad(resource=None, cni_type="macvlan")),
    ),
    "NETWORKS_ANNOTATION_INVALID": (
        _objects(nad(), pod(annotation='[{"name": "sriov-rail-0"')),
        _objects(nad(), pod(annotation="sriov-rail-0@net1")),
    ),
    "SRIOV_OPERATOR_CONFLICT": (
        _objects(
            nad(), facts={"nads": [{"namespace": NS, "name": "sriov-rail-0", "annotations": OWNED}]}
        ),
        _objects(
            nad(), facts={"nads": [{"namespace": NS, "name": "sriov-rail-0", "annotations": {}}]}
        ),
    ),
    "SRIOV_FIELD_UNKNOWN": (_objects(_bad_policy()), _objects(POLICY, SRIOV_NETWORK)),
    "IPC_LOCK_MISSING": (
        _objects(nad(), pod(caps=("SYS_NICE",))),
        _objects(nad(), pod(caps=("CAP_IPC_LOCK", "SYS_NICE"))),
    ),
    "SYS_NICE_MISSING": (
        _objects(nad(), pod(caps=("IPC_LOCK",))),
        _objects(nad(), pod(privileged=True, caps=())),
    ),
    "VF_RESOURCE_MISSING": (
        _objects(nad(), pod(limits={"nvidia.com/gpu": "8"})),
        _objects(nad(), pod(limits={"nvidia.com/rail0_vf": "1"})),
    ),
    "VF_COUNT_MISMATCH": (
        _objects(
            nad(),
            nad(name="second", resource="nvidia.com/rail0_vf", range="10.51.0.0/16"),
            pod(
                networks=[("sriov-rail-0", "net1"), ("second", "net2")],
                limits={"nvidia.com/rail0_vf": 1},
            ),
        ),
        _objects(
            nad(),
            nad(name="second", resource="nvidia.com/rail0_vf", range="10.51.0.0/16"),
            pod(
                networks=[("sriov-rail-0", "net1"), ("second", "net2")],
                limits={"nvidia.com/rail0_vf": 2},
            ),
        ),
    ),
    "VF_RESOURCE_UNUSED": (
        _objects(
            *seed_nads(), pod(limits={"nvidia.com/rail0_vf": "1", "nvidia.com/rail1_vf": "1"})
        ),
        _objects(*seed_nads(), pod(limits={"nvidia.com/rail0_vf": "1", "example.com/fpga": "1"})),
    ),
    "RESOURCE_NOT_ADVERTISED": (
        _objects(
            nad(),
            pod(limits={"nvidia.com/rail0_vf": "1", "nvidia.com/gpu": "1"}),
            facts={
                "nodes": [
                    {
                        "name": "n",
                        "allocatable": {"nvidia.com/gpu": "8", "nvidia.com/rail0_vf": "0"},
                    }
                ]
            },
        ),
        _objects(nad(), pod(), facts=facts_for(nodes=1)),
    ),
    # A cluster known to have no nodes (facts nodes=[]): said, not skipped; unknown nodes: quiet.
    "RESOURCES_UNVERIFIED": (
        _objects(nad(), pod(), facts={"nodes": []}),
        _objects(nad(), pod(), facts={"nodes": None}),
    ),
    "RESOURCE_TOO_FEW_NODES": (
        _objects(
            *seed_nads(),
            *manifests.render_pod_templates(seed()),
            plan=seed(),
            facts=facts_for(nodes=3),
        ),
        _objects(
            *seed_nads(),
            *manifests.render_pod_templates(seed()),
            plan=seed(),
            facts=facts_for(nodes=4),
        ),
    ),
    "NODE_SELECTOR_NO_MATCH": (
        _objects(nad(), pod(node_selector={"pool": "b"}), facts=facts_for()),
        _objects(nad(), pod(node_selector={"pool": "a"}), facts=facts_for()),
    ),
    "NUMA_SPLIT": (
        _objects(*seed_nads(), EIGHT_RAIL_POD, plan=seed()),
        _objects(*seed_nads(), SMALL_NUMA_POD, plan=seed()),
    ),
    "RAIL_OVERLAP": (_rail_with(1, subnet="10.50.128.0/17"), _rail_with(1, subnet="10.58.0.0/16")),
    "RAIL_OVERLAPS_POD_CIDR": (
        _plan_with(pod_cidr="10.48.0.0/14"),
        _plan_with(pod_cidr="10.96.0.0/16"),
    ),
    "RAIL_OVERLAPS_SERVICE_CIDR": (
        _plan_with(service_cidr="10.57.0.0/24"),
        _plan_with(service_cidr="10.96.0.0/16"),
    ),
    "POD_RANGE_TOO_SMALL": (
        _rail_with(
            0,
            subnet="10.50.0.0/29",
            exclusions=(ExclusionSpec(start="10.50.0.1", end="10.50.0.3"),),
        ),
        _rail_with(
            0,
            subnet="10.50.0.0/29",
            exclusions=(ExclusionSpec(start="10.50.0.1", end="10.50.0.2"),),
        ),
    ),
    "RANGE_PREFIX_TOO_LONG": (
        _rail_with(0, subnet="10.50.0.0/31", exclusions=()),
        _rail_with(0, subnet="10.50.0.0/30", exclusions=()),
    ),
    "RANGE_BOUNDS_IGNORED": (
        _rail_with(0, range_start="10.60.0.10"),
        _rail_with(0, range_start="10.50.1.10"),
    ),
    "EXCLUSION_OUTSIDE_RANGE": (
        _rail_with(0, exclusions=(ExclusionSpec(cidr="10.51.0.0/24"),)),
        _rail_with(0, exclusions=(ExclusionSpec(cidr="10.50.9.0/24"),)),
    ),
    "GATEWAY_NOT_EXCLUDED": (
        _objects(nad(gateway="10.50.1.1")),
        _objects(nad(gateway="10.50.1.1", exclude=["10.50.1.1"])),
    ),
    "GATEWAY_OUTSIDE_SUBNET": (
        _rail_with(0, gateway="10.51.0.1"),
        _rail_with(0, gateway="10.50.0.1"),
    ),
    "IPAM_INVALID": (
        _objects(nad(range="10.50.0.0/33")),
        _objects(nad(range="10.50.1.10-10.50.1.20/16")),
    ),
    "VLAN_INVALID": (_rail_with(0, vlan=5000), _rail_with(0, vlan=4094)),
    "IFNAME_TOO_LONG": (
        _rail_with(0, interface_name="rail0-verylongname"),
        _rail_with(0, interface_name="rail0-long-ok12"),
    ),
    "IFNAME_DUPLICATE": (
        _rail_with(0, interface_name="net2"),
        _rail_with(0, interface_name="net9"),
    ),
    "IFNAME_RESERVED": (_rail_with(0, interface_name="eth0"), _rail_with(0, interface_name="eth1")),
    "IFNAME_INVALID": (
        _objects(nad(), pod(networks=[("sriov-rail-0", "net 1")])),
        _objects(nad(), pod()),
    ),
    "NAME_NOT_DNS1123": (
        _rail_with(0, nad_name="Sriov_Rail_0"),
        _rail_with(0, nad_name="sriov-rail-zero"),
    ),
    "RESOURCE_NAME_INVALID": (
        _rail_with(0, resource_name="nvidia.com/rail 0"),
        _rail_with(0, resource_name="nvidia.com/rail0_vf"),
    ),
    "RESOURCE_NAME_HYPHEN": (
        _rail_with(0, resource_name="nvidia.com/rail0-vf"),
        _rail_with(0, resource_name="nvidia.com/rail0_vf"),
    ),
    "RESOURCE_SHARED_BY_RAILS": (
        _rail_with(1, resource_name="nvidia.com/rail0_vf"),
        _rail_with(1, resource_name="nvidia.com/rail1_vf"),
    ),
    "NIC_MISSING": (_plan_with(nodes=_nodes_without_rail(3)), _plan_with(nodes=())),
    "NIC_VF_COUNT_UNEVEN": (
        _plan_with(nodes=_nodes_with_vfs((8, 8, 4, 8))),
        _plan_with(nodes=_nodes_with_vfs((4, 4, 4, 4))),
    ),
    "CNI_OPTION_INVALID": (
        _plan_with(cni_options={"vlanQos": 3}),
        _plan_with(cni_options={"vlan_qos": 3}),
    ),
    "POD_OPTION_INVALID": (
        _plan_with(pod_options={"layout": "per-gpu"}),
        _plan_with(pod_options={"layout": "per-numa"}),
    ),
    "ROCE_DSCP_TRUST": (_plan_with(cni_type="sriov"), _plan_with(cni_type="ib-sriov")),
}


def test_every_registered_code_has_a_rule_test():
    assert set(RULES) == set(findings.CODES) - findings.DIAGNOSIS_CODES - findings.ROLLOUT_CODES


@pytest.mark.parametrize("code", sorted(RULES))
def test_rule_triggers(code):
    trigger, _ = RULES[code]
    found = trigger()
    item = only(found, code)
    assert item.message and item.fix and item.object
    assert item.severity in findings.SEVERITIES


@pytest.mark.parametrize("code", sorted(RULES))
def test_rule_stays_quiet(code):
    _, quiet = RULES[code]
    assert code not in codes(quiet())


# --- the seed -----------------------------------------------------------------------------------


def test_the_seed_plan_and_bundle_have_no_errors():
    plan = seed()
    assert codes(preflight.check_plan(plan)) == {"ROCE_DSCP_TRUST"}
    found = preflight.check_rendered(plan)
    assert codes(found) == {"ROCE_DSCP_TRUST", "NUMA_SPLIT"}
    assert not findings.has_errors(found)
    per_numa = preflight.check_rendered(plan, pod_options={"layout": "per-numa"})
    assert codes(per_numa) == {"ROCE_DSCP_TRUST"}


def test_seed_nads_and_pod_without_a_plan_only_remind_about_dscp():
    found = preflight.run(seed_nads() + manifests.render_pod(seed()))
    assert [item.code for item in found] == ["ROCE_DSCP_TRUST"]


def test_check_rendered_reports_each_plan_problem_once():
    plan = replace(seed(), pod_cidr="10.50.0.0/16")
    found = preflight.check_rendered(plan)
    overlaps = [item for item in found if item.code == "RAIL_OVERLAPS_POD_CIDR"]
    assert [item.object for item in overlaps] == ["rail 0 (sriov-rail-0)"]


def test_check_rendered_turns_render_errors_into_findings():
    found = preflight.check_rendered(seed(), pod_options={"layout": "per-gpu"})
    assert only(found, "POD_OPTION_INVALID").severity == "error"


# --- details of particular rules ----------------------------------------------------------------


def test_nad_not_found_suggests_the_closest_name_and_names_the_field():
    found = RULES["NAD_NOT_FOUND"][0]()
    item = only(found, "NAD_NOT_FOUND")
    assert item.severity == "error"
    assert 'Did you mean "sriov-rail-0"?' in item.message
    assert item.object == "Pod ai-training/worker-0"
    assert item.field == 'metadata.annotations["k8s.v1.cni.cncf.io/networks"]'
    assert item.to_dict() == {
        "code": "NAD_NOT_FOUND",
        "severity": "error",
        "object": "Pod ai-training/worker-0",
        "field": item.field,
        "message": item.message,
        "fix": 'Use "sriov-rail-0"',
    }


def test_nad_in_another_namespace_says_which():
    found = preflight.run([nad(namespace="rails"), pod()])
    item = only(found, "NAD_NOT_FOUND")
    assert "but in rails" in item.message
    assert '"namespace": "rails"' in item.fix
    assert "NAD_NOT_FOUND" not in codes(
        preflight.run(
            [
                nad(namespace="rails"),
                pod(annotation='[{"name": "sriov-rail-0", "namespace": "rails"}]'),
            ]
        )
    )


def test_plan_nads_and_cluster_nads_count_as_existing():
    assert "NAD_NOT_FOUND" not in codes(preflight.run([pod()], plan=seed()))
    existing = {
        "nads": [
            {
                "namespace": NS,
                "name": "sriov-rail-0",
                "annotations": {"k8s.v1.cni.cncf.io/resourceName": "nvidia.com/rail0_vf"},
            }
        ]
    }
    assert "NAD_NOT_FOUND" not in codes(preflight.run([pod()], facts=existing))
    assert "NAD_NOT_FOUND" in codes(preflight.run([pod()], facts={"nads": []}))


def test_pod_templates_in_every_workload_kind_are_checked_at_their_path():
    template = {"metadata": pod(caps=())["metadata"], "spec": pod(caps=())["spec"]}
    workloads = {
        "Deployment": ("apps/v1", {"replicas": 2, "template": template}, "spec.template."),
        "StatefulSet": ("apps/v1", {"template": template}, "spec.template."),
        "DaemonSet": ("apps/v1", {"template": template}, "spec.template."),
        "Job": ("batch/v1", {"template": template}, "spec.template."),
        "CronJob": (
            "batch/v1",
            {"jobTemplate": {"spec": {"template": template}}},
            "spec.jobTemplate.spec.template.",
        ),
    }
    for kind, (api, spec, base) in workloads.items():
        obj = {
            "apiVersion": api,
            "kind": kind,
            "metadata": {"name": "w", "namespace": NS},
            "spec": spec,
        }
        item = only(preflight.run([nad(), obj]), "IPC_LOCK_MISSING")
        assert item.object == f"{kind} ai-training/w"
        assert item.field == f"{base}spec.containers[0].securityContext.capabilities.add"
    template_obj = {
        "apiVersion": "v1",
        "kind": "PodTemplate",
        "metadata": {"name": "t", "namespace": NS},
        "template": template,
    }
    assert only(preflight.run([nad(), template_obj]), "IPC_LOCK_MISSING").field.startswith(
        "template.spec."
    )


def test_comma_form_annotation_is_parsed_like_multus():
    attachments = preflight.parse_networks_annotation("sriov-rail-0@net1, other/sriov-rail-1")
    assert attachments == [
        {"name": "sriov-rail-0", "namespace": None, "interface": "net1", "position": 0},
        {"name": "sriov-rail-1", "namespace": "other", "interface": None, "position": 1},
    ]
    with pytest.raises(ValueError, match="namespace"):
        preflight.parse_networks_annotation('[{"name": "ns/sriov-rail-0"}]')


def test_implicit_interface_names_count_for_duplicates():
    found = preflight.run(
        [
            nad(),
            nad(name="b", range="10.51.0.0/16"),
            pod(
                annotation='[{"name": "sriov-rail-0"}, {"name": "b", "interface": "net1"}]',
                limits={"nvidia.com/rail0_vf": "2"},
            ),
        ]
    )
    assert "IFNAME_DUPLICATE" in codes(found)


def test_vf_count_mismatch_is_an_error_when_short_and_a_warning_when_extra():
    short = only(RULES["VF_COUNT_MISMATCH"][0](), "VF_COUNT_MISMATCH")
    assert short.severity == "error" and "VF pci addr is required" in short.message
    extra = only(
        preflight.run([nad(), pod(limits={"nvidia.com/rail0_vf": "3"})]), "VF_COUNT_MISMATCH"
    )
    assert extra.severity == "warning"
    assert extra.field == 'spec.containers[0].resources.limits["nvidia.com/rail0_vf"]'


def test_vf_resource_missing_quotes_the_sriov_cni_error():
    item = only(RULES["VF_RESOURCE_MISSING"][0](), "VF_RESOURCE_MISSING")
    assert "LoadConf(): VF pci addr is required" in item.message
    assert item.fix == "Add nvidia.com/rail0_vf: 1 to resources.limits."


def test_ipc_lock_message_explains_the_symptom():
    item = only(RULES["IPC_LOCK_MISSING"][0](), "IPC_LOCK_MISSING")
    assert "ibv_devinfo" in item.message and item.severity == "error"
    assert only(RULES["SYS_NICE_MISSING"][0](), "SYS_NICE_MISSING").severity == "warning"


def test_a_pod_without_rails_needs_no_capabilities():
    plain = pod(annotation="", limits={"cpu": "1"}, caps=())
    assert codes(preflight.run([nad(), plain])) & {"IPC_LOCK_MISSING", "SYS_NICE_MISSING"} == set()


def test_resource_not_advertised_names_the_resource():
    item = only(RULES["RESOURCE_NOT_ADVERTISED"][0](), "RESOURCE_NOT_ADVERTISED")
    assert "nvidia.com/rail0_vf" in item.message and "ContainerCreating" in item.message


def test_too_few_nodes_gives_the_counts():
    item = only(RULES["RESOURCE_TOO_FEW_NODES"][0](), "RESOURCE_TOO_FEW_NODES")
    assert "4 replica(s) wanted, but only 3 of 3 node(s) can fit one" in item.message
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "namespace": NS},
        "spec": {"replicas": 3, "template": {"metadata": pod()["metadata"], "spec": pod()["spec"]}},
    }
    # One node with 16 GPUs fits two 8-GPU pods; three replicas need more.
    facts = {
        "nodes": [
            {"name": "big", "allocatable": {"nvidia.com/gpu": "16", "nvidia.com/rail0_vf": "8"}}
        ]
    }
    assert (
        "room for 2 pod(s)"
        in only(preflight.run([nad(), deployment], facts=facts), "RESOURCE_TOO_FEW_NODES").message
    )


def test_node_selector_matches_hostname_without_labels():
    facts = {
        "nodes": [
            {
                "name": "gpu-node-0",
                "allocatable": {"nvidia.com/gpu": "8", "nvidia.com/rail0_vf": "8"},
            }
        ]
    }
    pinned = pod(node_selector={"kubernetes.io/hostname": "gpu-node-0"})
    assert (
        codes(preflight.run([nad(), pinned], facts=facts))
        & {"NODE_SELECTOR_NO_MATCH", "RESOURCE_TOO_FEW_NODES"}
        == set()
    )


def test_numa_split_explains_single_numa_node_and_is_an_error_under_it():
    item = only(RULES["NUMA_SPLIT"][0](), "NUMA_SPLIT")
    assert item.severity == "warning"
    assert "throughput can halve" in item.message
    assert "single-numa-node" in item.message and "8 GPUs + 8 rails" in item.message
    strict = preflight.run(
        [*seed_nads(), EIGHT_RAIL_POD], plan=seed(), facts={"topology_policy": "single-numa-node"}
    )
    assert only(strict, "NUMA_SPLIT").severity == "error"


def test_numa_split_for_rails_on_two_sockets_even_with_few_gpus():
    item = only(preflight.run([*seed_nads(), SPLIT_NUMA_POD], plan=seed()), "NUMA_SPLIT")
    assert "NUMA nodes 0, 1" in item.message


def test_numa_from_cluster_facts_by_resource_or_rail_index():
    aligned = {
        "nic_numa": {"n1": {"nvidia.com/rail0_vf": 0, "4": 0}},
        "gpu_numa": {"n1": {"0": 4, "1": 4}},
    }
    assert "NUMA_SPLIT" not in codes(
        preflight.run([*seed_nads(), SPLIT_NUMA_POD], plan=seed(), facts=aligned)
    )
    split = {
        "nic_numa": {"n1": {"nvidia.com/rail0_vf": 0, "4": 1}},
        "gpu_numa": {"n1": {"0": 4, "1": 4}},
    }
    assert "NUMA_SPLIT" in codes(
        preflight.run([*seed_nads(), SPLIT_NUMA_POD], plan=seed(), facts=split)
    )
    few_gpus = {
        "nic_numa": {"n1": {"nvidia.com/rail0_vf": 0, "nvidia.com/rail4_vf": 0}},
        "gpu_numa": {"n1": {"0": 1, "1": 7}},
    }
    item = only(
        preflight.run([*seed_nads(), SPLIT_NUMA_POD], plan=seed(), facts=few_gpus), "NUMA_SPLIT"
    )
    assert "NUMA node 0, where its VFs sit, has 1 GPU(s)" in item.message


def test_overlapping_nads_in_pasted_yaml():
    found = preflight.run([nad(), nad(name="b", range="10.50.128.0/17")])
    item = only(found, "RAIL_OVERLAP")
    assert "10.50.128.0/17" in item.message and item.field == "spec.config.ipam.range"
    overlaps_pod_cidr = preflight.run(
        [nad(range="10.100.0.0/24")], facts={"pod_cidr": "10.100.0.0/16"}
    )
    assert "RAIL_OVERLAPS_POD_CIDR" in codes(overlaps_pod_cidr)


def test_pod_range_too_small_for_the_pods_that_attach_a_nad():
    small = nad(range="10.50.0.0/30")
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "namespace": NS},
        "spec": {"replicas": 3, "template": {"metadata": pod()["metadata"], "spec": pod()["spec"]}},
    }
    item = only(preflight.run([small, deployment]), "POD_RANGE_TOO_SMALL")
    assert "holds 2 addresses" in item.message and "3 pods" in item.message
    deployment["spec"]["replicas"] = 2
    assert "POD_RANGE_TOO_SMALL" not in codes(preflight.run([small, deployment]))


def test_range_prefix_too_long_on_a_pasted_nad():
    item = only(preflight.run([nad(range="10.50.0.0/32")]), "RANGE_PREFIX_TOO_LONG")
    assert item.field == "spec.config.ipam.range"


def test_gateway_rules_on_pasted_nads():
    item = only(RULES["GATEWAY_NOT_EXCLUDED"][0](), "GATEWAY_NOT_EXCLUDED")
    assert '"10.50.1.1/32"' in item.fix and item.field == "spec.config.ipam.gateway"
    before_range = nad(gateway="10.50.0.1", range_start="10.50.1.0")
    assert "GATEWAY_NOT_EXCLUDED" not in codes(preflight.run([before_range]))
    plan_gateway = with_rail(seed(), 0, gateway="10.50.1.1")
    assert "GATEWAY_NOT_EXCLUDED" not in codes(
        preflight.check_plan(plan_gateway)
    )  # rendering excludes it


def test_exclusions_outside_a_pasted_nad_range():
    item = only(
        preflight.run([nad(exclude=["10.60.0.0/24", "10.50.0.1"])]), "EXCLUSION_OUTSIDE_RANGE"
    )
    assert item.field == "spec.config.ipam.exclude[0]"


def test_sriov_network_in_the_input_owns_its_nad():
    found = preflight.run([SRIOV_NETWORK, nad()])
    assert "SRIOV_OPERATOR_CONFLICT" in codes(found)
    owned_pod = preflight.run([SRIOV_NETWORK, pod()], facts={"sriov_resource_prefix": "nvidia.com"})
    assert codes(owned_pod) & {"NAD_NOT_FOUND", "VF_RESOURCE_MISSING"} == set()


def test_meta_plugins_config_misspelling_is_caught():
    network = json.loads(json.dumps(SRIOV_NETWORK))
    network["spec"]["metaPluginsConfig"] = network["spec"].pop("metaPlugins")
    item = only(preflight.run([network]), "SRIOV_FIELD_UNKNOWN")
    assert item.field == "spec.metaPluginsConfig" and item.severity == "error"


def test_policy_fields_that_belong_to_the_network_are_warnings():
    policy = json.loads(json.dumps(POLICY))
    policy["spec"]["trust"] = "on"
    item = only(preflight.run([policy]), "SRIOV_FIELD_UNKNOWN")
    assert (item.field, item.severity) == ("spec.trust", "warning")


def test_roce_reminder_is_info_and_mentions_mlnx_qos():
    item = only(preflight.check_plan(seed()), "ROCE_DSCP_TRUST")
    assert item.severity == "info" and "mlnx_qos" in item.fix and "--trust dscp" in item.fix
    ib = preflight.run([nad(cni_type="ib-sriov")])
    assert "ROCE_DSCP_TRUST" not in codes(ib)


def test_findings_are_sorted_errors_first():
    found = preflight.run([nad(), pod(caps=())])
    severities = [item.severity for item in found]
    assert severities == sorted(severities, key=findings.SEVERITIES.index)
    assert severities[0] == "error" and "warning" in severities


def test_cluster_facts_from_a_dict_reject_unknown_keys():
    assert ClusterFacts.coerce({"topology_policy": "none"}).topology_policy == "none"
    with pytest.raises(ValueError, match="nodez"):
        ClusterFacts.coerce({"nodez": []})


def test_quantities():
    assert preflight.quantity("8") == 8
    assert preflight.quantity(2) == 2
    assert preflight.quantity("500m") == 0.5
    assert preflight.quantity("1Gi") == 2**30
    assert preflight.quantity("lots") is None


def test_finding_codes_are_registered():
    with pytest.raises(findings.UnknownCode):
        findings.finding("NOT_A_CODE", "x", "", "m", "f")
    assert all(code.severity in findings.SEVERITIES for code in findings.CODES.values())
    assert all(name == code.code and name.isupper() for name, code in findings.CODES.items())


def test_check_rendered_reports_a_bad_plan_option_once_and_rejects_unknown_modes():
    plan = replace(seed(), pod_options={"layout": "per-gpu"})
    found = preflight.check_rendered(plan)
    assert [item.code for item in found].count("POD_OPTION_INVALID") == 1
    with pytest.raises(manifests.ManifestError, match="mode"):
        preflight.check_rendered(seed(), mode="helm")


def test_check_rendered_with_facts_checks_the_pod_templates():
    found = preflight.check_rendered(seed(), facts=facts_for(nodes=2))
    item = only(found, "RESOURCE_TOO_FEW_NODES")
    assert item.object == "PodTemplate ai-training/training-worker"
