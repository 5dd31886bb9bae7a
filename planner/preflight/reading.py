"""What preflight reads from its input: cluster facts, NADs (their CNI config), and the pod spec
of any object that carries one."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from planner import manifests
from planner.planspec import PlanSpec

NETWORKS_ANNOTATION = manifests.NETWORKS_ANNOTATION


RESOURCE_NAME_ANNOTATION = manifests.RESOURCE_NAME_ANNOTATION


SRIOV_OWNER_ANNOTATION = "sriovnetwork.openshift.io/owner-ref"


STRICT_TOPOLOGY_POLICIES = ("single-numa-node",)


DEVICE_CNI_TYPES = ("sriov", "ib-sriov", "host-device")


DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


DEVICE_PLUGIN_RESOURCE = re.compile(r"^[A-Za-z0-9_-]+$")


IFNAMSIZ_MAX = 15


# Where each kind keeps its pod template, and how many pods it asks for.
_TEMPLATE_PATHS = {
    "Pod": (),
    "PodTemplate": ("template",),
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}


SRIOV_NETWORK_KINDS = ("SriovNetwork", "SriovIBNetwork")


POLICY_MISPLACED_FIELDS = ("spoofChk", "trust", "linkState", "maxTxRate", "minTxRate", "vlan")


@dataclass
class ClusterFacts:
    """What is known about a live cluster, as plain data. Every part is optional.

    - nodes: [{"name": "gpu-node-0", "allocatable": {"nvidia.com/gpu": "8", ...},
      "labels": {...}}]; None when unknown. A node's name also matches kubernetes.io/hostname.
    - nads: [{"namespace": ..., "name": ..., "annotations": {...}, "config": "<spec.config>"}]
      existing NADs; None when unknown ([] means "the cluster has none").
    - nic_numa: {node: {resource name or rail index: NUMA node}}; rail indexes need a plan.
    - gpu_numa: {node: {NUMA node: GPU count}}; without it a node's GPUs are taken as split
      evenly across the NUMA nodes its NICs sit on.
    - topology_policy: the kubelets' Topology Manager policy (none, best-effort, restricted,
      single-numa-node); under single-numa-node a NUMA split is an error (the kubelet rejects
      the pod), under the others a warning.
    - pod_cidr, service_cidr: the cluster's, when no plan says.
    - sriov_resource_prefix: the SR-IOV Network Operator's RESOURCE_PREFIX (e.g. nvidia.com).
    """

    nodes: list[dict] | None = None
    nads: list[dict] | None = None
    nic_numa: dict = field(default_factory=dict)
    gpu_numa: dict = field(default_factory=dict)
    topology_policy: str | None = None
    pod_cidr: str | None = None
    service_cidr: str | None = None
    sriov_resource_prefix: str | None = None

    @classmethod
    def coerce(cls, value: ClusterFacts | dict | None) -> ClusterFacts:
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if not isinstance(value, dict):
            raise TypeError("facts must be a ClusterFacts or a dict")
        unknown = set(value) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown cluster facts: {', '.join(sorted(unknown))}")
        return cls(**value)


def describe(obj: dict, index: int | None = None) -> str:
    kind = obj.get("kind") or "object"
    metadata = obj.get("metadata") or {}
    name = metadata.get("name") or metadata.get("generateName")
    namespace = metadata.get("namespace")
    if name:
        return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"
    return f"{kind} (document {index + 1})" if index is not None else kind


@dataclass(eq=False)
class Nad:
    namespace: str | None
    name: str
    ref: str
    resource: str | None
    cni_type: str | None
    rdma_chained: bool = False
    owner: str | None = None
    source: str = "object"  # object | plan | cluster | sriov-network

    @property
    def is_rdma(self) -> bool:
        if self.rdma_chained or self.cni_type in DEVICE_CNI_TYPES:
            return True
        return bool(self.resource and self.resource.startswith("rdma/"))


def parse_config(text) -> tuple[dict | None, str | None]:
    if not isinstance(text, str) or not text.strip():
        return None, "spec.config is missing"
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        return None, f"spec.config is not valid JSON ({error.msg} at line {error.lineno})"
    except RecursionError:
        return None, "spec.config nests too deeply to be a CNI configuration"
    if not isinstance(config, dict):
        return None, "spec.config must be a JSON object"
    return config, None


def main_plugin(config: dict) -> tuple[dict, bool]:
    """The device plugin of a config or conflist, and whether rdma is chained after it."""
    plugins = config.get("plugins")
    if isinstance(plugins, list) and plugins:
        types = [plugin.get("type") for plugin in plugins if isinstance(plugin, dict)]
        first = plugins[0] if isinstance(plugins[0], dict) else {}
        return first, "rdma" in types[1:]
    return config, False


@dataclass
class Workload:
    ref: str
    kind: str
    name: str | None
    namespace: str | None
    base: str  # field path of the pod template, e.g. "spec.template."
    metadata: dict
    spec: dict
    replicas: int | None  # None: as many as nodes match (DaemonSet)


def _dig(obj: dict, path: tuple[str, ...]):
    for key in path:
        obj = obj.get(key) if isinstance(obj, dict) else None
        if obj is None:
            return None
    return obj


def read_workload(obj: dict, index: int, plan: PlanSpec | None) -> Workload | None:
    kind = obj.get("kind")
    path = _TEMPLATE_PATHS.get(kind)
    if path is None:
        return None
    template = _dig(obj, path) if path else obj
    if not isinstance(template, dict):
        return None
    spec = obj.get("spec") or {}
    if kind in ("Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"):
        replicas = spec.get("replicas", 1)
    elif kind == "Job":
        replicas = spec.get("parallelism", 1)
    elif kind == "CronJob":
        replicas = (_dig(spec, ("jobTemplate", "spec")) or {}).get("parallelism", 1)
    elif kind == "PodTemplate":
        replicas = ((plan.pod_options or {}).get("replicas") or len(plan.nodes) or 1) if plan else 1
    elif kind == "DaemonSet":
        replicas = None
    else:
        replicas = 1
    metadata = obj.get("metadata") or {}
    return Workload(
        ref=describe(obj, index),
        kind=kind,
        name=metadata.get("name"),
        namespace=metadata.get("namespace"),
        base="".join(f"{key}." for key in path),
        metadata=template.get("metadata") or {},
        spec=template.get("spec") or {},
        replicas=replicas if isinstance(replicas, int) else 1,
    )


def fmt(amount: float) -> str:
    return str(int(amount)) if float(amount).is_integer() else str(amount)
