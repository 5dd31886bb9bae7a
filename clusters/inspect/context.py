"""What the cluster says besides its pods (NADs, nodes, whereabouts pools), indexed once per run,
and the plans that own each namespace."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field

from clusters.inspect.network_status import (
    DEFAULT_GPU_RESOURCE,
    RDMA_CNI_TYPES,
    RESOURCE_NAME_ANNOTATION,
)
from clusters.inspect.plans import PlanIndex
from clusters.inspect.pods import is_dict
from planner import ipam
from planner.planspec import PlanSpec
from planner.podfacts import NodeIndex


@dataclass
class NadInfo:
    namespace: str | None
    name: str
    resource: str | None
    cni_type: str | None
    ipam: dict  # the main plugin's ipam block, {} when unknown

    @property
    def ranges(self) -> list[str]:
        entries = [self.ipam] if self.ipam.get("range") else []
        entries += [item for item in self.ipam.get("ipRanges") or [] if is_dict(item)]
        return [str(item["range"]) for item in entries if item.get("range")]


def _nad_info(entry: dict) -> NadInfo | None:
    if not is_dict(entry):
        return None
    metadata = entry.get("metadata") if is_dict(entry.get("metadata")) else entry
    name = metadata.get("name")
    if not name:
        return None
    annotations = metadata.get("annotations") or {}
    config_text = entry.get("config")
    if config_text is None and is_dict(entry.get("spec")):
        config_text = entry["spec"].get("config")
    config: dict = {}
    if isinstance(config_text, str):
        try:
            loaded = json.loads(config_text)
            config = loaded if is_dict(loaded) else {}
        except (ValueError, RecursionError):
            config = {}
    plugins = config.get("plugins")
    plugin = plugins[0] if isinstance(plugins, list) and plugins and is_dict(plugins[0]) else config
    plugin_ipam = plugin.get("ipam")
    return NadInfo(
        namespace=metadata.get("namespace"),
        name=name,
        resource=annotations.get(RESOURCE_NAME_ANNOTATION),
        cni_type=plugin.get("type"),
        ipam=plugin_ipam if is_dict(plugin_ipam) else {},
    )


class NadIndex:
    """The NADs that exist in the cluster, by (namespace, name) and by name."""

    def __init__(self, nads: list[dict]):
        self.nads: dict[tuple[str | None, str], NadInfo] = {}
        self.namespaces_of: dict[str, list[str | None]] = defaultdict(list)
        for entry in nads:
            info = _nad_info(entry)
            if info is not None:
                self.nads[(info.namespace, info.name)] = info
                self.namespaces_of[info.name].append(info.namespace)

    def get(self, namespace: str | None, name: str) -> NadInfo | None:
        return self.nads.get((namespace, name)) or self.nads.get((None, name))

    def names_in(self, namespace: str | None) -> list[str]:
        return sorted({name for (ns, name) in self.nads if ns in (namespace, None)})


def _pool_key(cidr: str) -> str | None:
    try:
        return str(ipam.parse_network(cidr, strict=False).cidr)
    except ipam.AddressError:
        return None


def _pool_counts(pools: list[dict]) -> dict[str, tuple[str, int]]:
    """{normalised range: (pool name, allocations)}."""
    counts: dict[str, tuple[str, int]] = {}
    for pool in pools:
        if not is_dict(pool):
            continue
        spec = pool.get("spec") if is_dict(pool.get("spec")) else pool
        metadata = pool.get("metadata") if is_dict(pool.get("metadata")) else pool
        key = _pool_key(str(spec.get("range") or ""))
        if key is None:
            continue
        allocations = spec.get("allocations")
        count = allocations if isinstance(allocations, int) else len(allocations or {})
        name = metadata.get("name") or key.replace("/", "-")
        previous = counts.get(key, (name, 0))[1]
        counts[key] = (name, previous + count)
    return counts


@dataclass
class Context:
    """Everything the pods are compared with, indexed once per inspection."""

    plan: PlanIndex | None
    nads: NadIndex | None
    nodes: NodeIndex | None
    pools: dict[str, tuple[str, int]]
    known_vf_resources: set[str] = field(init=False, default_factory=set)
    # (namespace, NAD name) -> the plan whose label the live NAD carries: an interface is
    # judged by the plan that owns the NAD it attaches, whatever the pod's own plan.
    nad_plans: dict[tuple[str | None, str], PlanIndex] = field(default_factory=dict)

    def __post_init__(self):
        known = set(self.plan.resources) if self.plan else set()
        if self.nads is not None:
            known.update(info.resource for info in self.nads.nads.values() if info.resource)
        self.known_vf_resources = known

    @property
    def gpu_resource(self) -> str:
        return self.plan.gpu_resource if self.plan else DEFAULT_GPU_RESOURCE

    def plan_for(self, namespace: str | None, nad_name: str) -> PlanIndex | None:
        return self.nad_plans.get((namespace, nad_name)) or self.plan

    def resource_of(self, namespace: str | None, nad_name: str) -> str | None:
        """The VF resource an attachment draws from: the cluster NAD's annotation, else the
        plan's rail."""
        if self.nads is not None:
            info = self.nads.get(namespace, nad_name)
            if info is not None:
                return info.resource
        rail = self.plan.rail_spec_for(nad_name) if self.plan else None
        return rail.resource_name if rail else None

    def is_rdma_network(self, namespace: str | None, nad_name: str) -> bool:
        info = self.nads.get(namespace, nad_name) if self.nads else None
        if info is not None:
            resource = info.resource or ""
            return info.cni_type in RDMA_CNI_TYPES or resource.startswith("rdma/")
        if self.plan is not None and self.plan.rail_spec_for(nad_name) is not None:
            return self.plan.rdma
        return False

    def is_vf_resource(self, resource: str) -> bool:
        if resource in self.known_vf_resources:
            return True
        if "/" not in resource or resource == self.gpu_resource:
            return False
        name = resource.rpartition("/")[2].lower()
        return "gpu" not in name and not name.startswith("mig-")


def build_context(
    plan: PlanSpec | None,
    nodes: list[dict] | None = None,
    nads: list[dict] | None = None,
    ippools: list[dict] | None = None,
) -> Context:
    return Context(
        plan=PlanIndex(plan) if plan is not None else None,
        nads=NadIndex(nads) if nads is not None else None,
        nodes=NodeIndex(nodes) if nodes is not None else None,
        pools=_pool_counts(ippools or []),
    )
