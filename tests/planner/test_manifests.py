import json
import os
from dataclasses import replace
from pathlib import Path

import netaddr
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from kubernetes.client import ApiClient

from planner import manifests, yamlio
from planner.manifests import ManifestError, PodOptions
from planner.planspec import ExclusionSpec, NICSpec, NodeSpec, PlanSpec, RailSpec
from planner.seed import SEED_IMAGE, seed_plan_spec, seed_rail

GOLDEN = Path(__file__).parent / "golden"
UPDATE_GOLDEN = os.environ.get("RAILSTUDIO_UPDATE_GOLDEN") == "1"

# The NAD and the pod exactly as the seed walkthrough writes them.
SEED_NAD_YAML = """\
apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata:
  name: sriov-rail-0
  namespace: ai-training
  annotations:
    k8s.v1.cni.cncf.io/resourceName: nvidia.com/rail0_vf
spec:
  config: '{
    "cniVersion": "0.3.1",
    "type": "sriov",
    "name": "sriov-rail-0",
    "ipam": {
      "type": "whereabouts",
      "range": "10.50.0.0/16",
      "exclude": ["10.50.0.0/24"]
    }
  }'
"""

SEED_POD_YAML = """\
apiVersion: v1
kind: Pod
metadata:
  name: training-worker-0
  namespace: ai-training
  annotations:
    k8s.v1.cni.cncf.io/networks: |
      [
        {"name": "sriov-rail-0", "interface": "net1"},
        {"name": "sriov-rail-1", "interface": "net2"},
        {"name": "sriov-rail-2", "interface": "net3"},
        {"name": "sriov-rail-3", "interface": "net4"},
        {"name": "sriov-rail-4", "interface": "net5"},
        {"name": "sriov-rail-5", "interface": "net6"},
        {"name": "sriov-rail-6", "interface": "net7"},
        {"name": "sriov-rail-7", "interface": "net8"}
      ]
spec:
  containers:
  - name: trainer
    image: nvcr.io/nvidia/pytorch:24.04-py3
    resources:
      limits:
        nvidia.com/gpu: 8
        nvidia.com/rail0_vf: 1
        nvidia.com/rail1_vf: 1
        nvidia.com/rail2_vf: 1
        nvidia.com/rail3_vf: 1
        nvidia.com/rail4_vf: 1
        nvidia.com/rail5_vf: 1
        nvidia.com/rail6_vf: 1
        nvidia.com/rail7_vf: 1
    securityContext:
      capabilities:
        add: ["IPC_LOCK", "SYS_NICE"]
"""

LABELS = {"app.kubernetes.io/managed-by": "railstudio", "railstudio.io/plan": "training"}


@pytest.fixture
def seed():
    return seed_plan_spec()


def with_options(plan: PlanSpec, **cni_options) -> PlanSpec:
    return replace(plan, cni_options={**plan.cni_options, **cni_options})


def with_rail(plan: PlanSpec, index: int, **changes) -> PlanSpec:
    rails = tuple(replace(rail, **changes) if rail.index == index else rail for rail in plan.rails)
    return replace(plan, rails=rails)


def config_of(nad: dict) -> dict:
    return json.loads(nad["spec"]["config"])


def without_labels(obj: dict) -> dict:
    copy = json.loads(json.dumps(obj))
    copy["metadata"].pop("labels")
    return copy


def quantities_as_str(value):
    if isinstance(value, dict):
        return {key: quantities_as_str(item) for key, item in value.items()}
    if isinstance(value, list):
        return [quantities_as_str(item) for item in value]
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def assert_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE_GOLDEN:
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.read_text() == text, f"{name} changed; RAILSTUDIO_UPDATE_GOLDEN=1 rewrites it"


def walk(value):
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)


# --- the seed -----------------------------------------------------------------------------------


def test_seed_rail0_config_parses_to_the_seed_json_in_the_seed_key_order(seed):
    config = config_of(manifests.render_nads(seed)[0])
    assert config == {
        "cniVersion": "0.3.1",
        "type": "sriov",
        "name": "sriov-rail-0",
        "ipam": {"type": "whereabouts", "range": "10.50.0.0/16", "exclude": ["10.50.0.0/24"]},
    }
    assert list(config) == ["cniVersion", "type", "name", "ipam"]
    assert list(config["ipam"]) == ["type", "range", "exclude"]


def test_seed_nad_is_the_seed_document_plus_labels(seed):
    rendered = manifests.render_nads(seed)[0]
    expected = yaml.safe_load(SEED_NAD_YAML)
    assert rendered["metadata"]["labels"] == LABELS
    rendered = without_labels(rendered)
    assert json.loads(rendered["spec"].pop("config")) == json.loads(expected["spec"].pop("config"))
    assert rendered == expected


def test_one_nad_per_rail_with_the_seed_names(seed):
    nads = manifests.render_nads(seed)
    assert [nad["metadata"]["name"] for nad in nads] == [f"sriov-rail-{i}" for i in range(8)]
    assert [config_of(nad)["ipam"]["range"] for nad in nads] == [
        f"10.{50 + i}.0.0/16" for i in range(8)
    ]
    assert {nad["metadata"]["annotations"]["k8s.v1.cni.cncf.io/resourceName"] for nad in nads} == {
        f"nvidia.com/rail{i}_vf" for i in range(8)
    }


def test_seed_pod_is_the_seed_document_plus_labels(seed):
    (pod,) = manifests.render_pod(seed)
    assert pod["metadata"]["labels"] == LABELS
    expected = yaml.safe_load(SEED_POD_YAML)
    # Quantities are strings, as the API server returns them and the client models require.
    assert without_labels(pod) == quantities_as_str(expected)


def test_golden_seed_nads(seed):
    assert_golden("seed-nads.yaml", yamlio.dump_all(manifests.render_nads(seed)))


def test_golden_seed_pod(seed):
    assert_golden("seed-pod.yaml", yamlio.dump_all(manifests.render_pod(seed)))


def test_golden_seed_bundle(seed):
    assert_golden("seed-bundle.yaml", yamlio.dump_all(manifests.render_bundle(seed)))


def test_golden_seed_per_numa_templates_with_nccl(seed):
    options = {"layout": "per-numa", "nccl_env": True}
    assert_golden(
        "seed-per-numa-templates.yaml",
        yamlio.dump_all(manifests.render_pod_templates(seed, options)),
    )


def test_golden_seed_job(seed):
    assert_golden("seed-job.yaml", yamlio.dump_all(manifests.render_job(seed)))


def test_golden_seed_sriov_operator(seed):
    assert_golden(
        "seed-sriov-operator.yaml", yamlio.dump_all(manifests.render_sriov_operator(seed))
    )


def test_rendering_is_deterministic(seed):
    first = yamlio.dump_all(manifests.render_bundle(seed, pod_options={"layout": "per-numa"}))
    again = yamlio.dump_all(
        manifests.render_bundle(seed_plan_spec(), pod_options={"layout": "per-numa"})
    )
    assert first == again


# --- labels, nulls and the client models --------------------------------------------------------


def test_every_rendered_object_carries_the_prune_labels(seed):
    objects = (
        manifests.render_bundle(seed)
        + manifests.render_sriov_operator(seed)
        + manifests.render_job(seed)
        + manifests.render_node_pods(seed)
    )
    for obj in objects:
        assert obj["metadata"]["labels"] == LABELS, obj["kind"]
    for obj in manifests.render_pod_templates(seed) + manifests.render_job(seed):
        template = obj.get("template") or obj["spec"]["template"]
        assert template["metadata"]["labels"] == LABELS


def test_no_nulls_anywhere_even_with_every_option(seed):
    plan = with_options(
        with_rail(seed, 0, vlan=100, gateway="10.50.0.1", routes=({"dst": "10.0.0.0/8"},)),
        vlan_qos=3,
        spoofchk="off",
        trust="on",
        link_state="enable",
        max_tx_rate=100000,
        rdma=True,
        node_slice_size="/22",
        network_name="rail{rail}",
    )
    objects = manifests.render_bundle(
        plan, pod_options={"nccl_env": True}
    ) + manifests.render_sriov_operator(plan)
    assert all(value is not None for obj in objects for value in walk(obj))
    for nad in objects[:8]:
        assert all(value is not None for value in walk(config_of(nad)))


@pytest.mark.parametrize(
    ("render", "model"),
    [
        (
            lambda plan: manifests.render_pod(plan, {"nccl_env": True, "command": ["torchrun"]}),
            "V1Pod",
        ),
        (
            lambda plan: manifests.render_pod_templates(plan, {"layout": "per-numa"}),
            "V1PodTemplate",
        ),
        (
            lambda plan: manifests.render_pod_templates(plan, {"node_selector": {"pool": "a"}}),
            "V1PodTemplate",
        ),
        (lambda plan: manifests.render_job(plan, {"nccl_env": True}), "V1Job"),
        (lambda plan: manifests.render_node_pods(plan)[:2], "V1Pod"),
    ],
)
def test_pods_round_trip_through_the_official_client_models(seed, render, model):
    client = ApiClient()
    for obj in render(seed):
        parsed = client.deserialize(json.dumps(obj), model, None)
        assert client.sanitize_for_serialization(parsed) == obj


# --- addresses ----------------------------------------------------------------------------------


def test_exclusion_ranges_become_minimal_cidrs(seed):
    plan = with_rail(
        seed,
        0,
        exclusions=(
            ExclusionSpec(cidr="10.50.0.0/24"),
            ExclusionSpec(start="10.50.1.1", end="10.50.1.6"),
            ExclusionSpec(start="10.50.2.9"),
        ),
    )
    exclude = config_of(manifests.render_nads(plan)[0])["ipam"]["exclude"]
    assert exclude == [
        "10.50.0.0/24",
        "10.50.1.1/32",
        "10.50.1.2/31",
        "10.50.1.4/31",
        "10.50.1.6/32",
        "10.50.2.9/32",
    ]


def test_gateway_in_the_range_is_excluded_once(seed):
    plan = with_rail(seed, 0, gateway="10.50.1.1")
    ipam = config_of(manifests.render_nads(plan)[0])["ipam"]
    assert ipam["gateway"] == "10.50.1.1"
    assert ipam["exclude"] == ["10.50.0.0/24", "10.50.1.1/32"]
    covered = config_of(manifests.render_nads(with_rail(seed, 0, gateway="10.50.0.1"))[0])["ipam"]
    assert covered["exclude"] == ["10.50.0.0/24"]


def test_gateway_outside_the_pod_range_is_not_excluded(seed):
    plan = with_rail(seed, 0, gateway="10.50.1.1", range_start="10.50.2.0", range_end="10.50.9.255")
    ipam = config_of(manifests.render_nads(plan)[0])["ipam"]
    assert ipam["exclude"] == ["10.50.0.0/24"]
    assert (ipam["range_start"], ipam["range_end"]) == ("10.50.2.0", "10.50.9.255")
    assert list(ipam) == ["type", "range", "range_start", "range_end", "exclude", "gateway"]


def test_routes_network_name_and_node_slice_size(seed):
    plan = with_options(
        with_rail(seed, 2, routes=({"dst": "10.0.0.0/8", "gw": "10.52.0.1"},)),
        network_name="rail{rail}",
        node_slice_size="/22",
    )
    ipam = config_of(manifests.render_nads(plan)[2])["ipam"]
    assert ipam["routes"] == [{"dst": "10.0.0.0/8", "gw": "10.52.0.1"}]
    assert ipam["network_name"] == "rail2"
    assert ipam["node_slice_size"] == "/22"


def test_ip_preview_gives_the_lowest_free_addresses(seed):
    preview = manifests.ip_preview(seed, 3)
    assert preview[0] == ["10.50.1.0", "10.50.1.1", "10.50.1.2"]
    assert preview[7] == ["10.57.1.0", "10.57.1.1", "10.57.1.2"]
    plan = with_rail(
        seed,
        0,
        gateway="10.50.1.1",
        exclusions=(
            ExclusionSpec(cidr="10.50.0.0/24"),
            ExclusionSpec(start="10.50.1.3", end="10.50.1.4"),
        ),
    )
    assert manifests.ip_preview(plan, 4)[0] == ["10.50.1.0", "10.50.1.2", "10.50.1.5", "10.50.1.6"]


def test_ip_preview_honours_range_start_and_never_walks_a_slash_8(seed):
    plan = replace(
        seed,
        rails=(
            RailSpec(
                index=0,
                subnet="10.0.0.0/8",
                nad_name="big",
                resource_name="nvidia.com/big",
                interface_name="net1",
                range_start="10.200.0.0",
                exclusions=(ExclusionSpec(cidr="10.200.0.0/9"),),
            ),
        ),
    )
    # 10.200.0.0 is inside the excluded 10.128.0.0/9, so the first free address is past it.
    assert manifests.ip_preview(plan, 2) == {0: []}
    plan = with_rail(plan, 0, exclusions=(ExclusionSpec(cidr="10.200.0.0/16"),))
    assert manifests.ip_preview(plan, 2) == {0: ["10.201.0.0", "10.201.0.1"]}


def test_ip_preview_count_is_bounded(seed):
    assert manifests.ip_preview(seed, 0)[0] == []
    with pytest.raises(ManifestError):
        manifests.ip_preview(seed, manifests.MAX_IP_PREVIEW + 1)


@settings(max_examples=60, deadline=None, database=None)
@given(
    excluded=st.lists(st.tuples(st.integers(1, 254), st.integers(0, 6)), max_size=6),
    count=st.integers(1, 20),
)
def test_ip_preview_matches_a_brute_force_walk(excluded, count):
    exclusions = tuple(
        ExclusionSpec(start=f"192.168.7.{first}", end=f"192.168.7.{min(first + length, 254)}")
        for first, length in excluded
    )
    rail = RailSpec(0, "192.168.7.0/24", "r", "x.io/r", "net1", exclusions=exclusions)
    plan = PlanSpec(name="p", slug="p", rails=(rail,))
    skipped = {
        host for first, length in excluded for host in range(first, min(first + length, 254) + 1)
    }
    expected = [f"192.168.7.{host}" for host in range(1, 255) if host not in skipped][:count]
    assert manifests.ip_preview(plan, count)[0] == expected


# --- CNI variants -------------------------------------------------------------------------------


def test_sriov_keys(seed):
    plan = with_options(
        with_rail(seed, 0, vlan=100),
        vlan_qos=3,
        spoofchk="off",
        trust="on",
        link_state="enable",
        min_tx_rate=1000,
        max_tx_rate=100000,
    )
    config = config_of(manifests.render_nads(plan)[0])
    assert list(config) == [
        "cniVersion", "type", "name", "vlan", "vlanQoS", "spoofchk", "trust", "link_state",
        "min_tx_rate", "max_tx_rate", "ipam",
    ]  # fmt: skip
    assert (config["vlan"], config["vlanQoS"], config["spoofchk"]) == (100, 3, "off")
    assert "vlan" not in config_of(manifests.render_nads(plan)[1])  # rail 1 has no vlan


def test_rdma_chain_makes_a_conflist(seed):
    config = config_of(manifests.render_nads(with_options(seed, rdma=True))[0])
    assert list(config) == ["cniVersion", "name", "plugins"]
    assert config["plugins"][0]["type"] == "sriov"
    assert config["plugins"][0]["ipam"]["range"] == "10.50.0.0/16"
    assert config["plugins"][1] == {"type": "rdma"}


def test_ib_sriov(seed):
    plan = with_options(
        replace(seed, cni_type="ib-sriov"), pkey="0x7fff", rdma_isolation=True, link_state="auto"
    )
    config = config_of(manifests.render_nads(plan)[0])
    assert config["type"] == "ib-sriov"
    assert (config["pkey"], config["rdmaIsolation"], config["link_state"]) == (
        "0x7fff",
        True,
        "auto",
    )


def test_host_device_has_only_the_basics(seed):
    config = config_of(manifests.render_nads(replace(seed, cni_type="host-device"))[0])
    assert list(config) == ["cniVersion", "type", "name", "ipam"]
    assert config["type"] == "host-device"


def test_macvlan_master_mode_and_mtu(seed):
    plan = with_options(replace(seed, cni_type="macvlan", mtu=9000), macvlan_mode="bridge")
    config = config_of(manifests.render_nads(plan)[3])
    assert (config["master"], config["mode"], config["mtu"]) == ("enp93s0np0", "bridge", 9000)
    templated = with_options(plan, master="rail{rail+1}")
    assert config_of(manifests.render_nads(templated)[3])["master"] == "rail4"


def test_macvlan_without_a_master_is_a_clear_error(seed):
    plan = replace(seed, cni_type="macvlan", nodes=())
    with pytest.raises(ManifestError, match="macvlan needs cni_options.master"):
        manifests.render_nads(plan)


@pytest.mark.parametrize(
    ("cni_type", "options", "message"),
    [
        ("sriov", {"bogus": 1}, "not a known option"),
        ("sriov", {"master": "eth1"}, "applies to macvlan only"),
        ("sriov", {"spoofchk": True}, "must be one of on, off"),
        ("sriov", {"vlan_qos": 9}, "from 0 to 7"),
        ("ib-sriov", {"rdma": True, "rdma_isolation": True}, "choose one"),
        ("sriov", {"node_slice_size": "22"}, "prefix length"),
    ],
)
def test_invalid_cni_options_are_rejected_with_reasons(seed, cni_type, options, message):
    plan = replace(seed, cni_type=cni_type, cni_options=options)
    with pytest.raises(ManifestError, match=message):
        manifests.render_nads(plan)


# --- SR-IOV Network Operator --------------------------------------------------------------------


def test_sriov_network_fields(seed):
    plan = with_options(with_rail(seed, 0, vlan=100), spoofchk="off", trust="on", rdma=True)
    network = manifests.render_sriov_operator(plan)[0]
    assert (network["apiVersion"], network["kind"]) == (
        "sriovnetwork.openshift.io/v1",
        "SriovNetwork",
    )
    assert network["metadata"]["namespace"] == "sriov-network-operator"
    spec = network["spec"]
    assert spec["resourceName"] == "rail0_vf"
    assert spec["networkNamespace"] == "ai-training"
    assert json.loads(spec["ipam"]) == {
        "type": "whereabouts",
        "range": "10.50.0.0/16",
        "exclude": ["10.50.0.0/24"],
    }
    assert (spec["vlan"], spec["spoofChk"], spec["trust"]) == (100, "off", "on")
    assert json.loads(spec["metaPlugins"]) == {"type": "rdma"}
    assert "metaPluginsConfig" not in spec


def test_sriov_node_policies_come_from_the_nic_inventory(seed):
    policies = [
        obj
        for obj in manifests.render_sriov_operator(seed)
        if obj["kind"] == "SriovNetworkNodePolicy"
    ]
    assert len(policies) == 8
    spec = policies[5]["spec"]
    assert spec["resourceName"] == "rail5_vf"
    assert spec["nicSelector"] == {"pfNames": ["enp171s0np0"]}
    assert (spec["numVfs"], spec["isRdma"], spec["linkType"]) == (8, True, "eth")
    assert spec["nodeSelector"] == {"feature.node.kubernetes.io/network-sriov.capable": "true"}


def test_sriov_ib_network_for_ib_sriov(seed):
    network = manifests.render_sriov_operator(replace(seed, cni_type="ib-sriov"))[0]
    assert network["kind"] == "SriovIBNetwork"
    assert "vlan" not in network["spec"]


def test_operator_mode_rejects_what_the_operator_cannot_express(seed):
    with pytest.raises(ManifestError, match="sriov and ib-sriov"):
        manifests.render_sriov_operator(replace(seed, cni_type="macvlan"))
    mixed = with_rail(seed, 1, resource_name="intel.com/rail1_vf")
    with pytest.raises(ManifestError, match="one prefix"):
        manifests.render_sriov_operator(mixed)


def test_bundle_modes(seed):
    nad_bundle = manifests.render_bundle(seed)
    assert [obj["kind"] for obj in nad_bundle] == ["NetworkAttachmentDefinition"] * 8 + [
        "PodTemplate"
    ]
    operator = manifests.render_bundle(seed, mode="sriov-operator")
    assert [obj["kind"] for obj in operator] == ["SriovNetwork"] * 8 + ["PodTemplate"]
    with_policies = manifests.render_bundle(seed, "sriov-operator", include_node_policies=True)
    assert sum(obj["kind"] == "SriovNetworkNodePolicy" for obj in with_policies) == 8
    with pytest.raises(ManifestError, match="mode"):
        manifests.render_bundle(seed, mode="helm")


# --- pods ---------------------------------------------------------------------------------------


def networks_of(obj: dict) -> list[dict]:
    metadata = obj["metadata"] if obj["kind"] == "Pod" else obj["template"]["metadata"]
    return json.loads(metadata["annotations"]["k8s.v1.cni.cncf.io/networks"])


def container_of(obj: dict) -> dict:
    spec = obj["spec"] if obj["kind"] == "Pod" else obj["template"]["spec"]
    return spec["containers"][0]


def test_pod_template_defaults(seed):
    (template,) = manifests.render_pod_templates(seed)
    assert template["apiVersion"] == "v1" and template["kind"] == "PodTemplate"
    assert template["metadata"]["name"] == "training-worker"
    container = container_of(template)
    assert container["image"] == SEED_IMAGE
    assert container["securityContext"] == {"capabilities": {"add": ["IPC_LOCK", "SYS_NICE"]}}
    assert len(networks_of(template)) == 8


def test_a_subset_of_rails_and_a_gpu_count(seed):
    (pod,) = manifests.render_pod(seed, {"rails": [0, 2, 4, 6], "gpus": 4})
    assert [entry["name"] for entry in networks_of(pod)] == [
        f"sriov-rail-{i}" for i in (0, 2, 4, 6)
    ]
    assert container_of(pod)["resources"]["limits"] == {
        "nvidia.com/gpu": "4",
        "nvidia.com/rail0_vf": "1",
        "nvidia.com/rail2_vf": "1",
        "nvidia.com/rail4_vf": "1",
        "nvidia.com/rail6_vf": "1",
    }
    assert PodOptions.build(seed, {"rails": "0-3"}).rails == (0, 1, 2, 3)


def test_per_numa_layout_gives_one_template_per_numa_node(seed):
    templates = manifests.render_pod_templates(seed, {"layout": "per-numa"})
    assert [t["metadata"]["name"] for t in templates] == [
        "training-worker-numa0",
        "training-worker-numa1",
    ]
    for template, rails in zip(templates, (range(4), range(4, 8)), strict=True):
        assert [entry["interface"] for entry in networks_of(template)] == [
            f"net{i + 1}" for i in rails
        ]
        assert container_of(template)["resources"]["limits"]["nvidia.com/gpu"] == "4"


def test_per_numa_layout_needs_numa_nodes(seed):
    nodes = tuple(
        replace(node, nics=tuple(replace(nic, numa_node=None) for nic in node.nics))
        for node in seed.nodes
    )
    with pytest.raises(ManifestError, match="NUMA node"):
        manifests.render_pod_templates(replace(seed, nodes=nodes), {"layout": "per-numa"})


def test_nccl_environment_is_opt_in_and_derived_from_the_plan(seed):
    assert "env" not in container_of(manifests.render_pod(seed)[0])
    templates = manifests.render_pod_templates(seed, {"layout": "per-numa", "nccl_env": True})
    env = {item["name"]: item["value"] for item in container_of(templates[1])["env"]}
    assert env == {
        "NCCL_IB_HCA": "=mlx5_4,mlx5_5,mlx5_6,mlx5_7",
        "NCCL_SOCKET_IFNAME": "eth0",
        "NCCL_CROSS_NIC": "0",
    }


def test_networks_annotation_names_the_nad_namespace_when_the_pod_lives_elsewhere(seed):
    (pod,) = manifests.render_pod(seed, {"namespace": "team-a", "rails": [0]})
    assert pod["metadata"]["namespace"] == "team-a"
    assert networks_of(pod) == [
        {"name": "sriov-rail-0", "namespace": "ai-training", "interface": "net1"}
    ]
    assert list(networks_of(pod)[0]) == ["name", "namespace", "interface"]


def test_rails_sharing_a_resource_request_one_vf_per_attachment(seed):
    plan = with_rail(seed, 1, resource_name="nvidia.com/rail0_vf")
    limits = container_of(manifests.render_pod(plan)[0])["resources"]["limits"]
    assert limits["nvidia.com/rail0_vf"] == "2"
    assert "nvidia.com/rail1_vf" not in limits


def test_plan_pod_options_are_defaults_that_callers_override(seed):
    plan = replace(seed, pod_options={"gpus": 2, "image": "example/trainer:1"})
    container = container_of(manifests.render_pod(plan, {"gpus": 6})[0])
    assert (container["image"], container["resources"]["limits"]["nvidia.com/gpu"]) == (
        "example/trainer:1",
        "6",
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"rails": [9]}, "does not have"),
        ({"rails": "zero"}, "rail indexes"),
        ({"layout": "per-socket"}, "per-node, per-numa"),
        ({"colour": "blue"}, "not a known option"),
        ({"name": "Worker"}, "DNS-1123"),
        ({"gpus": -1}, "from 0 to 64"),
    ],
)
def test_invalid_pod_options_are_rejected_with_reasons(seed, options, message):
    with pytest.raises(ManifestError, match=message):
        manifests.render_pod_templates(seed, options)


def test_job_runs_one_indexed_completion_per_node(seed):
    (job,) = manifests.render_job(seed)
    assert (job["apiVersion"], job["kind"]) == ("batch/v1", "Job")
    assert (job["spec"]["completions"], job["spec"]["parallelism"]) == (4, 4)
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert manifests.render_job(seed, {"replicas": 2})[0]["spec"]["completions"] == 2


def test_node_pods_pin_one_pod_per_node(seed):
    pods = manifests.render_node_pods(seed)
    assert [pod["metadata"]["name"] for pod in pods] == [f"training-worker-{i}" for i in range(4)]
    assert [pod["spec"]["nodeSelector"] for pod in pods] == [
        {"kubernetes.io/hostname": f"gpu-node-{i}"} for i in range(4)
    ]
    assert len(manifests.render_node_pods(seed, {"layout": "per-numa"})) == 8


def test_config_json_keeps_flat_lists_on_one_line():
    text = manifests.config_json({"a": [1, 2], "b": [{"x": 1}], "c": [{"d": [1]}], "e": {}})
    assert text.splitlines() == [
        "{",
        '  "a": [1, 2],',
        '  "b": [{"x": 1}],',
        '  "c": [',
        "    {",
        '      "d": [1]',
        "    }",
        "  ],",
        '  "e": {}',
        "}",
    ]
    assert json.loads(text) == {"a": [1, 2], "b": [{"x": 1}], "c": [{"d": [1]}], "e": {}}


def test_seed_module_describes_the_walkthrough_cluster():
    plan = seed_plan_spec()
    assert len(plan.rails) == 8 and len(plan.nodes) == 4
    assert seed_rail(3).subnet == "10.53.0.0/16"
    nic = plan.nodes[0].nics[5]
    assert (nic.pf_name, nic.numa_node, nic.rdma_device) == ("enp171s0np0", 1, "mlx5_5")
    assert netaddr.IPNetwork(plan.supernet).size >= 8 * 65536


def test_nodes_and_nics_are_optional(seed):
    bare = replace(seed, nodes=())
    (pod,) = manifests.render_pod(bare)
    assert container_of(pod)["resources"]["limits"]["nvidia.com/gpu"] == "8"
    assert manifests.render_job(bare)[0]["spec"]["completions"] == 1
    assert [obj["kind"] for obj in manifests.render_sriov_operator(bare)] == ["SriovNetwork"] * 8
    node = NodeSpec(name="n", gpu_count=4, nics=(NICSpec(rail_index=0, pf_name="p0", numa_node=0),))
    assert (
        manifests.render_pod(replace(seed, nodes=(node,)))[0]["spec"]["containers"][0]["resources"][
            "limits"
        ]["nvidia.com/gpu"]
        == "4"
    )


def test_none_option_values_mean_not_set(seed):
    plan = replace(seed, cni_options={"vlan_qos": None, "rdma": None}, pod_options={"gpus": None})
    assert manifests.render_nads(plan) == manifests.render_nads(seed)
    assert manifests.render_pod(plan, {"layout": None}) == manifests.render_pod(seed)


def test_per_numa_with_a_subset_keeps_the_gpus_of_one_numa_node(seed):
    (template,) = manifests.render_pod_templates(seed, {"layout": "per-numa", "rails": [0, 1]})
    assert template["metadata"]["name"] == "training-worker-numa0"
    assert container_of(template)["resources"]["limits"]["nvidia.com/gpu"] == "4"


def test_pod_options_from_query_strings(seed):
    options = manifests.pod_options_from_strings(
        {
            "rails": "0-3",
            "gpus": "4",
            "nccl_env": "true",
            "layout": "per-node",
            "node_selector": "pool=a, zone=b",
            "command": "torchrun,train.py",
            "image": "",
        }
    )
    assert options == {
        "rails": "0-3",
        "gpus": 4,
        "nccl_env": True,
        "layout": "per-node",
        "node_selector": {"pool": "a", "zone": "b"},
        "command": ["torchrun", "train.py"],
    }
    built = PodOptions.build(seed, options)
    assert (built.rails, built.gpus, built.command) == ((0, 1, 2, 3), 4, ("torchrun", "train.py"))
    with pytest.raises(ManifestError, match="gpus"):
        PodOptions.build(seed, manifests.pod_options_from_strings({"gpus": "four"}))
