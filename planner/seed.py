"""The seed plan: the 8-rail cluster of the Multus multi-NIC walkthrough, as constants and a spec.

Rails 10.50.0.0/16 .. 10.57.0.0/16, each excluding its first /24 for infrastructure; NADs
sriov-rail-0..7 in namespace ai-training; resources nvidia.com/rail0_vf..rail7_vf; interfaces
net1..net8; four nodes of 8 GPUs, rails 0-3 on NUMA node 0 and 4-7 on NUMA node 1.
"""

from __future__ import annotations

from planner.planspec import ExclusionSpec, NICSpec, NodeSpec, PlanSpec, RailSpec

SEED_PLAN_NAME = "Seed: 8-rail training cluster"
SEED_PLAN_SLUG = "training"  # pods are named training-worker-N, as in the walkthrough
SEED_NAMESPACE = "ai-training"
SEED_IMAGE = "nvcr.io/nvidia/pytorch:24.04-py3"
SEED_CNI_TYPE = "sriov"
SEED_CNI_VERSION = "0.3.1"
SEED_POD_CIDR = "10.100.0.0/16"
SEED_RAIL_COUNT = 8
SEED_SUPERNET = "10.50.0.0/13"
SEED_RAIL_PREFIX_LENGTH = 16
SEED_NODE_COUNT = 4
SEED_GPUS_PER_NODE = 8
SEED_VFS_PER_NIC = 8
SEED_NODE_NAMES = tuple(f"gpu-node-{index}" for index in range(SEED_NODE_COUNT))
# PCI bus of each rail's NIC; rails 0-3 hang off socket 0, rails 4-7 off socket 1. The same
# hardware as the lab's seed cluster (labsim/specs/seed.yaml), so discovery finds what is planned.
SEED_PCI_BUSES = ("18", "29", "3a", "5d", "9a", "ab", "ba", "db")
SEED_SRIOV_NODE_LABEL = {"feature.node.kubernetes.io/network-sriov.capable": "true"}


def seed_rail_subnet(index: int) -> str:
    return f"10.{50 + index}.0.0/16"


def seed_rail(index: int) -> RailSpec:
    return RailSpec(
        index=index,
        subnet=seed_rail_subnet(index),
        nad_name=f"sriov-rail-{index}",
        resource_name=f"nvidia.com/rail{index}_vf",
        interface_name=f"net{index + 1}",
        exclusions=(ExclusionSpec(cidr=f"10.{50 + index}.0.0/24", purpose="infrastructure"),),
    )


def seed_nic(rail_index: int) -> NICSpec:
    return NICSpec(
        rail_index=rail_index,
        pf_name=f"enp{int(SEED_PCI_BUSES[rail_index], 16)}s0np0",  # predictable name by bus
        pci_address=f"0000:{SEED_PCI_BUSES[rail_index]}:00.0",
        numa_node=0 if rail_index < SEED_RAIL_COUNT // 2 else 1,
        vf_count=SEED_VFS_PER_NIC,
        rdma_device=f"mlx5_{rail_index}",
    )


def seed_node(name: str) -> NodeSpec:
    return NodeSpec(
        name=name,
        gpu_count=SEED_GPUS_PER_NODE,
        labels={"kubernetes.io/hostname": name, **SEED_SRIOV_NODE_LABEL},
        nics=tuple(seed_nic(index) for index in range(SEED_RAIL_COUNT)),
    )


def seed_plan_spec() -> PlanSpec:
    return PlanSpec(
        name=SEED_PLAN_NAME,
        slug=SEED_PLAN_SLUG,
        namespace=SEED_NAMESPACE,
        description="The 8-rail cluster of the Multus multi-NIC pods walkthrough.",
        rail_count=SEED_RAIL_COUNT,
        supernet=SEED_SUPERNET,
        rail_prefix_length=SEED_RAIL_PREFIX_LENGTH,
        cni_type=SEED_CNI_TYPE,
        cni_version=SEED_CNI_VERSION,
        pod_cidr=SEED_POD_CIDR,
        rails=tuple(seed_rail(index) for index in range(SEED_RAIL_COUNT)),
        nodes=tuple(seed_node(name) for name in SEED_NODE_NAMES),
    )
