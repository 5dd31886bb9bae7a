"""Preflight: findings over manifests, a plan and cluster facts, before anything is applied.

`run(objects, plan=None, facts=None)` checks Kubernetes objects (rendered, pasted or uploaded):
NADs, SriovNetworks, node policies and anything carrying a pod (Pod, PodTemplate, Deployment,
StatefulSet, DaemonSet, ReplicaSet, Job, CronJob). A plan, when given, adds its NADs to the ones
that exist, its rail resources to the known VF resources, its NIC NUMA layout and its pod and
service CIDRs. `check_plan(plan)` holds the plan-level rules. Findings are sorted: errors first.

Cluster facts are plain data, see `ClusterFacts`.
"""

from __future__ import annotations

import difflib
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace

import netaddr

from planner import ipam, manifests, naming, podfacts
from planner.findings import ERROR, WARNING, Finding, finding, sort_findings
from planner.planspec import PlanSpec, RailSpec
from planner.podfacts import parse_networks_annotation, quantity  # noqa: F401 (the public names)
from railstudio import numbers

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
_SRIOV_NETWORK_KINDS = ("SriovNetwork", "SriovIBNetwork")
_POLICY_MISPLACED_FIELDS = ("spoofChk", "trust", "linkState", "maxTxRate", "minTxRate", "vlan")


# ---------------------------------------------------------------------------------------------
# Cluster facts


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


# ---------------------------------------------------------------------------------------------
# Views of the input


def describe(obj: dict, index: int | None = None) -> str:
    kind = obj.get("kind") or "object"
    metadata = obj.get("metadata") or {}
    name = metadata.get("name") or metadata.get("generateName")
    namespace = metadata.get("namespace")
    if name:
        return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"
    return f"{kind} (document {index + 1})" if index is not None else kind


@dataclass(eq=False)
class _Nad:
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


def _parse_config(text) -> tuple[dict | None, str | None]:
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


def _main_plugin(config: dict) -> tuple[dict, bool]:
    """The device plugin of a config or conflist, and whether rdma is chained after it."""
    plugins = config.get("plugins")
    if isinstance(plugins, list) and plugins:
        types = [plugin.get("type") for plugin in plugins if isinstance(plugin, dict)]
        first = plugins[0] if isinstance(plugins[0], dict) else {}
        return first, "rdma" in types[1:]
    return config, False


@dataclass
class _Workload:
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


def _workload(obj: dict, index: int, plan: PlanSpec | None) -> _Workload | None:
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
    return _Workload(
        ref=describe(obj, index),
        kind=kind,
        name=metadata.get("name"),
        namespace=metadata.get("namespace"),
        base="".join(f"{key}." for key in path),
        metadata=template.get("metadata") or {},
        spec=template.get("spec") or {},
        replicas=replicas if isinstance(replicas, int) else 1,
    )


# ---------------------------------------------------------------------------------------------
# Address pools (whereabouts ranges), shared by NAD objects and plan rails


@dataclass
class _Pool:
    ref: str
    fields: dict  # logical name -> field path: range, range_start, range_end, exclude, gateway
    network: netaddr.IPNetwork
    range_start: str | None = None
    range_end: str | None = None
    exclusions: list = field(default_factory=list)  # [(field path, text, span)]
    gateway: str | None = None
    gateway_auto_excluded: bool = False
    planned_pods: int | None = None
    key: tuple | None = None  # identity: pools of the same network are not overlaps

    @property
    def span(self) -> ipam.Span:
        return int(self.network.first), int(self.network.last)


def _span_of_exclusion(text: str, version: int) -> ipam.Span:
    text = str(text).strip()
    if "/" in text:
        network = netaddr.IPNetwork(text)
        return int(network.first), int(network.last)
    return ipam.span_of(text)


def _check_pool(pool: _Pool) -> list[Finding]:
    found = []
    network, version = pool.network, pool.network.version
    if network.size <= 2:
        found.append(
            finding(
                "RANGE_PREFIX_TOO_LONG",
                pool.ref,
                pool.fields["range"],
                f"{network} has no address whereabouts can give: it hands out network+1 .. "
                'broadcast-1 and rejects /31 and /32 with "no usable IP addresses".',
                "Use a /30 or wider range (or nvidia-k8s-ipam's CIDRPool for /31 "
                "point-to-point rails).",
            )
        )
        return found
    usable = (int(network.first) + 1, int(network.last) - 1)
    for bound in ("range_start", "range_end"):
        value = getattr(pool, bound)
        if not value:
            continue
        ip = int(ipam.parse_ip(value))
        if not ipam.contains(usable, (ip, ip)):
            found.append(
                finding(
                    "RANGE_BOUNDS_IGNORED",
                    pool.ref,
                    pool.fields[bound],
                    f"{bound} {value} lies outside the usable addresses of {network}; "
                    "whereabouts silently ignores it.",
                    f"Set {bound} inside {network}, or drop it.",
                )
            )
    for field_path, text, span in pool.exclusions:
        if not ipam.contains(pool.span, span):
            found.append(
                finding(
                    "EXCLUSION_OUTSIDE_RANGE",
                    pool.ref,
                    field_path,
                    f"The exclusion {text} is not inside {network}; whereabouts does not "
                    "check this, so it protects nothing.",
                    f"Correct the exclusion to addresses inside {network}, or remove it.",
                )
            )
    if pool.gateway:
        gateway = int(ipam.parse_ip(pool.gateway))
        start, end = ipam.usable_span(str(network.cidr), pool.range_start, pool.range_end) or usable
        covered = any(ipam.contains(span, (gateway, gateway)) for _, _, span in pool.exclusions)
        if not ipam.contains(pool.span, (gateway, gateway)):
            found.append(
                finding(
                    "GATEWAY_OUTSIDE_SUBNET",
                    pool.ref,
                    pool.fields["gateway"],
                    f"The gateway {pool.gateway} is outside {network}; pods cannot reach it.",
                    f"Use a gateway inside {network}.",
                )
            )
        elif start <= gateway <= end and not covered and not pool.gateway_auto_excluded:
            found.append(
                finding(
                    "GATEWAY_NOT_EXCLUDED",
                    pool.ref,
                    pool.fields["gateway"],
                    f"The gateway {pool.gateway} lies in the pod range and is not excluded; "
                    "whereabouts does not skip it and will give it to a pod.",
                    f'Add "{pool.gateway}/{32 if version == 4 else 128}" to exclude, or start '
                    "the range after the gateway.",
                )
            )
    found.extend(_check_capacity(pool))
    return found


def _check_capacity(pool: _Pool) -> list[Finding]:
    found = []
    network = pool.network
    if pool.planned_pods and network.size > 2:
        exclusions = [span for _, _, span in pool.exclusions]
        if pool.gateway and pool.gateway_auto_excluded:
            gateway = int(ipam.parse_ip(pool.gateway))
            exclusions.append((gateway, gateway))
        space = ipam.RailSpace.build(
            str(network.cidr), exclusions, range_start=pool.range_start, range_end=pool.range_end
        )
        free = ipam.size(space.free_spans())
        if free < pool.planned_pods:
            found.append(
                finding(
                    "POD_RANGE_TOO_SMALL",
                    pool.ref,
                    pool.fields["range"],
                    f"The pod range of {network} holds {free} addresses after exclusions, "
                    f"fewer than the {pool.planned_pods} pods planned on it.",
                    "Widen the range or range_start/range_end, or remove exclusions.",
                )
            )
    return found


def _check_pool_capacity(context: _Context) -> None:
    """NAD pools against the pods in the input that attach them."""
    for pool in context.pools:
        pods = context.attached_pods.get(pool.key)
        if pods:
            context.extend(_check_capacity(replace(pool, planned_pods=pods)))


def _check_overlaps(pools: list[_Pool], cidrs: dict[str, str | None]) -> list[Finding]:
    found = []
    ordered = sorted(pools, key=lambda pool: pool.span)
    for position, pool in enumerate(ordered):
        for other in ordered[position + 1 :]:
            if other.span[0] > pool.span[1]:
                break
            if pool.key is not None and pool.key == other.key:
                continue
            found.append(
                finding(
                    "RAIL_OVERLAP",
                    other.ref,
                    other.fields["range"],
                    f"{other.network} ({other.ref}) overlaps {pool.network} ({pool.ref}); "
                    "rails must be disjoint for their routes and whereabouts pools.",
                    "Give each rail its own subnet.",
                )
            )
    for label, (code, cidr) in cidrs.items():
        if not cidr:
            continue
        try:
            span = ipam.span_of(str(netaddr.IPNetwork(cidr).cidr))
        except (netaddr.AddrFormatError, ValueError):
            continue
        for pool in pools:
            if ipam.overlaps(pool.span, span):
                found.append(
                    finding(
                        code,
                        pool.ref,
                        pool.fields["range"],
                        f"{pool.network} overlaps the {label} {cidr}; pods would route rail "
                        "traffic to the cluster network, or the reverse.",
                        f"Move the rail out of {cidr}.",
                    )
                )
    return found


def _pools_from_ipam(ref: str, prefix: str, ipam_config: dict) -> tuple[list[_Pool], list[Finding]]:
    """Pools of a whereabouts ipam block (`range`, and each `ipRanges` entry)."""
    entries = []
    if ipam_config.get("range"):
        entries.append((prefix, ipam_config))
    for position, entry in enumerate(ipam_config.get("ipRanges") or []):
        if isinstance(entry, dict) and entry.get("range"):
            entries.append((f"{prefix}ipRanges[{position}].", entry))
    pools, found = [], []
    for path, entry in entries:
        try:
            pools.append(_pool_from_entry(ref, path, entry, ipam_config.get("gateway"), prefix))
        except (netaddr.AddrFormatError, ValueError, TypeError) as error:
            found.append(
                finding(
                    "IPAM_INVALID",
                    ref,
                    f"{path}range",
                    f"The whereabouts configuration cannot be read: {error}",
                    "Give range as a CIDR (10.50.0.0/16) or A-B/len, and addresses or CIDRs "
                    "in exclude.",
                )
            )
    return pools, found


def _pool_from_entry(ref: str, path: str, entry: dict, gateway, prefix: str) -> _Pool:
    text = str(entry["range"]).strip()
    range_start, range_end = entry.get("range_start"), entry.get("range_end")
    if "-" in text:
        first, _, rest = text.partition("-")
        last, _, length = rest.partition("/")
        network = netaddr.IPNetwork(f"{first}/{length}").cidr
        range_start, range_end = range_start or first, range_end or last
    else:
        network = netaddr.IPNetwork(text).cidr
    for value in (range_start, range_end, gateway):
        if value:
            ipam.parse_ip(value)
    exclusions = []
    for position, excluded in enumerate(entry.get("exclude") or []):
        span = _span_of_exclusion(excluded, network.version)
        exclusions.append((f"{path}exclude[{position}]", str(excluded), span))
    return _Pool(
        ref=ref,
        fields={
            "range": f"{path}range",
            "range_start": f"{path}range_start",
            "range_end": f"{path}range_end",
            "gateway": f"{prefix}gateway",
        },
        network=network,
        range_start=range_start,
        range_end=range_end,
        exclusions=exclusions,
        gateway=gateway if path == prefix else None,
    )


# ---------------------------------------------------------------------------------------------
# Names


def _ifname_findings(ref: str, field_path: str, names: list[str]) -> list[Finding]:
    found = []
    counts = Counter(names)
    for name in dict.fromkeys(names):
        if len(name) > IFNAMSIZ_MAX:
            found.append(
                finding(
                    "IFNAME_TOO_LONG",
                    ref,
                    field_path,
                    f"The interface name {name!r} has {len(name)} characters; Linux allows 15 "
                    "and Multus rejects it.",
                    "Use a name of at most 15 characters, such as net1 or rail0.",
                )
            )
        if name == "eth0":
            found.append(
                finding(
                    "IFNAME_RESERVED",
                    ref,
                    field_path,
                    "eth0 is the pod's cluster-network interface; a rail cannot take it.",
                    "Name rail interfaces net1..netN (the Multus default) or similar.",
                )
            )
        if "/" in name or any(char.isspace() for char in name):
            found.append(
                finding(
                    "IFNAME_INVALID",
                    ref,
                    field_path,
                    f"The interface name {name!r} contains '/' or whitespace.",
                    "Use letters, digits, '-' and '_' only.",
                )
            )
        if counts[name] > 1:
            found.append(
                finding(
                    "IFNAME_DUPLICATE",
                    ref,
                    field_path,
                    f"{counts[name]} attachments use the interface name {name!r}; the second "
                    "fails to attach.",
                    "Give every attachment its own interface name.",
                )
            )
    return found


def _dns_label_finding(ref: str, field_path: str, name: str, what: str) -> Finding | None:
    problem = naming.dns1123_error(name)
    if not problem:
        return None
    return finding(
        "NAME_NOT_DNS1123",
        ref,
        field_path,
        f"The {what} {problem[0].lower()}{problem[1:]}",
        "Use at most 63 lower-case letters, digits and '-', starting and ending with a letter "
        "or digit.",
    )


def _dns_subdomain_finding(ref: str, field_path: str, name: str, what: str) -> Finding | None:
    if len(name) <= 253 and DNS1123_SUBDOMAIN.match(name):
        return None
    return finding(
        "NAME_NOT_DNS1123",
        ref,
        field_path,
        f"The {what} {name!r} is not a DNS-1123 subdomain.",
        "Use lower-case letters, digits, '-' and '.', starting and ending with a letter or digit.",
    )


def _resource_name_findings(ref: str, field_path: str, resource: str) -> list[Finding]:
    name = resource.rpartition("/")[2]
    if naming.resource_error(resource) or not DEVICE_PLUGIN_RESOURCE.match(name):
        return [
            finding(
                "RESOURCE_NAME_INVALID",
                ref,
                field_path,
                f"{resource!r} is not a device-plugin resource name (prefix/name, the name of "
                "letters, digits, '_' and '-').",
                "Use a name such as nvidia.com/rail0_vf.",
            )
        ]
    if "-" in name:
        upper = re.sub(r"[./]", "_", resource).upper()
        return [
            finding(
                "RESOURCE_NAME_HYPHEN",
                ref,
                field_path,
                f"{resource!r} has a hyphen: the device plugin exports PCIDEVICE_{upper}, "
                "which is not a valid shell variable name.",
                f"Use underscores: {resource.replace('-', '_')}.",
            )
        ]
    return []


# ---------------------------------------------------------------------------------------------
# The run


class _Context:
    """Everything `run` knows, indexed once."""

    def __init__(self, objects: list[dict], plan: PlanSpec | None, facts: ClusterFacts):
        self.objects, self.plan, self.facts = objects, plan, facts
        self.findings: list[Finding] = []
        self.nads: dict[tuple[str | None, str], _Nad] = {}
        self.nads_by_name: dict[str, list[_Nad]] = defaultdict(list)
        self.nads_known = plan is not None or facts.nads is not None
        self.vf_resources: set[str] = set()
        self.pools: list[_Pool] = []
        self.attached_pods: Counter = Counter()  # (namespace, NAD name) -> pods attaching it
        self.roce_nads: list[str] = []
        self.operator_owned: dict[tuple[str | None, str], str] = {}
        self.pod_cidr = (plan.pod_cidr if plan else None) or facts.pod_cidr
        self.service_cidr = (plan.service_cidr if plan else None) or facts.service_cidr
        self.default_namespace = plan.namespace if plan else None
        self._annotation_cache: dict[str, tuple[list[dict] | None, str | None]] = {}
        self._fit_cache: dict = {}
        self._numa_cache: dict = {}
        self.nodes = podfacts.NodeIndex(facts.nodes) if facts.nodes else None
        self.no_nodes = facts.nodes is not None and not facts.nodes  # known: the cluster has none
        self.numa = _NumaIndex.build(plan, facts)

    def add(self, item: Finding | None) -> None:
        if item is not None:
            self.findings.append(item)

    def extend(self, items) -> None:
        self.findings.extend(items)

    def register_nad(self, nad: _Nad) -> None:
        key = (nad.namespace, nad.name)
        self.nads.setdefault(key, nad)
        self.nads_by_name[nad.name].append(nad)
        if nad.resource:
            self.vf_resources.add(nad.resource)

    def find_nad(self, namespace: str | None, name: str) -> _Nad | None:
        """The NAD an attachment names; a side without a namespace matches any namespace."""
        nad = self.nads.get((namespace, name))
        if nad is not None:
            return nad
        for candidate in self.nads_by_name.get(name, ()):
            if namespace is None or candidate.namespace is None:
                return candidate
        return None

    def annotation(self, value: str) -> tuple[list[dict] | None, str | None]:
        cached = self._annotation_cache.get(value)
        if cached is None:
            try:
                cached = (parse_networks_annotation(value), None)
            except ValueError as error:
                cached = (None, str(error))
            self._annotation_cache[value] = cached
        return cached


_SHAPE_ERRORS = (AttributeError, TypeError, ValueError, KeyError)


def run(
    objects: list[dict],
    plan: PlanSpec | None = None,
    facts: ClusterFacts | dict | None = None,
) -> list[Finding]:
    """Findings over `objects` (in the order given), the plan as context, and cluster facts.

    An object with a field of the wrong type (say `spec: 5`) becomes an OBJECT_MALFORMED finding
    and the others are still checked."""
    try:
        return _run(objects, plan, facts)
    except _SHAPE_ERRORS:
        checkable, malformed = [], []
        for index, obj in enumerate(objects):
            try:
                _run([obj], plan, facts)
                checkable.append(obj)
            except _SHAPE_ERRORS as error:
                malformed.append(
                    finding(
                        "OBJECT_MALFORMED",
                        describe(obj, index) if isinstance(obj, dict) else f"object {index + 1}",
                        "",
                        f"A field has the wrong type (e.g. a number where a mapping or list "
                        f"belongs), so it could not be checked: {error}",
                        "Compare the object with the Kubernetes API reference for its kind.",
                    )
                )
        return sort_findings(_run(checkable, plan, facts) + malformed)


def _run(objects: list[dict], plan: PlanSpec | None, facts) -> list[Finding]:
    context = _Context(list(objects), plan, ClusterFacts.coerce(facts))
    if plan is not None:
        _register_plan_nads(context, plan)
    for nad in context.facts.nads or []:
        _register_cluster_nad(context, nad)
    for index, obj in enumerate(context.objects):
        if not isinstance(obj, dict):
            continue
        kind = obj.get("kind")
        if kind == manifests.NAD_KIND:
            _check_nad_object(context, obj, index)
        elif kind in _SRIOV_NETWORK_KINDS:
            _check_sriov_network(context, obj, index)
        elif kind == "SriovNetworkNodePolicy":
            _check_node_policy(context, obj, index)
    context.extend(_check_overlaps(context.pools, _cluster_cidrs(context)))
    workloads = [_workload(obj, index, plan) for index, obj in enumerate(context.objects)]
    workloads = [workload for workload in workloads if workload is not None]
    for workload in workloads:
        _check_workload(context, workload)
    _check_pool_capacity(context)
    if workloads and not context.nads_known and not context.nads:
        context.add(
            finding(
                "NAD_UNVERIFIED",
                "input",
                "",
                "No NADs, plan or cluster facts were given, so the networks annotations were not "
                "checked against existing NADs.",
                "Include the NADs in the input, or check against a plan or a registered "
                "cluster's live NADs (Lint YAML offers both).",
            )
        )
    if context.roce_nads:
        context.add(_roce_reminder("input", context.roce_nads))
    return sort_findings(context.findings)


def _cluster_cidrs(context: _Context) -> dict:
    return {
        "pod CIDR": ("RAIL_OVERLAPS_POD_CIDR", context.pod_cidr),
        "service CIDR": ("RAIL_OVERLAPS_SERVICE_CIDR", context.service_cidr),
    }


def _roce_reminder(ref: str, names: list[str]) -> Finding:
    shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
    return finding(
        "ROCE_DSCP_TRUST",
        ref,
        "",
        f"RoCE rails ({shown}) need the NIC to trust DSCP for lossless RDMA; no Kubernetes "
        "object shows this, and without it pods ping but RDMA hangs or crawls.",
        "On every node, for each rail PF: mlnx_qos -i <pf> --trust dscp (VFs inherit it), and "
        "match the switch's PFC/ECN configuration.",
    )


def _register_plan_nads(context: _Context, plan: PlanSpec) -> None:
    options = manifests.cni_options(plan)
    for rail in plan.rails:
        context.register_nad(
            _Nad(
                namespace=plan.namespace,
                name=rail.nad_name,
                ref=f"plan {plan.slug} rail {rail.index}",
                resource=rail.resource_name or None,
                cni_type=plan.cni_type,
                rdma_chained=bool(options.get("rdma")),
                source="plan",
            )
        )


def _register_cluster_nad(context: _Context, entry: dict) -> None:
    if not isinstance(entry, dict) or not entry.get("name"):
        return
    annotations = entry.get("annotations") or {}
    config, _ = _parse_config(entry.get("config"))
    plugin, rdma = _main_plugin(config or {})
    nad = _Nad(
        namespace=entry.get("namespace"),
        name=entry["name"],
        ref=f"{manifests.NAD_KIND} {entry.get('namespace')}/{entry['name']} (cluster)",
        resource=annotations.get(RESOURCE_NAME_ANNOTATION),
        cni_type=plugin.get("type"),
        rdma_chained=rdma,
        owner=annotations.get(SRIOV_OWNER_ANNOTATION),
        source="cluster",
    )
    context.register_nad(nad)
    if nad.owner:
        context.operator_owned[(nad.namespace, nad.name)] = nad.owner


def _check_nad_object(context: _Context, obj: dict, index: int) -> None:
    ref = describe(obj, index)
    metadata = obj.get("metadata") or {}
    name, namespace = metadata.get("name") or "", metadata.get("namespace")
    annotations = metadata.get("annotations") or {}
    context.add(_dns_label_finding(ref, "metadata.name", name, "NAD name"))
    if namespace:
        context.add(_dns_label_finding(ref, "metadata.namespace", namespace, "namespace"))
    key = (namespace or context.default_namespace, name)
    existing = context.nads.get(key)
    if existing is not None and existing.source == "object":
        context.add(
            finding(
                "NAD_NAME_DUPLICATE",
                ref,
                "metadata.name",
                f"The NAD {name} appears twice in {namespace or 'the input'}; the second "
                "replaces the first.",
                "Give each rail's NAD its own name.",
            )
        )
    owner = context.operator_owned.get(key)
    if owner:
        context.add(_operator_conflict(ref, name, key[0], owner))
    config, problem = _parse_config((obj.get("spec") or {}).get("config"))
    if problem:
        missing = "missing" in problem
        context.add(
            finding(
                "NAD_CONFIG_INVALID",
                ref,
                "spec.config",
                problem
                + (
                    "; Multus then looks for a file of that name in its confDir"
                    if missing
                    else "; Multus cannot attach this network"
                ),
                "Put the CNI configuration JSON in spec.config.",
                severity=WARNING if missing else ERROR,
            )
        )
    plugin, rdma = _main_plugin(config or {})
    cni_type = plugin.get("type")
    if config is not None and not cni_type:
        context.add(
            finding(
                "NAD_CONFIG_INVALID",
                ref,
                "spec.config.type",
                "The CNI configuration names no plugin type.",
                'Set "type", e.g. "sriov".',
            )
        )
    resource = annotations.get(RESOURCE_NAME_ANNOTATION)
    resource_field = f'metadata.annotations["{RESOURCE_NAME_ANNOTATION}"]'
    if resource:
        context.extend(_resource_name_findings(ref, resource_field, resource))
    elif cni_type in ("sriov", "ib-sriov") or (
        cni_type == "host-device" and not ({"device", "pciBusID", "hwaddr"} & set(plugin))
    ):
        context.add(
            finding(
                "NAD_RESOURCE_ANNOTATION_MISSING",
                ref,
                resource_field,
                f"A {cni_type} NAD without the resourceName annotation gets no device from "
                'Multus: SR-IOV CNI fails with "LoadConf(): VF pci addr is required".',
                f"Add the annotation {RESOURCE_NAME_ANNOTATION}: <the VF pool, e.g. "
                "nvidia.com/rail0_vf>.",
            )
        )
    nad = _Nad(key[0], name, ref, resource, cni_type, rdma)
    context.register_nad(nad)
    if context.nads.get(key) is not nad and context.nads[key].source != "object":
        context.nads[key] = nad  # the object being applied replaces what exists
    if cni_type in ("sriov", "macvlan") and _link_is_eth(context.plan):
        context.roce_nads.append(name)
    ipam_config = plugin.get("ipam") if isinstance(plugin.get("ipam"), dict) else None
    if ipam_config and ipam_config.get("type") == "whereabouts":
        _add_pools(context, ref, "spec.config.ipam.", ipam_config, key)


def _link_is_eth(plan: PlanSpec | None) -> bool:
    return plan is None or manifests.link_type(plan) == "eth"


def _add_pools(context: _Context, ref: str, prefix: str, ipam_config: dict, key) -> None:
    pools, found = _pools_from_ipam(ref, prefix, ipam_config)
    context.extend(found)
    for pool in pools:
        pool.key = key
        context.extend(_check_pool(pool))
        context.pools.append(pool)


def _operator_conflict(ref: str, name: str, namespace, owner: str) -> Finding:
    return finding(
        "SRIOV_OPERATOR_CONFLICT",
        ref,
        "metadata.name",
        f"The NAD {namespace}/{name} is owned by the SR-IOV Network Operator ({owner}); it "
        "reverts any change and refuses a second owner.",
        "Rename the NAD, or manage this network through its SriovNetwork instead.",
    )


def _check_sriov_network(context: _Context, obj: dict, index: int) -> None:
    ref = describe(obj, index)
    metadata, spec = obj.get("metadata") or {}, obj.get("spec") or {}
    name = metadata.get("name") or ""
    namespace = spec.get("networkNamespace") or metadata.get("namespace")
    context.add(_dns_label_finding(ref, "metadata.name", name, "network name"))
    if "metaPluginsConfig" in spec:
        context.add(
            finding(
                "SRIOV_FIELD_UNKNOWN",
                ref,
                "spec.metaPluginsConfig",
                "metaPluginsConfig is not a SriovNetwork field (the operator docs misspell it); "
                "the API server prunes it and the rdma chain is silently dropped.",
                "Rename it to metaPlugins.",
            )
        )
    resource = spec.get("resourceName") or ""
    prefix = context.facts.sriov_resource_prefix or _plan_prefix(context.plan) or "openshift.io"
    full_resource = f"{prefix}/{resource}" if resource and "/" not in resource else resource
    if full_resource:
        context.extend(_resource_name_findings(ref, "spec.resourceName", full_resource))
    key = (namespace or context.default_namespace, name)
    owner = f"SriovNetwork.sriovnetwork.openshift.io/{metadata.get('namespace')}/{name}"
    nad = _Nad(
        key[0],
        name,
        ref,
        full_resource or None,
        "ib-sriov" if obj.get("kind") == "SriovIBNetwork" else "sriov",
        rdma_chained="rdma" in str(spec.get("metaPlugins") or ""),
        owner=owner,
        source="sriov-network",
    )
    for other in context.nads_by_name.get(name, []):
        if other.namespace == key[0] and other.source == "object":
            context.add(_operator_conflict(other.ref, name, key[0], owner))
    context.register_nad(nad)
    context.operator_owned[key] = owner
    if nad.cni_type == "sriov" and _link_is_eth(context.plan):
        context.roce_nads.append(name)
    try:
        ipam_config = json.loads(spec["ipam"]) if spec.get("ipam") else None
    except (json.JSONDecodeError, TypeError, RecursionError):
        context.add(
            finding(
                "IPAM_INVALID",
                ref,
                "spec.ipam",
                "spec.ipam is not valid JSON.",
                "Write the whereabouts ipam block as a JSON string.",
            )
        )
        return
    if isinstance(ipam_config, dict) and ipam_config.get("type") == "whereabouts":
        _add_pools(context, ref, "spec.ipam.", ipam_config, key)


def _plan_prefix(plan: PlanSpec | None) -> str | None:
    if plan is None:
        return None
    if manifests.cni_options(plan).get("resource_prefix"):
        return plan.cni_options["resource_prefix"]
    prefixes = {rail.resource_name.rpartition("/")[0] for rail in plan.rails}
    return prefixes.pop() if len(prefixes) == 1 else None


def _check_node_policy(context: _Context, obj: dict, index: int) -> None:
    ref = describe(obj, index)
    spec = obj.get("spec") or {}
    selector = spec.get("nicSelector") or {}
    if "pfName" in selector:
        context.add(
            finding(
                "SRIOV_FIELD_UNKNOWN",
                ref,
                "spec.nicSelector.pfName",
                "nicSelector has pfNames (a list), not pfName; the API server prunes it and the "
                "policy selects no NIC by name.",
                "Write pfNames: [<pf>, ...].",
            )
        )
    for key in _POLICY_MISPLACED_FIELDS:
        if key in spec:
            context.add(
                finding(
                    "SRIOV_FIELD_UNKNOWN",
                    ref,
                    f"spec.{key}",
                    f"{key} is not a SriovNetworkNodePolicy field (it belongs to SriovNetwork); "
                    "the API server prunes it.",
                    f"Set {key} on the SriovNetwork of this resource.",
                    severity=WARNING,
                )
            )
    resource = spec.get("resourceName")
    if resource:
        prefix = context.facts.sriov_resource_prefix or _plan_prefix(context.plan) or "openshift.io"
        context.extend(_resource_name_findings(ref, "spec.resourceName", f"{prefix}/{resource}"))


# ---------------------------------------------------------------------------------------------
# Pods


def _fmt(amount: float) -> str:
    return str(int(amount)) if float(amount).is_integer() else str(amount)


def _check_workload(context: _Context, workload: _Workload) -> None:
    ref, base = workload.ref, workload.base
    if workload.name:
        what = "pod name" if workload.kind == "Pod" else "object name"
        context.add(_dns_subdomain_finding(ref, "metadata.name", workload.name, what))
    namespace = workload.namespace or context.default_namespace
    requested, containers = podfacts.spec_requests(workload.spec)
    annotation = (workload.metadata.get("annotations") or {}).get(NETWORKS_ANNOTATION)
    annotation_field = f'{base}metadata.annotations["{NETWORKS_ANNOTATION}"]'
    attachments: list[dict] = []
    if annotation is not None:
        parsed, problem = context.annotation(str(annotation))
        if problem:
            context.add(
                finding(
                    "NETWORKS_ANNOTATION_INVALID",
                    ref,
                    annotation_field,
                    f"Multus cannot read the networks annotation: {problem}.",
                    'Write a JSON list such as [{"name": "sriov-rail-0", "interface": "net1"}].',
                )
            )
        attachments = parsed or []
    resolved = _check_attachments(context, workload, attachments, namespace, annotation_field)
    needed: Counter = Counter(nad.resource for nad in resolved if nad and nad.resource)
    unresolved = any(nad is None for nad in resolved)
    for nad in dict.fromkeys(nad for nad in resolved if nad is not None):
        context.attached_pods[(nad.namespace, nad.name)] += workload.replicas or 1
    uses_rdma = any(nad is None or nad.is_rdma for nad in resolved) or any(
        resource in context.vf_resources for resource in requested
    )
    limits_index = _first_container(containers, needed)
    limits_field = f"{base}spec.containers[{limits_index}].resources.limits"
    _check_vf_counts(context, ref, limits_field, requested, needed, unresolved)
    if uses_rdma and containers:
        rdma_resources = set(needed) | (set(requested) & context.vf_resources)
        _check_capabilities(context, ref, base, containers, rdma_resources)
    if context.nodes is not None:
        _check_fit(context, workload, requested)
    elif context.no_nodes:
        _resources_unverified(context, workload, requested)
    if context.numa is not None:
        _check_numa(context, workload, requested)


def _first_container(containers: list[dict], needed: Counter) -> int:
    for index, container in enumerate(containers):
        if set(podfacts.container_requests(container)) & set(needed):
            return index
    return 0


def _check_attachments(
    context: _Context, workload: _Workload, attachments: list[dict], namespace, field_path: str
) -> list[_Nad | None]:
    ref = workload.ref
    resolved: list[_Nad | None] = []
    interfaces = []
    for attachment in attachments:
        name = attachment["name"]
        target_namespace = attachment["namespace"] or namespace
        interfaces.append(attachment["interface"] or f"net{attachment['position'] + 1}")
        context.add(_dns_label_finding(ref, field_path, name, "network name"))
        nad = context.find_nad(target_namespace, name)
        if nad is None and (context.nads_known or context.nads):
            context.add(_nad_not_found(context, ref, field_path, name, target_namespace))
        resolved.append(nad)
    context.extend(_ifname_findings(ref, field_path, interfaces))
    return resolved


def _nad_not_found(context: _Context, ref, field_path, name: str, namespace) -> Finding:
    same_name = [nad for nad in context.nads_by_name.get(name, []) if nad.namespace != namespace]
    if same_name:
        elsewhere = same_name[0].namespace
        return finding(
            "NAD_NOT_FOUND",
            ref,
            field_path,
            f"The NAD {name} is not in namespace {namespace} but in {elsewhere}; Multus "
            "reports NoNetworkFound and the pod stays in ContainerCreating.",
            f'Add "namespace": "{elsewhere}" to the attachment, or create the NAD in {namespace}.',
        )
    in_namespace = sorted(
        {key[1] for key in context.nads if key[0] == namespace or namespace is None}
    )
    candidates = in_namespace or sorted({key[1] for key in context.nads})
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    hint = f' Did you mean "{close[0]}"?' if close else ""
    return finding(
        "NAD_NOT_FOUND",
        ref,
        field_path,
        f"No NAD named {name} exists in namespace {namespace or '(the pod namespace)'}: the pod "
        f"starts without that interface, or stays in ContainerCreating (NoNetworkFound).{hint}",
        f'Use "{close[0]}"' if close else "Match the annotation to a NAD's metadata.name exactly.",
    )


def _check_vf_counts(context, ref, limits_field, requested, needed: Counter, unresolved) -> None:
    for resource, count in needed.items():
        have = requested.get(resource, 0)
        if have == 0:
            context.add(
                finding(
                    "VF_RESOURCE_MISSING",
                    ref,
                    limits_field,
                    f"{count} attachment(s) use {resource}, but the pod does not request it: "
                    'Multus finds no device and SR-IOV CNI fails with "LoadConf(): VF pci addr '
                    'is required".',
                    f"Add {resource}: {count} to resources.limits.",
                )
            )
        elif have < count:
            context.add(
                finding(
                    "VF_COUNT_MISMATCH",
                    ref,
                    f'{limits_field}["{resource}"]',
                    f"{count} attachments use {resource} but the pod requests {_fmt(have)}; "
                    "Multus hands devices out in order, so the last attachments get none "
                    '("VF pci addr is required").',
                    f"Request {resource}: {count}, one per attachment.",
                )
            )
        elif have > count and not unresolved:
            context.add(
                finding(
                    "VF_COUNT_MISMATCH",
                    ref,
                    f'{limits_field}["{resource}"]',
                    f"The pod requests {_fmt(have)} of {resource} but only {count} attachment(s) "
                    "use it; the extra VFs are allocated and sit idle.",
                    f"Request {resource}: {count}.",
                    severity=WARNING,
                )
            )
    if unresolved:
        return
    for resource in requested:
        if resource in context.vf_resources and resource not in needed:
            context.add(
                finding(
                    "VF_RESOURCE_UNUSED",
                    ref,
                    f'{limits_field}["{resource}"]',
                    f"The pod requests {resource}, but none of its attachments uses a NAD with "
                    "that resource; the VF is allocated and never attached.",
                    "Attach the rail's NAD in the networks annotation, or drop the request.",
                )
            )


_CAPABILITY_PROBLEMS = {
    "IPC_LOCK": (
        "IPC_LOCK_MISSING",
        "The container attaches RDMA rails without IPC_LOCK: RDMA cannot pin memory "
        "and ibv_devinfo shows nothing useful.",
        'Add "IPC_LOCK" to securityContext.capabilities.add.',
    ),
    "SYS_NICE": (
        "SYS_NICE_MISSING",
        "The container lacks SYS_NICE, which NCCL uses to raise its threads' priority.",
        'Add "SYS_NICE" to securityContext.capabilities.add.',
    ),
}


def _check_capabilities(context, ref, base, containers, rdma_resources: set[str]) -> None:
    requests = [podfacts.container_requests(container) for container in containers]
    for index in podfacts.rdma_containers(requests, rdma_resources):
        names, privileged = podfacts.capabilities(containers[index])
        field_path = f"{base}spec.containers[{index}].securityContext.capabilities.add"
        for missing in podfacts.missing_rdma_capabilities(names, privileged):
            code, problem, fix = _CAPABILITY_PROBLEMS[missing]
            context.add(finding(code, ref, field_path, problem, fix))


# ---------------------------------------------------------------------------------------------
# Cluster fit and NUMA


def _resources_unverified(
    context: _Context, workload: _Workload, requested: dict[str, float]
) -> None:
    extended = sorted(
        res for res, amount in requested.items() if podfacts.is_extended(res) and amount
    )
    if not extended:
        return
    context.add(
        finding(
            "RESOURCES_UNVERIFIED",
            workload.ref,
            f"{workload.base}spec.containers",
            f"The cluster has no nodes, so whether any node advertises {', '.join(extended)} "
            "could not be checked: the pod will stay Pending until nodes that do join.",
            "Join the GPU nodes (with the SR-IOV device plugin running) and check again.",
        )
    )


def _check_fit(context: _Context, workload: _Workload, requested: dict[str, float]) -> None:
    nodes = context.nodes
    extended = {
        res: amount for res, amount in requested.items() if podfacts.is_extended(res) and amount
    }
    missing = sorted(res for res in extended if not nodes.advertised[res])
    for resource in missing:
        context.add(
            finding(
                "RESOURCE_NOT_ADVERTISED",
                workload.ref,
                f"{workload.base}spec.containers",
                f"No node advertises {resource}: the pod stays Pending (FailedScheduling, "
                f"Insufficient {resource}) or ContainerCreating with no resources available.",
                "Check the SR-IOV device plugin / operator: its config must create this "
                "resource and the NICs must have VFs (kubectl get node -o "
                "jsonpath='{.status.allocatable}').",
            )
        )
    selector = workload.spec.get("nodeSelector") or {}
    selector_key = tuple(sorted((str(k), str(v)) for k, v in selector.items()))
    candidates = nodes.matching(selector)
    if selector and not candidates:
        context.add(
            finding(
                "NODE_SELECTOR_NO_MATCH",
                workload.ref,
                f"{workload.base}spec.nodeSelector",
                f"No known node matches the nodeSelector {dict(selector_key)}.",
                "Correct the nodeSelector or the node labels.",
            )
        )
        return
    if missing or not extended or workload.replicas is None:
        return
    key = (tuple(sorted(extended.items())), selector_key)
    if key not in context._fit_cache:
        fitting = slots = 0
        for name in candidates:
            per_node = min(
                int(nodes.amount(name, res) // amount) for res, amount in extended.items()
            )
            fitting += per_node > 0
            slots += per_node
        context._fit_cache[key] = (fitting, slots, len(candidates))
    fitting, slots, total = context._fit_cache[key]
    if slots < workload.replicas:
        context.add(
            finding(
                "RESOURCE_TOO_FEW_NODES",
                workload.ref,
                f"{workload.base}spec.containers",
                f"{workload.replicas} replica(s) wanted, but only {fitting} of {total} node(s) "
                f"can fit one (room for {slots} pod(s) in all, by allocatable "
                f"{', '.join(sorted(extended))}).",
                "Add nodes or VFs (numVfs), lower the replicas, or request fewer resources "
                "per pod.",
            )
        )


@dataclass
class _NodeNuma:
    resource_numa: dict[str, int]
    gpus: dict[int, int]


class _NumaIndex:
    """Per node: the NUMA node of each VF resource, and GPUs per NUMA node."""

    def __init__(self, nodes: dict[str, _NodeNuma], gpu_resource: str):
        self.nodes = nodes
        self.gpu_resource = gpu_resource

    @classmethod
    def build(cls, plan: PlanSpec | None, facts: ClusterFacts) -> _NumaIndex | None:
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


def _check_numa(context: _Context, workload: _Workload, requested: dict[str, float]) -> None:
    index = context.numa
    gpus = requested.get(index.gpu_resource, 0)
    vf_resources = tuple(sorted(res for res in requested if res in context.vf_resources))
    if not gpus or not vf_resources:
        return
    selector = workload.spec.get("nodeSelector") or {}
    hostname = selector.get(manifests.HOSTNAME_LABEL)
    candidates = [hostname] if hostname in index.nodes else None
    if hostname and candidates is None:
        return
    key = (gpus, vf_resources, hostname)
    if key not in context._numa_cache:
        context._numa_cache[key] = _numa_verdict(index, gpus, vf_resources, candidates)
    verdict = context._numa_cache[key]
    if verdict is None:
        return
    numa_ids, max_gpus, local_gpus = verdict
    if len(numa_ids) > 1:
        reason = f"its VFs sit on NUMA nodes {', '.join(map(str, numa_ids))}"
    else:
        reason = f"NUMA node {numa_ids[0]}, where its VFs sit, has {local_gpus} GPU(s)"
    strict = context.facts.topology_policy in STRICT_TOPOLOGY_POLICIES
    context.add(
        finding(
            "NUMA_SPLIT",
            workload.ref,
            f"{workload.base}spec.containers",
            f"The pod's {_fmt(gpus)} GPU(s) and {len(vf_resources)} rail VF(s) cannot share one "
            f"NUMA node ({reason}; at most {max_gpus} GPU(s) per NUMA node): RDMA works, but "
            "traffic crosses the socket link and throughput can halve. Topology Manager "
            "single-numa-node cannot admit such a pod (8 GPUs + 8 rails across two sockets "
            "never fit one NUMA node): the kubelet rejects it with TopologyAffinityError.",
            "Use one pod per NUMA node (its GPUs + that socket's rails: layout per-numa), or "
            "keep whole-node pods under the restricted or best-effort policy.",
            severity=ERROR if strict else WARNING,
        )
    )


def _numa_verdict(index: _NumaIndex, gpus, vf_resources, candidates):
    """None when some candidate node can align the pod on one NUMA node, else
    (NUMA nodes of its VFs, most GPUs on one NUMA node, GPUs on the VFs' NUMA node)."""
    judged = None
    for name in candidates or index.nodes:
        numa = index.nodes[name]
        placements = [numa.resource_numa.get(resource) for resource in vf_resources]
        if any(place is None for place in placements):
            continue
        numa_ids = sorted(set(placements))
        local_gpus = numa.gpus.get(numa_ids[0], 0)
        if len(numa_ids) == 1 and (not numa.gpus or local_gpus >= gpus):
            return None
        judged = judged or (numa_ids, max(numa.gpus.values(), default=0), local_gpus)
    return judged


# ---------------------------------------------------------------------------------------------
# Plan-level rules


def _rail_ref(rail: RailSpec) -> str:
    return f"rail {rail.index} ({rail.nad_name})"


def check_plan(plan: PlanSpec) -> list[Finding]:
    """Plan-level rules: options, names, addresses, overlaps and NIC inventory."""
    found: list[Finding] = []
    plan_ref = f"plan {plan.slug}"
    for problem in manifests.cni_option_errors(plan):
        found.append(
            finding("CNI_OPTION_INVALID", plan_ref, "cni_options", problem, "Correct or remove it.")
        )
    pod_problems = manifests.pod_option_errors(plan)
    for problem in pod_problems:
        found.append(
            finding("POD_OPTION_INVALID", plan_ref, "pod_options", problem, "Correct or remove it.")
        )
    found.append(_dns_label_finding(plan_ref, "namespace", plan.namespace, "namespace"))
    rails = sorted(plan.rails, key=lambda rail: rail.index)
    found.extend(_plan_name_findings(rails))
    planned = _planned_pods(plan) if not pod_problems else {}
    pools = []
    for rail in rails:
        if rail.vlan is not None and not 0 <= rail.vlan <= 4094:
            found.append(
                finding(
                    "VLAN_INVALID",
                    _rail_ref(rail),
                    "vlan",
                    f"VLAN {rail.vlan} is outside 0-4094.",
                    "Use a VLAN id from 1 to 4094, or 0 for none.",
                )
            )
        try:
            pool = _rail_pool(rail, planned.get(rail.index))
        except (netaddr.AddrFormatError, ValueError, TypeError) as error:
            found.append(
                finding(
                    "IPAM_INVALID",
                    _rail_ref(rail),
                    "subnet",
                    f"The rail's addresses cannot be read: {error}",
                    "Correct the subnet, range and exclusions.",
                )
            )
            continue
        found.extend(_check_pool(pool))
        pools.append(pool)
    cidrs = {
        "pod CIDR": ("RAIL_OVERLAPS_POD_CIDR", plan.pod_cidr),
        "service CIDR": ("RAIL_OVERLAPS_SERVICE_CIDR", plan.service_cidr),
    }
    found.extend(_check_overlaps(pools, cidrs))
    found.extend(_nic_findings(plan, rails))
    if plan.cni_type in ("sriov", "macvlan", "host-device") and manifests.link_type(plan) == "eth":
        found.append(_roce_reminder(plan_ref, [rail.nad_name for rail in rails]))
    return sort_findings(item for item in found if item is not None)


def _planned_pods(plan: PlanSpec) -> dict[int, int]:
    try:
        options = manifests.PodOptions.build(plan)
        groups = manifests.pod_groups(plan, options)
    except manifests.ManifestError:
        return {}
    pods = options.replicas or len(plan.nodes)
    return {rail.index: pods for group in groups for rail in group.rails}


def _rail_pool(rail: RailSpec, planned_pods: int | None) -> _Pool:
    network = netaddr.IPNetwork(rail.subnet).cidr
    for value in (rail.range_start, rail.range_end, rail.gateway):
        if value:
            ipam.parse_ip(value)
    exclusions = []
    for position, exclusion in enumerate(rail.exclusions):
        text = exclusion.cidr or f"{exclusion.start}-{exclusion.end or exclusion.start}"
        if exclusion.cidr:
            span = _span_of_exclusion(exclusion.cidr, network.version)
        else:
            span = ipam.range_span(exclusion.start, exclusion.end or exclusion.start)
        exclusions.append((f"exclusions[{position}]", text, span))
    return _Pool(
        ref=_rail_ref(rail),
        fields={
            "range": "subnet",
            "range_start": "range_start",
            "range_end": "range_end",
            "gateway": "gateway",
        },
        network=network,
        range_start=rail.range_start,
        range_end=rail.range_end,
        exclusions=exclusions,
        gateway=rail.gateway,
        gateway_auto_excluded=True,
        planned_pods=planned_pods,
        key=("rail", rail.index),
    )


def _plan_name_findings(rails: list[RailSpec]) -> list[Finding]:
    found: list[Finding | None] = []
    nad_names = Counter(rail.nad_name for rail in rails)
    resources = Counter(rail.resource_name for rail in rails if rail.resource_name)
    for rail in rails:
        ref = _rail_ref(rail)
        found.append(_dns_label_finding(ref, "nad_name", rail.nad_name, "NAD name"))
        if nad_names[rail.nad_name] > 1:
            found.append(
                finding(
                    "NAD_NAME_DUPLICATE",
                    ref,
                    "nad_name",
                    f"{nad_names[rail.nad_name]} rails share the NAD name {rail.nad_name}.",
                    "Give each rail its own NAD name (the template needs {rail}).",
                )
            )
        if rail.resource_name:
            found.extend(_resource_name_findings(ref, "resource_name", rail.resource_name))
            if resources[rail.resource_name] > 1:
                found.append(
                    finding(
                        "RESOURCE_SHARED_BY_RAILS",
                        ref,
                        "resource_name",
                        f"{resources[rail.resource_name]} rails share {rail.resource_name}: a pod "
                        "may get a VF of the wrong rail for an attachment.",
                        "Give each rail its own VF pool (nvidia.com/rail{rail}_vf).",
                    )
                )
    interfaces = [rail.interface_name for rail in rails]
    found.extend(_ifname_findings("plan rails", "interface_name", interfaces))
    return [item for item in found if item is not None]


def _nic_findings(plan: PlanSpec, rails: list[RailSpec]) -> list[Finding]:
    if not plan.nodes:
        return []
    found = []
    for rail in rails:
        without = [
            node.name
            for node in plan.nodes
            if not any(nic.rail_index == rail.index for nic in node.nics)
        ]
        if without:
            shown = ", ".join(without[:5]) + (" ..." if len(without) > 5 else "")
            found.append(
                finding(
                    "NIC_MISSING",
                    _rail_ref(rail),
                    "nodes",
                    f"{len(without)} of {len(plan.nodes)} node(s) have no NIC recorded for this "
                    f"rail ({shown}); NUMA checks, NCCL_IB_HCA and node policies skip them.",
                    "Record each node's NIC for the rail (PF name, PCI address, NUMA node).",
                )
            )
        vf_counts = Counter(
            nic.vf_count for node in plan.nodes for nic in node.nics if nic.rail_index == rail.index
        )
        if len(vf_counts) > 1:
            spread = ", ".join(
                f"{count} VFs on {nodes} node(s)" for count, nodes in sorted(vf_counts.items())
            )
            found.append(
                finding(
                    "NIC_VF_COUNT_UNEVEN",
                    _rail_ref(rail),
                    "nodes",
                    f"Nodes differ in VFs on this rail ({spread}); one node policy sets one "
                    "numVfs for all of them.",
                    "Use the same VF count on every node, or split the nodes into policies.",
                )
            )
    return found


def check_rendered(
    plan: PlanSpec,
    mode: str = "nad",
    pod_options: manifests.PodOptions | dict | None = None,
    facts: ClusterFacts | dict | None = None,
) -> list[Finding]:
    """Plan-level findings plus findings over the rendered bundle (what the Manifests tab shows).

    Raises ManifestError for an unknown mode; other rendering problems become findings."""
    if mode not in manifests.MODES:
        raise manifests.ManifestError(f"mode must be one of {', '.join(manifests.MODES)}")
    found = check_plan(plan)
    try:
        bundle = manifests.render_bundle(plan, mode, pod_options)
    except manifests.ManifestError as error:
        return sort_findings(found + _render_problems(plan, error.errors, found))
    bundle_findings = [
        item
        for item in run(bundle, plan, facts)
        if item.code != "ROCE_DSCP_TRUST" and not item.object.startswith(_PLAN_DERIVED_KINDS)
    ]
    return sort_findings(found + bundle_findings)


def _render_problems(plan: PlanSpec, problems: list[str], found: list[Finding]) -> list[Finding]:
    """Findings for why rendering failed, shaped like check_plan's so repeats collapse."""
    addresses_reported = any(item.code == "IPAM_INVALID" for item in found)
    result = []
    for problem in problems:
        if problem.startswith("rail ") and addresses_reported:
            continue
        is_pod = "pod option" in problem or "layout" in problem
        code, field_name = (
            ("POD_OPTION_INVALID", "pod_options")
            if is_pod
            else ("CNI_OPTION_INVALID", "cni_options")
        )
        result.append(
            finding(code, f"plan {plan.slug}", field_name, problem, "Correct or remove it.")
        )
    return result


# The plan-level rules already cover the networks rendered from the plan.
_PLAN_DERIVED_KINDS = tuple(f"{kind} " for kind in (manifests.NAD_KIND, *_SRIOV_NETWORK_KINDS))
