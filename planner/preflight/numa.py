"""Per node: the NUMA node of each VF resource, and GPUs per NUMA node."""

from __future__ import annotations

from dataclasses import dataclass

from planner import manifests, podfacts
from planner.planspec import PlanSpec
from planner.preflight.reading import ClusterFacts
from railstudio import numbers


@dataclass
class _NodeNuma:
    resource_numa: dict[str, int]
    gpus: dict[int, int]


class NumaIndex:
    """Per node: the NUMA node of each VF resource, and GPUs per NUMA node."""

    def __init__(self, nodes: dict[str, _NodeNuma], gpu_resource: str):
        self.nodes = nodes
        self.gpu_resource = gpu_resource

    @classmethod
    def build(cls, plan: PlanSpec | None, facts: ClusterFacts) -> NumaIndex | None:
        gpu_resource = manifests.DEFAULT_GPU_RESOURCE
        if plan is not None:
            gpu_resource = (plan.pod_options or {}).get("gpu_resource", gpu_resource)
        rail_resources = {rail.index: rail.resource_name for rail in plan.rails} if plan else {}
        gpu_totals: dict[str, int] = {}
        if plan is not None:
            gpu_totals.update((node.name, node.gpu_count) for node in plan.nodes)
        for node in facts.nodes or []:
            amount = podfacts.quantity((node.get("allocatable") or {}).get(gpu_resource, ""))
            if node.get("name") and amount is not None:
                gpu_totals[node["name"]] = int(amount)
        placements: dict[str, dict[str, int]] = {}
        if facts.nic_numa:
            for node, entries in facts.nic_numa.items():
                placements[node] = {}
                for key, numa in (entries or {}).items():
                    resource = _numa_key_resource(key, rail_resources)
                    if resource is not None and numa is not None:
                        placements[node][resource] = int(numa)
        elif plan is not None:
            for node in plan.nodes:
                placements[node.name] = {
                    rail_resources[nic.rail_index]: nic.numa_node
                    for nic in node.nics
                    if nic.numa_node is not None and nic.rail_index in rail_resources
                }
        nodes = {}
        for name, resource_numa in placements.items():
            if not resource_numa:
                continue
            gpus = {int(k): int(v) for k, v in (facts.gpu_numa.get(name) or {}).items()}
            nodes[name] = _NodeNuma(
                resource_numa, gpus or _even_gpus(gpu_totals.get(name), resource_numa)
            )
        return cls(nodes, gpu_resource) if nodes else None


def _numa_key_resource(key, rail_resources: dict[int, str]) -> str | None:
    """A nic_numa key is a resource name or a rail index ("4" from JSON); others are ignored."""
    text = str(key)
    if "/" in text:
        return text
    index = numbers.small_int(text)
    return rail_resources.get(index) if index is not None else None


def _even_gpus(gpu_count: int | None, resource_numa: dict[str, int]) -> dict[int, int]:
    numa_ids = sorted(set(resource_numa.values()))
    if gpu_count is None or not numa_ids:
        return {}
    share, extra = divmod(gpu_count, len(numa_ids))
    return {numa: share + (1 if position < extra else 0) for position, numa in enumerate(numa_ids)}
