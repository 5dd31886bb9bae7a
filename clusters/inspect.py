"""Inspection of live pods that attach secondary networks, compared with the plan.

Pure: plain data in (pods and events as the Kubernetes API returns them, i.e.
`ApiClient.sanitize_for_serialization(...)` or JSON; a `PlanSpec`; node, NAD and IPPool dicts),
plain data out. No I/O, no ORM. `clusters.kube` reads the cluster; this module only looks.

    reports = inspect_pods(pods, events, plan, nodes=..., nads=..., ippools=..., devices=...)
    [report.to_dict() for report in reports]; summarize(reports)

Accepted shapes:
- nodes: V1Node dicts, or summaries {"name", "allocatable", "labels"} (clusters.facts); a
  summary may add "gpu_numa" {NUMA node: GPU count} and "nic_numa" {PF or VF PCI: NUMA node}.
- nads: [{"namespace", "name"}], optionally with "annotations" and "config" (spec.config), or
  NetworkAttachmentDefinition objects.
- ippools: whereabouts IPPool objects, or {"range", "allocations": <count or map>}.
- devices: {"<namespace>/<pod>": {"gpus": [{"pci", "numa_node"}], "interfaces": [{"name",
  "pci", "numa_node"}]}}: what the pod sees (nvidia-smi topo -m, /sys/class/net/<if>/device/
  numa_node); labsim's `pod_devices()` returns this shape.

Every lookup is indexed once per call (rails by NAD name, exclusion spans per rail, an
IP -> interfaces map for duplicates), so thousands of pods inspect in well under a second.
"""

from __future__ import annotations

import bisect
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace

import orjson

from planner import ipam, manifests, podfacts
from planner.findings import ERROR, INFO, WARNING, Finding
from planner.planspec import PlanSpec, RailSpec
from planner.podfacts import NodeIndex, parse_networks_annotation
from planner.podfacts import normal_pci as _pci
from railstudio import numbers
from railstudio.gcpause import collector_paused

NETWORKS_ANNOTATION = "k8s.v1.cni.cncf.io/networks"
NETWORK_STATUS_ANNOTATION = "k8s.v1.cni.cncf.io/network-status"
LEGACY_NETWORK_STATUS_ANNOTATION = "k8s.v1.cni.cncf.io/networks-status"  # Multus before 3.x
RESOURCE_NAME_ANNOTATION = "k8s.v1.cni.cncf.io/resourceName"
DEFAULT_GPU_RESOURCE = manifests.DEFAULT_GPU_RESOURCE
TERMINAL_PHASES = ("Succeeded", "Failed")
RDMA_CNI_TYPES = ("sriov", "ib-sriov", "host-device")

# Interface statuses, most severe first (an interface shows the first that applies).
MISSING = "missing"
DUPLICATE = "duplicate"
WRONG_SUBNET = "wrong_subnet"
EXCLUDED = "excluded"
OUTSIDE_RANGE = "outside_range"
WRONG_NAME = "wrong_name"
OK = "ok"
STATUSES = (MISSING, DUPLICATE, WRONG_SUBNET, EXCLUDED, OUTSIDE_RANGE, WRONG_NAME, OK)
_STATUS_RANK = {status: rank for rank, status in enumerate(STATUSES)}


# ---------------------------------------------------------------------------------------------
# Multus network-status


def parse_network_status(value, namespace: str | None = None) -> list[dict]:
    """The elements of a `k8s.v1.cni.cncf.io/network-status` value, normalised:

    {"name": "ns/nad", "interface", "ips" (bare addresses), "mac", "mtu", "default" (bool),
     "gateway" (list), "device_info": {"type", "pci_address", "rdma_device", "pf_pci_address"}
     or None}

    Accepts every variant Multus and the spec produce: names with or without the namespace
    (given `namespace`, a bare non-default name becomes `namespace/name`), IPs bare or in CIDR
    form, `gateway` or `default-route`, a single object instead of a list. Never raises: an
    unreadable value gives [] (`read_network_status` also says why)."""
    return read_network_status(value, namespace)[0]


def read_network_status(value, namespace: str | None = None) -> tuple[list[dict], str | None]:
    """(entries, problem): problem is None when the value was read in full."""
    if value is None:
        return [], None
    raw = value
    if not isinstance(value, list | dict):
        text = str(value).strip()
        if not text:
            return [], None
        try:
            raw = orjson.loads(text)
        except ValueError as error:
            return [], f"not valid JSON ({error})"
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        return [], "not a JSON list of attachments"
    entries = [_status_entry(item, namespace) for item in raw if _named(item)]
    skipped = len(raw) - len(entries)
    problem = f"{skipped} element(s) without a name were skipped" if skipped else None
    return entries, problem


def _named(item) -> bool:
    return isinstance(item, dict) and isinstance(item.get("name"), str) and bool(item["name"])


def _status_entry(item: dict, namespace: str | None) -> dict:
    get = item.get  # thousands of pods x rails: this runs for every attachment of every pod
    default = get("default") is True
    name = item["name"].strip()
    if namespace and not default and "/" not in name:
        name = f"{namespace}/{name}"
    ips = _strings(item["ips"] if "ips" in item else get("ip"))
    gateway = _strings(get("gateway")) or _strings(get("default-route"))
    mtu = get("mtu")
    device = get("device-info")
    return {
        "name": name,
        "interface": _text(get("interface")),
        "ips": [ip.partition("/")[0].strip() for ip in ips],
        "mac": _text(get("mac")),
        "mtu": mtu if type(mtu) is int else None,
        "default": default,
        "gateway": [gw.partition("/")[0].strip() for gw in gateway],
        "device_info": _device_info(device) if device is not None else None,
    }


def _strings(value) -> list[str]:
    if value is None:
        return []
    if type(value) is str:
        return [value] if value.strip() else []
    if type(value) is list:
        return [item for item in value if type(item) is str and item.strip()]
    return []


def _text(value) -> str | None:
    return value.strip() or None if type(value) is str else None


def _device_info(value) -> dict | None:
    if not isinstance(value, dict):
        return None
    device = value.get("pci") or value.get("vdpa") or value
    if not isinstance(device, dict):
        return None
    info = {
        "type": _text(value.get("type")),
        "pci_address": _pci(device.get("pci-address")),
        "rdma_device": _text(device.get("rdma-device")),
        "pf_pci_address": _pci(device.get("pf-pci-address")),
    }
    return info if any(info.values()) else None


def _pci_bus(pci: str | None) -> str | None:
    return pci.rsplit(":", 1)[0] if pci else None


# ---------------------------------------------------------------------------------------------
# Pods


@dataclass(slots=True)
class ContainerView:
    name: str
    requests: dict[str, float]
    capabilities: frozenset[str]
    privileged: bool


@dataclass(slots=True)
class PodView:
    """What one pod dict says, read once."""

    namespace: str
    name: str
    uid: str | None
    node: str | None
    phase: str
    reason: str | None
    message: str | None
    containers: list[ContainerView]
    container_states: list[dict]
    networks_value: str | None
    networks: list[dict]  # {name, namespace, interface, interface_given, position}
    networks_error: str | None
    status_present: bool
    status_value: str | None
    status_entries: list[dict]
    status_error: str | None
    requests: dict[str, float]
    scheduling_message: str | None  # PodScheduled=False
    pod_ip: str | None = None  # status.podIP: the default network's address

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def ref(self) -> str:
        return f"Pod {self.key}"

    @property
    def asks_for_networks(self) -> bool:
        return self.networks_value is not None and bool(self.networks_value.strip())

    @property
    def running(self) -> bool:
        return self.phase == "Running"

    @property
    def terminal(self) -> bool:
        return self.phase in TERMINAL_PHASES

    def capabilities(self) -> list[str]:
        return sorted({cap for container in self.containers for cap in container.capabilities})


def read_pod(pod: dict, annotation_cache: dict | None = None) -> PodView:
    metadata = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    annotations = metadata.get("annotations") or {}
    namespace = metadata.get("namespace") or "default"
    networks_value = annotations.get(NETWORKS_ANNOTATION)
    networks, networks_error = _requested_networks(networks_value, namespace, annotation_cache)
    status_value = annotations.get(NETWORK_STATUS_ANNOTATION)
    if status_value is None:
        status_value = annotations.get(LEGACY_NETWORK_STATUS_ANNOTATION)
    entries, status_error = read_network_status(status_value, namespace)
    containers = [_container(item) for item in spec.get("containers") or [] if _is_dict(item)]
    return PodView(
        namespace=namespace,
        name=metadata.get("name") or "",
        uid=metadata.get("uid"),
        node=spec.get("nodeName") or None,
        phase=status.get("phase") or "Unknown",
        reason=status.get("reason") or None,
        message=status.get("message") or None,
        containers=containers,
        container_states=[_container_state(item) for item in status.get("containerStatuses") or []],
        networks_value=networks_value if isinstance(networks_value, str) else None,
        networks=networks,
        networks_error=networks_error,
        status_present=status_value is not None,
        status_value=status_value if isinstance(status_value, str) else None,
        status_entries=entries,
        status_error=status_error,
        requests=podfacts.pod_requests(
            (container.requests for container in containers),
            (
                podfacts.container_requests(item)
                for item in spec.get("initContainers") or []
                if _is_dict(item)
            ),
        ),
        scheduling_message=_unschedulable(status),
        pod_ip=_text(status.get("podIP")),
    )


def _is_dict(value) -> bool:
    return isinstance(value, dict)


def _requested_networks(value, namespace: str, cache: dict | None) -> tuple[list[dict], str | None]:
    if not isinstance(value, str) or not value.strip():
        return [], None
    parsed = cache.get(value) if cache is not None else None
    if parsed is None:
        try:
            parsed = (parse_networks_annotation(value), None)
        except ValueError as error:
            parsed = ([], str(error))
        if cache is not None:
            cache[value] = parsed
    attachments, problem = parsed
    networks = [
        {
            "name": item["name"],
            "namespace": item["namespace"] or namespace,
            "interface": item["interface"] or f"net{item['position'] + 1}",
            "interface_given": bool(item["interface"]),
            "position": item["position"],
        }
        for item in attachments
    ]
    return networks, problem


def _container(container: dict) -> ContainerView:
    capabilities, privileged = podfacts.capabilities(container)
    return ContainerView(
        name=container.get("name") or "",
        requests=podfacts.container_requests(container),
        capabilities=capabilities,
        privileged=privileged,
    )


def _container_state(status: dict) -> dict:
    states = status.get("state") or {}
    state = next((name for name in ("running", "waiting", "terminated") if states.get(name)), None)
    details = states.get(state) or {} if state else {}
    return {
        "name": status.get("name"),
        "state": state or "unknown",
        "reason": details.get("reason"),
        "message": details.get("message"),
        "ready": bool(status.get("ready")),
        "restarts": status.get("restartCount") or 0,
    }


def _unschedulable(status: dict) -> str | None:
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
            return condition.get("message") or condition.get("reason") or "Unschedulable"
    return None


def pod_reason(view: PodView) -> str | None:
    """The pod's reason in one word: its status reason, else a waiting container's, else
    Unschedulable."""
    if view.reason:
        return view.reason
    for state in view.container_states:
        if state["state"] != "running" and state["reason"]:
            return state["reason"]
    return "Unschedulable" if view.scheduling_message else None


# ---------------------------------------------------------------------------------------------
# Events


def normalize_event(event: dict) -> dict:
    """A core/v1 or events.k8s.io/v1 Event as {type, reason, message, count, last}."""
    series = event.get("series") or {}
    return {
        "type": event.get("type") or "Normal",
        "reason": event.get("reason") or "",
        "message": event.get("message") or event.get("note") or "",
        "count": event.get("count") or series.get("count") or event.get("deprecatedCount") or 1,
        "last": event.get("lastTimestamp")
        or series.get("lastObservedTime")
        or event.get("deprecatedLastTimestamp")
        or event.get("eventTime")
        or (event.get("metadata") or {}).get("creationTimestamp"),
    }


def involved_object(event: dict) -> tuple[str | None, str, str | None, str | None]:
    """(kind, namespace, name, uid) of what the event is about."""
    involved = event.get("involvedObject") or event.get("regarding") or {}
    namespace = involved.get("namespace") or (event.get("metadata") or {}).get("namespace")
    return involved.get("kind"), namespace or "default", involved.get("name"), involved.get("uid")


def event_order(event: dict, normalised: dict) -> tuple[str, int]:
    """Oldest first: by last time seen, then (timestamps have whole seconds) by the API
    server's resourceVersion when it is a number, as etcd's are."""
    version = str((event.get("metadata") or {}).get("resourceVersion") or "")
    return normalised["last"] or "", numbers.small_int(version, 0)


def group_events(events: list[dict]) -> dict[tuple[str, str], list[tuple]]:
    """Pod events by (namespace, name) as (order, uid, normalised event), oldest first."""
    grouped: dict[tuple[str, str], list] = defaultdict(list)
    for event in events or []:
        if not _is_dict(event):
            continue
        kind, namespace, name, uid = involved_object(event)
        if kind in (None, "Pod") and name:
            normalised = normalize_event(event)
            grouped[(namespace, name)].append((event_order(event, normalised), uid, normalised))
    for items in grouped.values():
        items.sort(key=lambda item: item[0])
    return grouped


def events_of(view: PodView, grouped: dict) -> list[dict]:
    """The pod's events; events of an earlier pod of the same name (another uid) are left out."""
    return _own_events(grouped, view.namespace, view.name, view.uid)


def _own_events(grouped: dict, namespace: str, name: str, pod_uid: str | None) -> list[dict]:
    items = grouped.get((namespace, name), ())
    return [event for _, uid, event in items if uid is None or not pod_uid or uid == pod_uid]


# ---------------------------------------------------------------------------------------------
# The plan, indexed


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
                    self.numa_by_bus[(node.name, _pci_bus(pci))] = nic.numa_node
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
            bus = _pci_bus(key)
            if bus and (node, bus) in self.numa_by_bus:
                return self.numa_by_bus[(node, bus)]
        if rail is not None and (node, rail) in self.numa_by_rail:
            return self.numa_by_rail[(node, rail)]
        return self._numa_on_any_node(pf_pci)

    def _numa_on_any_node(self, pf_pci: str | None) -> int | None:
        if pf_pci and len(self.numa_any_pf.get(pf_pci, ())) == 1:
            return next(iter(self.numa_any_pf[pf_pci]))
        return None


# ---------------------------------------------------------------------------------------------
# Cluster facts, indexed


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
        entries += [item for item in self.ipam.get("ipRanges") or [] if _is_dict(item)]
        return [str(item["range"]) for item in entries if item.get("range")]


def _nad_info(entry: dict) -> NadInfo | None:
    if not _is_dict(entry):
        return None
    metadata = entry.get("metadata") if _is_dict(entry.get("metadata")) else entry
    name = metadata.get("name")
    if not name:
        return None
    annotations = metadata.get("annotations") or {}
    config_text = entry.get("config")
    if config_text is None and _is_dict(entry.get("spec")):
        config_text = entry["spec"].get("config")
    config: dict = {}
    if isinstance(config_text, str):
        try:
            loaded = json.loads(config_text)
            config = loaded if _is_dict(loaded) else {}
        except (ValueError, RecursionError):
            config = {}
    plugins = config.get("plugins")
    plugin = (
        plugins[0] if isinstance(plugins, list) and plugins and _is_dict(plugins[0]) else config
    )
    plugin_ipam = plugin.get("ipam")
    return NadInfo(
        namespace=metadata.get("namespace"),
        name=name,
        resource=annotations.get(RESOURCE_NAME_ANNOTATION),
        cni_type=plugin.get("type"),
        ipam=plugin_ipam if _is_dict(plugin_ipam) else {},
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
        if not _is_dict(pool):
            continue
        spec = pool.get("spec") if _is_dict(pool.get("spec")) else pool
        metadata = pool.get("metadata") if _is_dict(pool.get("metadata")) else pool
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


# ---------------------------------------------------------------------------------------------
# Interfaces


@dataclass(slots=True)
class InterfaceReport:
    name: str  # the interface in the pod; the requested name when missing
    network: str  # "namespace/nad"
    nad: str
    rail: int | None
    subnet: str | None
    planned_name: str | None
    ips: list[str]
    mac: str | None
    pci_address: str | None
    pf_pci_address: str | None
    rdma_device: str | None
    numa_node: int | None
    numa_source: str | None  # observed (the pod), node (node facts) or plan
    status: str
    detail: str
    problems: list[str] = field(default_factory=list)
    requested: bool = True
    interface_given: bool = True
    shared_with: list[str] = field(default_factory=list)  # "ns/pod ifname" holding the same IP
    exclusion: str | None = None

    @property
    def ip(self) -> str | None:
        return self.ips[0] if self.ips else None

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "network": self.network,
            "nad": self.nad,
            "rail": self.rail,
            "subnet": self.subnet,
            "planned_name": self.planned_name,
            "ip": self.ip,
            "ips": list(self.ips),
            "mac": self.mac,
            "pci_address": self.pci_address,
            "pf_pci_address": self.pf_pci_address,
            "rdma_device": self.rdma_device,
            "numa_node": self.numa_node,
            "numa_source": self.numa_source,
            "status": self.status,
            "detail": self.detail,
            "problems": list(self.problems),
            "requested": self.requested,
            "interface_given": self.interface_given,
            "shared_with": list(self.shared_with),
            "exclusion": self.exclusion,
        }

    @classmethod
    def from_dict(cls, data: dict) -> InterfaceReport:
        names = cls.__dataclass_fields__
        values = {key: value for key, value in data.items() if key in names}
        values.setdefault("ips", [data["ip"]] if data.get("ip") else [])
        for key in ("network", "nad", "rail", "subnet", "planned_name", "mac", "pci_address"):
            values.setdefault(key, None)
        for key in ("pf_pci_address", "rdma_device", "numa_node", "numa_source"):
            values.setdefault(key, None)
        values.setdefault("name", "")
        values.setdefault("status", OK)
        values.setdefault("detail", "")
        values["network"] = values["network"] or values["nad"] or ""
        values["nad"] = values["nad"] or values["network"].rpartition("/")[2]
        values.setdefault("problems", [] if values["status"] == OK else [values["status"]])
        return cls(**values)


IpOwners = dict[str, list[tuple[PodView, dict]]]  # bare IP -> [(pod, network-status entry)]


def ip_owners(views: list[PodView]) -> IpOwners:
    """Who holds each secondary-network address, over pods that hold addresses (not finished)."""
    owners: IpOwners = defaultdict(list)
    for view in views:
        if view.terminal:
            continue
        for entry in view.status_entries:
            if not entry["default"]:
                for ip in entry["ips"]:
                    owners[ip].append((view, entry))
    return owners


def interface_reports(
    view: PodView, context: Context, owners: IpOwners | None = None, devices: dict | None = None
) -> list[InterfaceReport]:
    """One report per requested attachment (and per extra non-default attachment Multus
    reports), compared with the plan."""
    unused: dict[str, list[dict]] = defaultdict(list)
    for entry in view.status_entries:
        if not entry["default"]:
            unused[entry["name"]].append(entry)
    observed = _observed_numa(devices)
    reports = []
    for attachment in view.networks:
        network = f"{attachment['namespace']}/{attachment['name']}"
        entry = _take_entry(unused, network, attachment["interface"])
        reports.append(
            _interface(view, context, owners, observed, attachment, network, entry, True)
        )
    for network, entries in unused.items():
        for entry in entries:
            namespace, _, name = network.rpartition("/")
            attachment = {
                "name": name,
                "namespace": namespace or None,
                "interface": entry["interface"] or "",
                "interface_given": True,
            }
            reports.append(
                _interface(view, context, owners, observed, attachment, network, entry, False)
            )
    return reports


def _take_entry(unused: dict[str, list[dict]], network: str, interface: str) -> dict | None:
    candidates = unused.get(network)
    if not candidates:
        return None
    for position, entry in enumerate(candidates):
        if entry["interface"] == interface:
            return candidates.pop(position)
    return candidates.pop(0)


def _observed_numa(devices: dict | None) -> dict[str, int]:
    """{interface name or VF PCI address: NUMA node} from what the pod sees."""
    observed: dict[str, int] = {}
    if not _is_dict(devices):
        return observed
    for item in (devices.get("interfaces") or []) + (devices.get("vfs") or []):
        if not _is_dict(item) or not isinstance(item.get("numa_node"), int):
            continue
        if item.get("name"):
            observed[str(item["name"])] = item["numa_node"]
        if item.get("pci"):
            observed[_pci(item["pci"])] = item["numa_node"]
    return observed


def _interface(
    view: PodView,
    context: Context,
    owners: IpOwners | None,
    observed: dict[str, int],
    attachment: dict,
    network: str,
    entry: dict | None,
    requested: bool,
) -> InterfaceReport:
    plan = context.plan_for(attachment["namespace"], attachment["name"])
    rail = plan.rail_for(attachment["name"]) if plan else None
    rail_spec = plan.rail_spec_for(attachment["name"]) if plan else None
    found = entry or {}
    device = found.get("device_info") or {}
    name = found.get("interface") or attachment["interface"]
    pci, pf_pci = device.get("pci_address"), device.get("pf_pci_address")
    numa, numa_source = None, None
    if entry is not None:
        numa = observed.get(name, observed.get(pci))
        numa_source = "observed"
        if numa is None and context.nodes is not None:
            numa, numa_source = context.nodes.nic_numa_of(view.node, pf_pci, pci), "node"
        if numa is None and plan is not None:
            rail_index = rail_spec.index if rail_spec else None
            numa, numa_source = plan.nic_numa(view.node, pf_pci, pci, rail_index), "plan"
    report = InterfaceReport(
        name=name,
        network=network,
        nad=attachment["name"],
        rail=rail_spec.index if rail_spec else None,
        subnet=rail_spec.subnet if rail_spec else None,
        planned_name=rail_spec.interface_name if rail_spec else None,
        ips=list(found.get("ips") or []),
        mac=found.get("mac"),
        pci_address=pci,
        pf_pci_address=pf_pci,
        rdma_device=device.get("rdma_device"),
        numa_node=numa,
        numa_source=numa_source if numa is not None else None,
        status=OK,
        detail="",
        requested=requested,
        interface_given=bool(attachment.get("interface_given", True)),
    )
    _judge(report, view, rail, rail_spec, entry, owners, plan is not None)
    return report


def _judge(
    report, view: PodView, rail: RailPlan | None, rail_spec, entry, owners, plan_known: bool
) -> None:
    """Set the report's problems, status and detail."""
    problems: list[str] = []
    details: list[str] = []
    if entry is None:
        problems.append(MISSING)
        details.append(_missing_detail(view))
    else:
        for ip in report.ips:
            holders = owners.get(ip, ()) if owners else ()
            if len(holders) > 1:
                others = [
                    f"{pod.key} {other['interface'] or other['name']}"
                    for pod, other in holders
                    if other is not entry
                ]
                if others:
                    report.shared_with = others
                    problems.append(DUPLICATE)
                    details.append(f"{ip} is also on {', '.join(others[:3])}")
            if rail is not None:
                _judge_address(report, rail, ip, problems, details)
        if rail is not None and not report.ips:
            problems.append(WRONG_SUBNET)
            details.append(f"no address; rail {rail.index} expects one in {rail.rail.subnet}")
        if rail_spec is not None and report.name != rail_spec.interface_name:
            problems.append(WRONG_NAME)
            details.append(
                f"attached as {report.name}; the plan names rail {rail_spec.index} "
                f"{rail_spec.interface_name}"
            )
    if plan_known and rail_spec is None:
        details.append(f"{report.nad} is not a rail of the plan")
    report.problems = sorted(dict.fromkeys(problems), key=_STATUS_RANK.__getitem__)
    report.status = report.problems[0] if report.problems else OK
    if not details and rail is not None:
        details.append(f"{', '.join(report.ips)} in {rail.rail.subnet} (rail {rail.index})")
    report.detail = "; ".join(item for item in details if item)


def _judge_address(report, rail: RailPlan, ip: str, problems: list, details: list) -> None:
    value = _ip_int(ip)
    version = 6 if ":" in ip else 4
    if (
        value is None
        or version != rail.version
        or not (rail.subnet_span[0] <= value <= rail.subnet_span[1])
    ):
        problems.append(WRONG_SUBNET)
        details.append(f"{ip} is outside rail {rail.index}'s subnet {rail.rail.subnet}")
        return
    label = rail.exclusion_of(value)
    if label is not None:
        problems.append(EXCLUDED)
        report.exclusion = label
        details.append(f"{ip} is in the excluded {label}")
    elif rail.usable is None or not rail.usable[0] <= value <= rail.usable[1]:
        problems.append(OUTSIDE_RANGE)
        details.append(f"{ip} is outside rail {rail.index}'s pod range {rail.range_text()}")


def _ip_int(ip: str) -> int | None:
    try:
        return ipam.ip_to_int(ip)
    except (OSError, ValueError):
        return None


def _missing_detail(view: PodView) -> str:
    if not view.running:
        return f"not attached: the pod is {view.phase} ({pod_reason(view) or 'starting'})"
    if not view.status_present:
        return "not attached: the pod has no network-status annotation"
    return "not in the pod's network-status"


# ---------------------------------------------------------------------------------------------
# Reports


@dataclass(slots=True)
class PodReport:
    namespace: str
    name: str
    uid: str | None
    node: str | None
    phase: str
    reason: str | None
    message: str | None
    containers: list[dict]
    networks: list[dict]
    networks_error: str | None
    gpus: int
    vfs: dict[str, int]
    capabilities: list[str]
    privileged: bool
    interfaces: list[InterfaceReport]
    events: list[dict]
    findings: list[Finding]
    primary_ip: str | None = None  # eth0: the default network's address
    primary_network: str | None = None  # the default network's name, as Multus reports it

    @property
    def problems(self) -> int:
        return sum(1 for item in self.findings if item.severity in (ERROR, WARNING))

    @property
    def ok(self) -> bool:
        return self.problems == 0

    def to_dict(self) -> dict:
        return {
            "namespace": self.namespace,
            "name": self.name,
            "uid": self.uid,
            "node": self.node,
            "phase": self.phase,
            "reason": self.reason,
            "message": self.message,
            "containers": self.containers,
            "networks": self.networks,
            "networks_error": self.networks_error,
            "gpus": self.gpus,
            "vfs": self.vfs,
            "capabilities": self.capabilities,
            "privileged": self.privileged,
            "interfaces": [item.to_dict() for item in self.interfaces],
            "events": self.events,
            "findings": [item.to_dict() for item in self.findings],
            "primary_ip": self.primary_ip,
            "primary_network": self.primary_network,
            "ok": self.ok,
            "problems": self.problems,
        }


def _report(view: PodView, context: Context, interfaces, events, findings) -> PodReport:
    gpu_resource = context.gpu_resource
    primary = next((entry for entry in view.status_entries if entry["default"]), None)
    primary_ips = primary["ips"] if primary else []
    return PodReport(
        namespace=view.namespace,
        name=view.name,
        uid=view.uid,
        node=view.node,
        phase=view.phase,
        reason=pod_reason(view),
        message=view.message or view.scheduling_message,
        containers=view.container_states,
        networks=[
            {"name": item["name"], "namespace": item["namespace"], "interface": item["interface"]}
            for item in view.networks
        ],
        networks_error=view.networks_error,
        gpus=int(view.requests.get(gpu_resource, 0)),
        vfs={
            resource: int(amount)
            for resource, amount in sorted(view.requests.items())
            if amount and context.is_vf_resource(resource)
        },
        capabilities=view.capabilities(),
        privileged=any(container.privileged for container in view.containers),
        interfaces=interfaces,
        events=events,
        findings=findings,
        primary_ip=primary_ips[0] if primary_ips else view.pod_ip,
        primary_network=primary["name"] if primary else None,
    )


def inspect_pods(
    pods: list[dict],
    events: list[dict],
    plan: PlanSpec | None,
    *,
    nodes: list[dict] | None = None,
    nads: list[dict] | None = None,
    ippools: list[dict] | None = None,
    devices: dict[str, dict] | None = None,
    namespace: str | None = None,
) -> list[PodReport]:
    """A report for every pod that asks for secondary networks (either annotation form), in the
    order given, optionally only those of `namespace`."""
    plans = {} if namespace is None else {namespace: plan}
    return inspect_cluster(
        pods, events, plans, nodes=nodes, nads=nads, ippools=ippools, devices=devices,
        default_plan=plan, others=namespace is None,
    )  # fmt: skip


def inspect_cluster(
    pods: list[dict],
    events: list[dict],
    plans: dict[str, PlanSpec | None],
    *,
    nodes: list[dict] | None = None,
    nads: list[dict] | None = None,
    ippools: list[dict] | None = None,
    devices: dict[str, dict] | None = None,
    default_plan: PlanSpec | None = None,
    others: bool = True,
    reader: PodReader | None = None,
    owners: dict[str, PlanSpec] | None = None,
) -> list[PodReport]:
    """Reports for a whole cluster in one pass over its pods and events: the pods of each
    namespace in `plans` compared with that plan, then (unless `others` is False) the pods of
    every other namespace with `default_plan`. With `owners` (plans by slug), a pod that asks
    for a NAD labelled as one of them is compared with that plan, and every interface with the
    plan that owns its NAD: two plans may share a namespace. Addresses are checked for
    duplicates within each group. A `reader` kept from the cluster's last inspection spares
    reading again the pods that did not change since."""
    from clusters.diagnose import diagnose_view  # diagnose builds on this module

    with collector_paused():
        views = (reader or PodReader()).read(pods)
        owner_of = nad_owners(nads, owners or {})
        groups: dict = {namespace: [] for namespace in plans}
        for view in views:
            if not view.asks_for_networks:
                continue
            slug = _pod_owner(view, owner_of)
            key = (
                ("plan", slug)
                if slug is not None
                else (view.namespace if view.namespace in plans else None)
            )
            if key is not None or others:
                groups.setdefault(key, []).append(view)
        indexes = {slug: PlanIndex(owners[slug]) for slug in set(owner_of.values())}
        nad_plans = {nad: indexes[slug] for nad, slug in owner_of.items()}
        grouped_events = group_events(events)
        reports = []
        for key, members in groups.items():
            if isinstance(key, tuple):
                context = build_context(None, nodes, nads, ippools)
                context = replace(context, plan=indexes[key[1]])
            else:
                plan = plans[key] if key is not None else default_plan
                context = build_context(plan, nodes, nads, ippools)
            context.nad_plans = nad_plans
            reports += _reports(members, context, grouped_events, devices or {}, diagnose_view)
        return reports


def nad_owners(nads: list[dict] | None, owners: dict[str, PlanSpec]) -> dict[tuple, str]:
    """(namespace, NAD name) -> the slug of the plan in `owners` whose label the NAD carries."""
    found: dict[tuple, str] = {}
    if not owners:
        return found
    for entry in nads or []:
        metadata = entry.get("metadata") if _is_dict(entry) else None
        if not _is_dict(metadata) or not metadata.get("name"):
            continue
        labels = metadata.get("labels") if _is_dict(metadata.get("labels")) else {}
        slug = labels.get(manifests.PLAN_LABEL)
        if slug in owners:
            found[(metadata.get("namespace"), metadata["name"])] = slug
    return found


def _pod_owner(view: PodView, owner_of: dict[tuple, str]) -> str | None:
    for attachment in view.networks:
        slug = owner_of.get((attachment["namespace"], attachment["name"]))
        if slug is not None:
            return slug
    return None


class PodReader:
    """Reads a cluster's pods into PodViews, remembering the views of the last read by
    (uid, resourceVersion): the API server gives an object a new resourceVersion whenever it
    changes, so a pod listed again with the same one reads the same. Only the pods of the
    latest read are remembered. PodViews are never changed once read."""

    def __init__(self):
        self._views: dict[tuple[str, str], PodView] = {}

    @property
    def remembered(self) -> int:
        return len(self._views)

    def read(self, pods: list[dict]) -> list[PodView]:
        annotation_cache: dict = {}
        views, remembered = [], {}
        for pod in pods:
            if not _may_ask_for_networks(pod):
                continue
            metadata = pod["metadata"]
            key = (metadata.get("uid"), metadata.get("resourceVersion"))
            known = type(key[0]) is str and type(key[1]) is str and all(key)
            view = self._views.get(key) if known else None
            if view is None:
                view = read_pod(pod, annotation_cache)
            if known:
                remembered[key] = view
            views.append(view)
        self._views = remembered
        return views


def _may_ask_for_networks(pod) -> bool:
    """A cheap look before reading the whole pod: most pods of a cluster (its DaemonSets) ask
    for no secondary network."""
    metadata = pod.get("metadata") if _is_dict(pod) else None
    if not _is_dict(metadata):
        return False
    annotations = metadata.get("annotations") or {}
    return _is_dict(annotations) and bool(annotations.get(NETWORKS_ANNOTATION))


def _reports(views, context, grouped_events, devices, diagnose_view) -> list[PodReport]:
    owners = ip_owners(views)
    reports = []
    for view in views:
        pod_devices = devices.get(view.key)
        interfaces = interface_reports(view, context, owners, pod_devices)
        pod_events = events_of(view, grouped_events)
        findings = diagnose_view(view, pod_events, context, interfaces, pod_devices)
        reports.append(_report(view, context, interfaces, pod_events, findings))
    return reports


def events_for(report: PodReport, events: list[dict]) -> list[dict]:
    """A pod's events (as in its report: normalised, oldest first, this uid's) from a list."""
    return _own_events(group_events(events), report.namespace, report.name, report.uid)


def summarize(reports: list[PodReport]) -> dict:
    """Counts for a page header: pods, ok, with problems, pods per problem code (info findings
    such as NUMA_UNVERIFIED are not problems), interfaces per status."""
    by_code: Counter = Counter()
    by_status: Counter = Counter()
    for report in reports:
        by_code.update({item.code for item in report.findings if item.severity != INFO})
        by_status.update(item.status for item in report.interfaces)
    return {
        "pods": len(reports),
        "ok": sum(1 for report in reports if report.ok),
        "with_problems": sum(1 for report in reports if not report.ok),
        "by_code": dict(sorted(by_code.items(), key=lambda pair: (-pair[1], pair[0]))),
        "interfaces": dict(sorted(by_status.items(), key=lambda pair: _STATUS_RANK[pair[0]])),
    }
