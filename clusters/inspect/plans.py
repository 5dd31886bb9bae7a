"""A plan indexed for inspection: rails by NAD name, each rail's exclusions and pod range, NIC
NUMA nodes."""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass, field, replace

from clusters.inspect.network_status import DEFAULT_GPU_RESOURCE, RDMA_CNI_TYPES, pci_bus
from planner import ipam, manifests
from planner.planspec import PlanSpec, RailSpec
from planner.podfacts import normal_pci as _pci


@dataclass
class RailPlan:
    """A rail's addresses as integer spans, ready for membership tests."""

    rail: RailSpec
    version: int
    subnet_span: ipam.Span
    usable: ipam.Span | None
    exclusions: list[tuple[int, int, str]]  # disjoint, sorted, labelled for messages
    capacity: int  # pod addresses whereabouts can give: usable minus exclusions
    _starts: list[int] = field(default_factory=list, repr=False)

    @classmethod
    def build(cls, rail: RailSpec) -> RailPlan | None:
        try:
            network = ipam.parse_network(rail.subnet, strict=False)
            usable = ipam.usable_span(str(network.cidr), rail.range_start, rail.range_end)
            exclusions = _merged(_labelled_exclusions(replace(rail, subnet=str(network.cidr))))
        except (ipam.AddressError, ValueError):
            return None
        spans = [(first, last) for first, last, _ in exclusions]
        capacity = ipam.size(ipam.subtract([usable], spans)) if usable else 0
        return cls(
            rail=rail,
            version=network.version,
            subnet_span=(int(network.first), int(network.last)),
            usable=usable,
            exclusions=exclusions,
            capacity=capacity,
            _starts=[first for first, _, _ in exclusions],
        )

    @property
    def index(self) -> int:
        return self.rail.index

    def exclusion_of(self, ip: int) -> str | None:
        """The label of the exclusion holding `ip`, or None (a binary search)."""
        position = bisect.bisect_right(self._starts, ip) - 1
        if position >= 0 and ip <= self.exclusions[position][1]:
            return self.exclusions[position][2]
        return None

    def range_text(self) -> str:
        if not self.usable:
            return "none"
        return ipam.span_text(self.usable, self.version)


def _labelled_exclusions(rail: RailSpec) -> list[tuple[ipam.Span, str]]:
    labelled = []
    for exclusion in rail.exclusions:
        if exclusion.cidr:
            text = exclusion.cidr.strip()
            network = ipam.parse_network(text, strict=False) if "/" in text else None
            span = (int(network.first), int(network.last)) if network else ipam.span_of(text)
        elif exclusion.start:
            span = ipam.range_span(exclusion.start, exclusion.end or exclusion.start)
            text = f"{exclusion.start}-{exclusion.end or exclusion.start}"
        else:
            continue
        labelled.append((span, f"{text} ({exclusion.purpose})"))
    if rail.gateway:  # the rendered NAD excludes a gateway in the pod range (manifests)
        gateway = int(ipam.parse_ip(rail.gateway))
        usable = ipam.usable_span(rail.subnet, rail.range_start, rail.range_end)
        covered = any(first <= gateway <= last for (first, last), _ in labelled)
        if usable and usable[0] <= gateway <= usable[1] and not covered:
            labelled.append(((gateway, gateway), f"{rail.gateway} (gateway)"))
    return labelled


def _merged(labelled: list[tuple[ipam.Span, str]]) -> list[tuple[int, int, str]]:
    """Overlapping exclusions merged; the merged span keeps the first label."""
    merged: list[tuple[int, int, str]] = []
    for (first, last), label in sorted(labelled):
        if merged and first <= merged[-1][1]:
            if last > merged[-1][1]:
                merged[-1] = (merged[-1][0], last, merged[-1][2])
        else:
            merged.append((first, last, label))
    return merged


class PlanIndex:
    """A plan's rails by NAD name and its NIC inventory by node and PCI address."""

    def __init__(self, plan: PlanSpec):
        self.plan = plan
        self.namespace = plan.namespace
        self.gpu_resource = (plan.pod_options or {}).get("gpu_resource") or DEFAULT_GPU_RESOURCE
        self.rdma = plan.cni_type in RDMA_CNI_TYPES or bool(manifests.cni_options(plan).get("rdma"))
        self.rails: dict[str, RailPlan] = {}
        self.rail_specs: dict[str, RailSpec] = {}
        self.resources: dict[str, RailSpec] = {}
        for rail in plan.rails:
            self.rail_specs[rail.nad_name] = rail
            if rail.resource_name:
                self.resources.setdefault(rail.resource_name, rail)
            built = RailPlan.build(rail)
            if built is not None:
                self.rails[rail.nad_name] = built
        self.numa_by_pf: dict[tuple[str, str], int] = {}
        self.numa_by_bus: dict[tuple[str, str], int] = {}
        self.numa_by_rail: dict[tuple[str, int], int] = {}
        self.numa_any_pf: dict[str, set[int]] = defaultdict(set)
        self.nodes = {node.name: node for node in plan.nodes}
        for node in plan.nodes:
            for nic in node.nics:
                if nic.numa_node is None:
                    continue
                pci = _pci(nic.pci_address)
                if pci:
                    self.numa_by_pf[(node.name, pci)] = nic.numa_node
                    self.numa_by_bus[(node.name, pci_bus(pci))] = nic.numa_node
                    self.numa_any_pf[pci].add(nic.numa_node)
                self.numa_by_rail.setdefault((node.name, nic.rail_index), nic.numa_node)

    def rail_for(self, nad_name: str) -> RailPlan | None:
        return self.rails.get(nad_name)

    def rail_spec_for(self, nad_name: str) -> RailSpec | None:
        return self.rail_specs.get(nad_name)

    def nic_numa(self, node: str | None, pf_pci: str | None, vf_pci: str | None, rail):
        """The NUMA node of the NIC behind an attachment: by PF PCI address, by PCI bus, by
        the node's NIC for the rail, or by PF PCI address on any node."""
        if not self.numa_by_rail:  # no NIC of the inventory has a NUMA node
            return None
        node = node or ""
        if node not in self.nodes:  # a node the plan does not list: only the last rule applies
            return self._numa_on_any_node(pf_pci)
        for key in (pf_pci, vf_pci):
            if key and (node, key) in self.numa_by_pf:
                return self.numa_by_pf[(node, key)]
        for key in (pf_pci, vf_pci):
            bus = pci_bus(key)
            if bus and (node, bus) in self.numa_by_bus:
                return self.numa_by_bus[(node, bus)]
        if rail is not None and (node, rail) in self.numa_by_rail:
            return self.numa_by_rail[(node, rail)]
        return self._numa_on_any_node(pf_pci)

    def _numa_on_any_node(self, pf_pci: str | None) -> int | None:
        if pf_pci and len(self.numa_any_pf.get(pf_pci, ())) == 1:
            return next(iter(self.numa_any_pf[pf_pci]))
        return None
