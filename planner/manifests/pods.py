"""Pods and templates: one group per NUMA node or per node, their networks annotation, VF
limits, NCCL environment and capabilities."""

from __future__ import annotations

import json

from planner.manifests.addresses import plan_labels
from planner.manifests.common import (
    DEFAULT_GPUS,
    HOSTNAME_LABEL,
    MODES,
    NETWORKS_ANNOTATION,
    RDMA_CAPABILITIES,
    ManifestError,
)
from planner.manifests.nads import most_common, rail_nics, render_nads, sorted_rails
from planner.manifests.operator import PodGroup, render_sriov_networks
from planner.manifests.options import PodOptions
from planner.planspec import PlanSpec, RailSpec


def _default_gpus(plan: PlanSpec) -> int:
    return most_common(node.gpu_count for node in plan.nodes) or DEFAULT_GPUS


def rail_numa_nodes(plan: PlanSpec) -> dict[int, int | None]:
    """Each rail's NUMA node as most nodes' NIC inventory has it (None when unknown)."""
    return {
        rail.index: most_common(nic.numa_node for nic in rail_nics(plan, rail.index))
        for rail in plan.rails
    }


def rail_rdma_device(plan: PlanSpec, rail: RailSpec) -> str | None:
    return most_common(nic.rdma_device for nic in rail_nics(plan, rail.index))


def pod_groups(plan: PlanSpec, options: PodOptions) -> list[PodGroup]:
    selected = [
        rail for rail in sorted_rails(plan) if options.rails is None or rail.index in options.rails
    ]
    gpus = options.gpus if options.gpus is not None else _default_gpus(plan)
    if options.layout == "per-node":
        return [PodGroup("", tuple(selected), gpus)]
    numa = rail_numa_nodes(plan)
    unknown = [rail.index for rail in selected if numa[rail.index] is None]
    if unknown:
        raise ManifestError(f"per-numa layout needs the NUMA node of the NICs of rails {unknown}")
    numa_ids = sorted({numa[rail.index] for rail in selected})
    # A node's GPUs are shared among all its NUMA nodes, not only those of the selected rails.
    node_numa_count = len({value for value in numa.values() if value is not None})
    per_group = options.gpus if options.gpus is not None else gpus // max(node_numa_count, 1)
    return [
        PodGroup(
            f"-numa{numa_id}",
            tuple(rail for rail in selected if numa[rail.index] == numa_id),
            per_group,
            numa_id,
        )
        for numa_id in numa_ids
    ]


def networks_annotation(plan: PlanSpec, rails, pod_namespace: str) -> str:
    """The networks annotation as the seed writes it: a JSON list, one attachment per line."""
    entries = []
    for rail in rails:
        entry = {"name": rail.nad_name}
        if pod_namespace != plan.namespace:
            entry["namespace"] = plan.namespace
        entry["interface"] = rail.interface_name
        entries.append("  " + json.dumps(entry))
    return "[\n" + ",\n".join(entries) + "\n]\n"


def _nccl_env(plan: PlanSpec, options: PodOptions, group: PodGroup) -> list[dict]:
    env = []
    devices = [rail_rdma_device(plan, rail) for rail in group.rails]
    if devices and all(devices):
        # "=" makes NCCL match names exactly (mlx5_1 would otherwise also match mlx5_10).
        env.append({"name": "NCCL_IB_HCA", "value": "=" + ",".join(devices)})
    env.append({"name": "NCCL_SOCKET_IFNAME", "value": "eth0"})
    env.append({"name": "NCCL_CROSS_NIC", "value": str(options.nccl_cross_nic)})
    return env


def _limits(options: PodOptions, group: PodGroup) -> dict:
    """Quantities as strings, as the API returns them (the client's models accept only those)."""
    counts: dict[str, int] = {}
    if group.gpus:
        counts[options.gpu_resource] = group.gpus
    for rail in group.rails:
        if rail.resource_name:
            counts[rail.resource_name] = counts.get(rail.resource_name, 0) + 1
    return {resource: str(count) for resource, count in counts.items()}


class _PodRenderer:
    """Renders pod specs for one group, computing the shared parts once."""

    def __init__(self, plan: PlanSpec, options: PodOptions, group: PodGroup):
        self.plan, self.options, self.group = plan, options, group
        self.namespace = options.namespace or plan.namespace
        self.base_name = (options.name or f"{plan.slug}-worker") + group.suffix
        self.annotation = networks_annotation(plan, group.rails, self.namespace)
        self.env = _nccl_env(plan, options, group) if options.nccl_env else []
        self.limits = _limits(options, group)

    def labels(self) -> dict:
        return plan_labels(self.plan)

    def pod_metadata(self, name: str | None = None) -> dict:
        metadata: dict = {}
        if name:
            metadata["name"] = name
            metadata["namespace"] = self.namespace
        metadata["labels"] = self.labels()
        if self.group.rails:
            metadata["annotations"] = {NETWORKS_ANNOTATION: self.annotation}
        return metadata

    def container(self) -> dict:
        container: dict = {"name": self.options.container_name, "image": self.options.image}
        if self.options.command:
            container["command"] = list(self.options.command)
        if self.env:
            container["env"] = [dict(item) for item in self.env]
        if self.limits:
            container["resources"] = {"limits": dict(self.limits)}
        container["securityContext"] = {"capabilities": {"add": list(RDMA_CAPABILITIES)}}
        return container

    def pod_spec(self, node_name: str | None = None, restart_policy: str | None = None) -> dict:
        spec: dict = {}
        if restart_policy:
            spec["restartPolicy"] = restart_policy
        selector = dict(self.options.node_selector)
        if node_name:
            selector[HOSTNAME_LABEL] = node_name
        if selector:
            spec["nodeSelector"] = selector
        spec["containers"] = [self.container()]
        return spec

    def pod(self, ordinal: int, node_name: str | None = None) -> dict:
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": self.pod_metadata(f"{self.base_name}-{ordinal}"),
            "spec": self.pod_spec(node_name),
        }

    def pod_template(self) -> dict:
        return {
            "apiVersion": "v1",
            "kind": "PodTemplate",
            "metadata": {
                "name": self.base_name,
                "namespace": self.namespace,
                "labels": self.labels(),
            },
            "template": {"metadata": self.pod_metadata(), "spec": self.pod_spec()},
        }

    def job(self) -> dict:
        replicas = self.options.replicas or len(self.plan.nodes) or 1
        return {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": self.base_name,
                "namespace": self.namespace,
                "labels": self.labels(),
            },
            "spec": {
                "completions": replicas,
                "parallelism": replicas,
                "completionMode": "Indexed",
                "backoffLimit": 0,
                "template": {
                    "metadata": self.pod_metadata(),
                    "spec": self.pod_spec(restart_policy="Never"),
                },
            },
        }


def _renderers(plan: PlanSpec, options: PodOptions | dict | None) -> list[_PodRenderer]:
    built = PodOptions.build(plan, options)
    return [_PodRenderer(plan, built, group) for group in pod_groups(plan, built)]


def render_pod_templates(plan: PlanSpec, options: PodOptions | dict | None = None) -> list[dict]:
    """v1 PodTemplates: one for the per-node layout, one per NUMA node for per-numa."""
    return [renderer.pod_template() for renderer in _renderers(plan, options)]


def render_pod(plan: PlanSpec, options: PodOptions | dict | None = None) -> list[dict]:
    """The pod of each template as a plain Pod named <base>-0 (a list: per-numa gives two)."""
    return [renderer.pod(0) for renderer in _renderers(plan, options)]


def render_job(plan: PlanSpec, options: PodOptions | dict | None = None) -> list[dict]:
    """The pod of each template as an Indexed Job with one completion per node by default."""
    return [renderer.job() for renderer in _renderers(plan, options)]


def render_node_pods(plan: PlanSpec, options: PodOptions | dict | None = None) -> list[dict]:
    """One Pod per plan node (per NUMA node with per-numa), pinned by kubernetes.io/hostname."""
    pods = []
    for renderer in _renderers(plan, options):
        for ordinal, node in enumerate(plan.nodes):
            pods.append(renderer.pod(ordinal, node.name))
    return pods


def render_networks(plan: PlanSpec, mode: str = "nad") -> list[dict]:
    if mode == "nad":
        return render_nads(plan)
    if mode == "sriov-operator":
        return render_sriov_networks(plan)
    raise ManifestError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
