"""A plan as plain data: what the pure modules (ipam, manifests, preflight) take as input.

`planner.models.Plan.to_spec()` builds one from the database; tests and the CLI can build one
directly. Names (NAD, resource, interface) are already resolved: templates and per-rail
overrides are applied.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ExclusionSpec:
    cidr: str | None = None  # e.g. "10.50.0.0/24"
    start: str | None = None  # or a start-end range
    end: str | None = None
    purpose: str = "infrastructure"  # infrastructure | gateway | reserved | other
    note: str = ""


@dataclass(frozen=True)
class RailSpec:
    index: int
    subnet: str  # "10.50.0.0/16"
    nad_name: str  # "sriov-rail-0"
    resource_name: str  # "nvidia.com/rail0_vf"
    interface_name: str  # "net1"
    gateway: str | None = None
    vlan: int | None = None
    range_start: str | None = None  # whereabouts range_start; None = whole subnet
    range_end: str | None = None
    routes: tuple[dict, ...] = ()  # [{"dst": "10.0.0.0/8", "gw": "10.50.0.1"}]
    exclusions: tuple[ExclusionSpec, ...] = ()


@dataclass(frozen=True)
class NICSpec:
    rail_index: int
    pf_name: str = ""  # "ens1f0np0"
    pci_address: str = ""  # "0000:1a:00.0"
    numa_node: int | None = None
    vf_count: int = 1
    rdma_device: str = ""  # "mlx5_0"
    host_ip: str | None = None


@dataclass(frozen=True)
class NodeSpec:
    name: str
    gpu_count: int = 8
    labels: dict = field(default_factory=dict)
    nics: tuple[NICSpec, ...] = ()


@dataclass(frozen=True)
class PlanSpec:
    name: str
    slug: str
    namespace: str = "ai-training"
    description: str = ""
    rail_count: int = 8
    supernet: str | None = None
    rail_prefix_length: int = 16
    nad_name_template: str = "sriov-rail-{rail}"
    resource_name_template: str = "nvidia.com/rail{rail}_vf"
    interface_template: str = "net{rail+1}"
    cni_type: str = "sriov"  # sriov | host-device | ib-sriov | macvlan
    cni_version: str = "0.3.1"
    mtu: int | None = None
    pod_cidr: str = "10.100.0.0/16"
    service_cidr: str | None = None
    # CNI details beyond the basics (keys are documented in planner.manifests.CNI_OPTION_KEYS).
    cni_options: dict = field(default_factory=dict)
    # Pod-template defaults (keys are documented in planner.manifests.POD_OPTION_KEYS).
    pod_options: dict = field(default_factory=dict)
    rails: tuple[RailSpec, ...] = ()
    nodes: tuple[NodeSpec, ...] = ()

    def rail(self, index: int) -> RailSpec:
        for rail in self.rails:
            if rail.index == index:
                return rail
        raise KeyError(index)
