"""Plan -> Kubernetes objects as plain dicts: NADs, SR-IOV operator objects, pods and templates.

Pure: a `PlanSpec` in, dicts out, so the page, the API, the CLI and the rollout task share it.
Keys appear only when set; nothing renders a null.

`spec.config` (and a SriovNetwork's `ipam`) is JSON text written by `config_json`: objects one key
per line with two-space indents, lists of scalars or of flat objects on one line, key order as
rendered (cniVersion, type, name, type-specific keys, ipam). The same plan always gives the same
bytes.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace

import netaddr

from planner import ipam, naming
from planner.planspec import PlanSpec, RailSpec
from planner.seed import SEED_IMAGE

NAD_API_VERSION = "k8s.cni.cncf.io/v1"
NAD_KIND = "NetworkAttachmentDefinition"
SRIOV_API_VERSION = "sriovnetwork.openshift.io/v1"
RESOURCE_NAME_ANNOTATION = "k8s.v1.cni.cncf.io/resourceName"
NETWORKS_ANNOTATION = "k8s.v1.cni.cncf.io/networks"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "railstudio"
PLAN_LABEL = "railstudio.io/plan"
HOSTNAME_LABEL = "kubernetes.io/hostname"

DEFAULT_IMAGE = SEED_IMAGE
DEFAULT_GPU_RESOURCE = "nvidia.com/gpu"
DEFAULT_GPUS = 8
RDMA_CAPABILITIES = ("IPC_LOCK", "SYS_NICE")
DEFAULT_OPERATOR_NAMESPACE = "sriov-network-operator"
DEFAULT_SRIOV_NODE_SELECTOR = {"feature.node.kubernetes.io/network-sriov.capable": "true"}
MAX_IP_PREVIEW = 10_000

CNI_TYPES = ("sriov", "ib-sriov", "host-device", "macvlan")
MODES = ("nad", "sriov-operator")
LAYOUTS = ("per-node", "per-numa")


class ManifestError(ValueError):
    """The plan or the options cannot be rendered; `errors` lists every reason."""

    def __init__(self, errors: list[str] | str):
        self.errors = [errors] if isinstance(errors, str) else list(errors)
        super().__init__("; ".join(self.errors))


# ---------------------------------------------------------------------------------------------
# Option tables: what a plan's `cni_options` and `pod_options` may hold


Check = Callable[[object], str | None]


def _bool(value) -> str | None:
    return None if isinstance(value, bool) else "must be true or false"


def _int_between(low: int, high: int) -> Check:
    def check(value) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            return f"must be a whole number from {low} to {high}"
        return None

    return check


def _one_of(*choices: str) -> Check:
    def check(value) -> str | None:
        return None if value in choices else f"must be one of {', '.join(choices)}"

    return check


def _text(value) -> str | None:
    return None if isinstance(value, str) and value.strip() else "must be a non-empty string"


def _string_map(value) -> str | None:
    if isinstance(value, dict) and all(
        isinstance(key, str) and isinstance(item, str) for key, item in value.items()
    ):
        return None
    return "must be a mapping of strings to strings"


def _slice_size(value) -> str | None:
    if (
        isinstance(value, str)
        and value.startswith("/")
        and value[1:].isascii()
        and value[1:].isdigit()
        and len(value) <= 4
    ):
        return None
    return 'must be a prefix length such as "/22"'


@dataclass(frozen=True)
class OptionKey:
    doc: str
    check: Check
    applies_to: tuple[str, ...] = ()  # CNI types; empty means every type


_ON_OFF = _one_of("on", "off")
_ALL = ()
_SRIOV = ("sriov",)

CNI_OPTION_KEYS: dict[str, OptionKey] = {
    # sriov CNI
    "vlan_qos": OptionKey(
        "sriov vlanQoS, 0-7; rendered only on rails with a vlan", _int_between(0, 7), _SRIOV
    ),
    "vlan_proto": OptionKey(
        "sriov vlanProto: 802.1q or 802.1ad", _one_of("802.1q", "802.1ad"), _SRIOV
    ),
    "spoofchk": OptionKey('sriov spoofchk / SriovNetwork spoofChk: "on" or "off"', _ON_OFF, _SRIOV),
    "trust": OptionKey('sriov trust / SriovNetwork trust: "on" or "off"', _ON_OFF, _SRIOV),
    "link_state": OptionKey(
        "sriov/ib-sriov link_state: auto, enable or disable",
        _one_of("auto", "enable", "disable"),
        ("sriov", "ib-sriov"),
    ),
    "min_tx_rate": OptionKey("sriov min_tx_rate in Mbps", _int_between(0, 10_000_000), _SRIOV),
    "max_tx_rate": OptionKey("sriov max_tx_rate in Mbps", _int_between(0, 10_000_000), _SRIOV),
    "rdma": OptionKey(
        "chain the rdma meta-plugin after the device plugin (a conflist with `plugins`)",
        _bool,
        ("sriov", "ib-sriov", "host-device"),
    ),
    # ib-sriov CNI
    "pkey": OptionKey('ib-sriov pkey, e.g. "0x7fff"', _text, ("ib-sriov",)),
    "rdma_isolation": OptionKey("ib-sriov rdmaIsolation", _bool, ("ib-sriov",)),
    "ib_kubernetes_enabled": OptionKey("ib-sriov ibKubernetesEnabled", _bool, ("ib-sriov",)),
    # macvlan CNI
    "master": OptionKey(
        "macvlan master interface; {rail} / {rail+1} placeholders allowed; "
        "default: the rail's PF name from the NIC inventory",
        _text,
        ("macvlan",),
    ),
    "macvlan_mode": OptionKey(
        "macvlan mode", _one_of("bridge", "private", "vepa", "passthru"), ("macvlan",)
    ),
    # whereabouts
    "node_slice_size": OptionKey(
        'whereabouts node_slice_size (Fast IPAM), e.g. "/22"', _slice_size
    ),
    "network_name": OptionKey(
        "whereabouts network_name; {rail} / {rail+1} placeholders allowed", _text
    ),
    "enable_overlapping_ranges": OptionKey("whereabouts enable_overlapping_ranges", _bool),
    # physical layer
    "link_type": OptionKey(
        "eth or ib; default ib for ib-sriov, else eth (eth rails get the RoCE DSCP reminder)",
        _one_of("eth", "ib"),
    ),
    # SR-IOV Network Operator mode
    "operator_namespace": OptionKey(
        f"namespace of the SR-IOV Network Operator (default {DEFAULT_OPERATOR_NAMESPACE})", _text
    ),
    "resource_prefix": OptionKey(
        "the operator's RESOURCE_PREFIX; default the prefix of the rails' resource names", _text
    ),
    "node_selector": OptionKey(
        "SriovNetworkNodePolicy nodeSelector (default network-sriov.capable=true)", _string_map
    ),
    "num_vfs": OptionKey(
        "SriovNetworkNodePolicy numVfs (default: the most VFs any node has on the rail)",
        _int_between(0, 256),
    ),
    "device_type": OptionKey("SriovNetworkNodePolicy deviceType", _one_of("netdevice", "vfio-pci")),
    "is_rdma": OptionKey("SriovNetworkNodePolicy isRdma (default true)", _bool),
    "priority": OptionKey(
        "SriovNetworkNodePolicy priority, 0 (highest) to 99", _int_between(0, 99)
    ),
}


def _rail_list(value) -> str | None:
    if _parse_rails(value) is False:
        return 'must be "all", a list of rail indexes or "0-3"'
    return None


def _string_list(value) -> str | None:
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return None
    return "must be a list of strings"


def _dns_label(value) -> str | None:
    if not isinstance(value, str):
        return "must be a string"
    return naming.dns1123_error(value)


POD_OPTION_KEYS: dict[str, OptionKey] = {
    "rails": OptionKey(
        'rails to attach: "all" (default), a list such as [0, 1, 2, 3], or "0-3"', _rail_list
    ),
    "gpus": OptionKey(
        "GPUs per pod; default the nodes' GPU count (per-numa: divided among NUMA nodes)",
        _int_between(0, 64),
    ),
    "layout": OptionKey(
        "per-node: one pod per node; per-numa: one pod per NUMA node with that node's rails",
        _one_of(*LAYOUTS),
    ),
    "nccl_env": OptionKey("add NCCL_IB_HCA, NCCL_SOCKET_IFNAME and NCCL_CROSS_NIC", _bool),
    "nccl_cross_nic": OptionKey(
        "NCCL_CROSS_NIC value (default 0: keep rings on one rail)", _int_between(0, 2)
    ),
    "image": OptionKey(f"container image (default {DEFAULT_IMAGE})", _text),
    "name": OptionKey(
        "base name of pods, templates and Jobs (default <plan slug>-worker)", _dns_label
    ),
    "namespace": OptionKey("pod namespace (default the plan's namespace)", _dns_label),
    "container_name": OptionKey("container name (default trainer)", _dns_label),
    "gpu_resource": OptionKey(f"GPU resource name (default {DEFAULT_GPU_RESOURCE})", _text),
    "command": OptionKey("container command, a list of strings", _string_list),
    "node_selector": OptionKey("pod nodeSelector", _string_map),
    "replicas": OptionKey(
        "pods per template: Job completions/parallelism and the pods planned per rail "
        "(default the plan's node count)",
        _int_between(1, 100_000),
    ),
}


MAX_RAIL_SELECTION = 4096  # characters of "0-3,5" text, or items of a list


def _parse_rails(value) -> tuple[tuple[int, int], ...] | None | bool:
    """Rail index spans from "all" / None (-> None), a list, "0,1,2" or "0-3"; False when invalid.

    Spans, not indexes: "0-100000000" costs one tuple. What a selection picks is bounded by the
    plan's rails (`selected_rails`), never by the numbers in it."""
    if value is None or value == "all":
        return None
    if isinstance(value, list | tuple):
        if len(value) <= MAX_RAIL_SELECTION and all(
            isinstance(item, int) and not isinstance(item, bool) for item in value
        ):
            return tuple((item, item) for item in sorted(set(value)))
        return False
    if isinstance(value, str) and len(value) <= MAX_RAIL_SELECTION:
        spans = []
        for part in value.split(","):
            low, dash, high = part.strip().partition("-")
            if not (low.isascii() and low.isdigit()) or (
                dash and not (high.isascii() and high.isdigit())
            ):
                return False
            first, last = int(low), int(high if dash else low)
            if last < first:
                return False
            spans.append((first, last))
        return tuple(spans)
    return False


def selected_rails(spans: tuple[tuple[int, int], ...], known) -> tuple[int, ...]:
    """The plan's rail indexes inside the selection's spans."""
    return tuple(index for index in sorted(known) if any(a <= index <= b for a, b in spans))


def missing_rails(spans: tuple[tuple[int, int], ...], known) -> list[str]:
    """The parts of a selection naming rails the plan does not have ("9", "12-100000000")."""
    indexes = sorted(known)
    missing = []
    for first, last in spans:
        cursor = first
        for index in indexes:
            if index < cursor or index > last:
                continue
            if index > cursor:
                missing.append((cursor, index - 1))
            cursor = index + 1
        if cursor <= last:
            missing.append((cursor, last))
    return [str(a) if a == b else f"{a}-{b}" for a, b in sorted(set(missing))]


_INT_POD_OPTIONS = ("gpus", "nccl_cross_nic", "replicas")
_TRUE = ("1", "true", "yes", "on")


def pod_options_from_strings(values: dict[str, str]) -> dict:
    """Pod options from text, as a query string or a form gives them: gpus=4, nccl_env=true,
    rails=0-3, command=a,b, node_selector=pool=a,zone=b. Empty values are dropped; anything
    unreadable is passed on as text for validation to report."""
    options: dict = {}
    for key, text in values.items():
        text = str(text).strip()
        if not text:
            continue
        if key in _INT_POD_OPTIONS and text.lstrip("-").isdigit() and len(text) <= 18:
            options[key] = int(text)
        elif key == "nccl_env":
            options[key] = text.lower() in _TRUE
        elif key == "command":
            options[key] = [part.strip() for part in text.split(",") if part.strip()]
        elif key == "node_selector":
            pairs = (part.partition("=") for part in text.split(",") if part.strip())
            options[key] = {name.strip(): value.strip() for name, _, value in pairs}
        else:
            options[key] = text
    return options


def cni_option_errors(plan: PlanSpec) -> list[str]:
    """Why the plan's cni_options cannot be rendered; empty when they can."""
    errors = []
    if plan.cni_type not in CNI_TYPES:
        errors.append(f"cni_type {plan.cni_type!r} is not one of {', '.join(CNI_TYPES)}")
    options = cni_options(plan)
    for key, value in options.items():
        spec = CNI_OPTION_KEYS.get(key)
        if spec is None:
            errors.append(f"cni_options.{key} is not a known option")
            continue
        if spec.applies_to and plan.cni_type not in spec.applies_to:
            errors.append(f"cni_options.{key} applies to {', '.join(spec.applies_to)} only")
            continue
        problem = spec.check(value)
        if problem:
            errors.append(f"cni_options.{key} {problem}")
    if options.get("rdma") and options.get("rdma_isolation"):
        errors.append("cni_options.rdma and rdma_isolation both move the RDMA device; choose one")
    return errors


def pod_option_errors(plan: PlanSpec, options: dict | None = None) -> list[str]:
    """Why pod options (the plan's, overridden by `options`) cannot be rendered."""
    merged = {**(plan.pod_options or {}), **(options or {})}
    return pod_options_errors(merged, {rail.index for rail in plan.rails})


def pod_options_errors(merged: dict, rail_indexes) -> list[str]:
    """Why pod options cannot be rendered for a plan whose rails have `rail_indexes`."""
    errors = []
    for key, value in merged.items():
        if value is None:
            continue  # None means "use the default"
        spec = POD_OPTION_KEYS.get(key)
        if spec is None:
            errors.append(f"pod option {key!r} is not a known option")
            continue
        problem = spec.check(value)
        if problem:
            errors.append(f"pod option {key} {problem}")
    errors.extend(rail_selection_errors(merged.get("rails"), rail_indexes))
    return errors


def rail_selection_errors(value, known) -> list[str]:
    """Why a `rails` selection does not fit a plan whose rails have the `known` indexes."""
    spans = _parse_rails(value)
    if not spans:
        return []
    missing = missing_rails(spans, known)
    if not missing:
        return []
    shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
    indexes = sorted(known)
    have = ", ".join(str(index) for index in indexes[:16]) + (" ..." if len(indexes) > 16 else "")
    return [
        f"pod option rails names rails the plan does not have: {shown} (it has {have or 'none'})"
    ]


def cni_options(plan: PlanSpec) -> dict:
    """The plan's cni_options that are set (None values mean "not set")."""
    return {key: value for key, value in (plan.cni_options or {}).items() if value is not None}


def _checked_cni_options(plan: PlanSpec) -> dict:
    errors = cni_option_errors(plan)
    if errors:
        raise ManifestError(errors)
    return cni_options(plan)


@dataclass(frozen=True)
class PodOptions:
    """How to render pods; build from a dict with `PodOptions.build(plan, {...})`."""

    rails: tuple[int, ...] | None = None  # None: every rail
    gpus: int | None = None
    layout: str = "per-node"
    nccl_env: bool = False
    nccl_cross_nic: int = 0
    image: str = DEFAULT_IMAGE
    name: str | None = None
    namespace: str | None = None
    container_name: str = "trainer"
    gpu_resource: str = DEFAULT_GPU_RESOURCE
    command: tuple[str, ...] = ()
    node_selector: dict = field(default_factory=dict)
    replicas: int | None = None

    @classmethod
    def build(cls, plan: PlanSpec, options: PodOptions | dict | None = None) -> PodOptions:
        """The plan's pod_options, overridden by `options`; raises ManifestError when invalid."""
        if isinstance(options, PodOptions):
            return options
        errors = pod_option_errors(plan, options)
        if errors:
            raise ManifestError(errors)
        merged = {**(plan.pod_options or {}), **(options or {})}
        values = {key: value for key, value in merged.items() if value is not None}
        if "rails" in merged:
            spans = _parse_rails(merged["rails"])
            known = [rail.index for rail in plan.rails]
            values["rails"] = None if spans is None else selected_rails(spans, known)
        if "command" in values:
            values["command"] = tuple(values["command"])
        known = {item.name for item in fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in known})


# ---------------------------------------------------------------------------------------------
# spec.config JSON text


def _is_flat(value) -> bool:
    if isinstance(value, dict):
        return all(not isinstance(item, dict | list) for item in value.values())
    return not isinstance(value, list)


def config_json(value, level: int = 0) -> str:
    """JSON text as described in the module docstring (deterministic, readable in YAML)."""
    if isinstance(value, dict) and value:
        pad = "  " * (level + 1)
        items = [
            f"{pad}{json.dumps(key)}: {config_json(item, level + 1)}" for key, item in value.items()
        ]
        return "{\n" + ",\n".join(items) + "\n" + "  " * level + "}"
    if isinstance(value, list) and value and not all(_is_flat(item) for item in value):
        pad = "  " * (level + 1)
        items = [pad + config_json(item, level + 1) for item in value]
        return "[\n" + ",\n".join(items) + "\n" + "  " * level + "]"
    return json.dumps(value)


# ---------------------------------------------------------------------------------------------
# Addresses


def _host_prefix(version: int) -> int:
    return 32 if version == 4 else 128


def rail_exclusions(rail: RailSpec) -> list[str]:
    """The whereabouts `exclude` list: the rail's exclusions as minimal CIDRs, plus the gateway
    when it lies in the pod range and no exclusion covers it (whereabouts does not skip it)."""
    try:
        return _rail_exclusions(rail)
    except (netaddr.AddrFormatError, ValueError) as error:
        raise ManifestError(f"rail {rail.index}: {error}") from None


def _rail_exclusions(rail: RailSpec) -> list[str]:
    network = netaddr.IPNetwork(rail.subnet)
    version = network.version
    cidrs: list[str] = []
    for exclusion in rail.exclusions:
        if exclusion.cidr:
            text = (
                exclusion.cidr
                if "/" in exclusion.cidr
                else f"{exclusion.cidr}/{_host_prefix(version)}"
            )
            cidrs.append(str(netaddr.IPNetwork(text).cidr))
        elif exclusion.start:
            span = ipam.range_span(exclusion.start, exclusion.end or exclusion.start)
            cidrs.extend(ipam.span_to_cidrs(span, version))
    if rail.gateway:
        gateway = int(ipam.parse_ip(rail.gateway))
        usable = ipam.usable_span(str(network.cidr), rail.range_start, rail.range_end)
        covered = any(ipam.contains(ipam.span_of(cidr), (gateway, gateway)) for cidr in cidrs)
        if usable and ipam.contains(usable, (gateway, gateway)) and not covered:
            cidrs.append(f"{rail.gateway}/{_host_prefix(version)}")
    return list(dict.fromkeys(cidrs))


def _rail_space(rail: RailSpec) -> ipam.RailSpace:
    exclusions = [ipam.span_of(cidr) for cidr in rail_exclusions(rail)]
    return ipam.RailSpace.build(
        str(netaddr.IPNetwork(rail.subnet).cidr),
        exclusions=exclusions,
        range_start=rail.range_start,
        range_end=rail.range_end,
    )


def ip_preview(plan: PlanSpec, count: int) -> dict[int, list[str]]:
    """What whereabouts gives the first `count` pods on each rail: the lowest free addresses of
    the range (range_start .. range_end, network+1 .. broadcast-1), skipping the exclusions."""
    if not 0 <= count <= MAX_IP_PREVIEW:
        raise ManifestError(f"the preview covers 0 to {MAX_IP_PREVIEW} pods, not {count}")
    preview = {}
    for rail in sorted(plan.rails, key=lambda item: item.index):
        space = _rail_space(rail)
        preview[rail.index] = ipam.expand(space.first_free(count), space.version)
    return preview


# ---------------------------------------------------------------------------------------------
# NADs


def plan_labels(plan: PlanSpec) -> dict:
    return {MANAGED_BY_LABEL: MANAGED_BY, PLAN_LABEL: plan.slug}


def _sorted_rails(plan: PlanSpec) -> list[RailSpec]:
    return sorted(plan.rails, key=lambda rail: rail.index)


def _most_common(values):
    counted = Counter(value for value in values if value not in (None, ""))
    return counted.most_common(1)[0][0] if counted else None


def _rail_nics(plan: PlanSpec, index: int):
    return [nic for node in plan.nodes for nic in node.nics if nic.rail_index == index]


def whereabouts_ipam(plan: PlanSpec, rail: RailSpec) -> dict:
    options = cni_options(plan)
    config = {"type": "whereabouts", "range": str(netaddr.IPNetwork(rail.subnet).cidr)}
    if rail.range_start:
        config["range_start"] = rail.range_start
    if rail.range_end:
        config["range_end"] = rail.range_end
    exclude = rail_exclusions(rail)
    if exclude:
        config["exclude"] = exclude
    if rail.gateway:
        config["gateway"] = rail.gateway
    if rail.routes:
        config["routes"] = [dict(route) for route in rail.routes]
    if options.get("network_name"):
        config["network_name"] = naming.render(options["network_name"], rail.index)
    if options.get("node_slice_size"):
        config["node_slice_size"] = options["node_slice_size"]
    if "enable_overlapping_ranges" in options:
        config["enable_overlapping_ranges"] = options["enable_overlapping_ranges"]
    return config


_SRIOV_KEYS = (
    ("spoofchk", "spoofchk"),
    ("trust", "trust"),
    ("link_state", "link_state"),
    ("min_tx_rate", "min_tx_rate"),
    ("max_tx_rate", "max_tx_rate"),
)
_IB_SRIOV_KEYS = (
    ("pkey", "pkey"),
    ("link_state", "link_state"),
    ("rdma_isolation", "rdmaIsolation"),
    ("ib_kubernetes_enabled", "ibKubernetesEnabled"),
)


def _device_fields(plan: PlanSpec, rail: RailSpec, options: dict) -> dict:
    """The plugin's own keys, between `name` and `ipam`."""
    result: dict = {}
    if plan.cni_type == "sriov":
        if rail.vlan is not None:
            result["vlan"] = rail.vlan
            if rail.vlan and "vlan_qos" in options:
                result["vlanQoS"] = options["vlan_qos"]
            if rail.vlan and "vlan_proto" in options:
                result["vlanProto"] = options["vlan_proto"]
        result.update({out: options[key] for key, out in _SRIOV_KEYS if key in options})
    elif plan.cni_type == "ib-sriov":
        result.update({out: options[key] for key, out in _IB_SRIOV_KEYS if key in options})
    elif plan.cni_type == "macvlan":
        master = options.get("master")
        if master:
            result["master"] = naming.render(master, rail.index)
        else:
            pf_name = _most_common(nic.pf_name for nic in _rail_nics(plan, rail.index))
            if not pf_name:
                raise ManifestError(
                    f"rail {rail.index}: macvlan needs cni_options.master or a NIC PF name"
                )
            result["master"] = pf_name
        if "macvlan_mode" in options:
            result["mode"] = options["macvlan_mode"]
        if plan.mtu:
            result["mtu"] = plan.mtu
    return result


def nad_config(plan: PlanSpec, rail: RailSpec) -> dict:
    """The CNI config of a rail's NAD, as a dict (spec.config is `config_json` of this)."""
    options = _checked_cni_options(plan)
    device = {"type": plan.cni_type}
    if options.get("rdma"):
        plugin = {
            **device,
            **_device_fields(plan, rail, options),
            "ipam": whereabouts_ipam(plan, rail),
        }
        return {
            "cniVersion": plan.cni_version,
            "name": rail.nad_name,
            "plugins": [plugin, {"type": "rdma"}],
        }
    return {
        "cniVersion": plan.cni_version,
        **device,
        "name": rail.nad_name,
        **_device_fields(plan, rail, options),
        "ipam": whereabouts_ipam(plan, rail),
    }


def render_nad(plan: PlanSpec, rail: RailSpec) -> dict:
    try:
        config = config_json(nad_config(plan, rail))
    except (netaddr.AddrFormatError, ValueError) as error:
        if isinstance(error, ManifestError):
            raise
        raise ManifestError(f"rail {rail.index}: {error}") from None
    metadata: dict = {
        "name": rail.nad_name,
        "namespace": plan.namespace,
        "labels": plan_labels(plan),
    }
    if rail.resource_name:
        metadata["annotations"] = {RESOURCE_NAME_ANNOTATION: rail.resource_name}
    return {
        "apiVersion": NAD_API_VERSION,
        "kind": NAD_KIND,
        "metadata": metadata,
        "spec": {"config": config},
    }


def render_nads(plan: PlanSpec) -> list[dict]:
    """One NetworkAttachmentDefinition per rail, in rail order."""
    _checked_cni_options(plan)
    return [render_nad(plan, rail) for rail in _sorted_rails(plan)]


# ---------------------------------------------------------------------------------------------
# SR-IOV Network Operator


def _operator_namespace(plan: PlanSpec) -> str:
    return cni_options(plan).get("operator_namespace", DEFAULT_OPERATOR_NAMESPACE)


def operator_resource_name(plan: PlanSpec, rail: RailSpec) -> str:
    """The resource name without its prefix (the operator adds its RESOURCE_PREFIX)."""
    prefix, slash, name = rail.resource_name.rpartition("/")
    wanted = cni_options(plan).get("resource_prefix")
    if slash and wanted and prefix != wanted:
        raise ManifestError(
            f"rail {rail.index}: resource {rail.resource_name} does not start with the "
            f"operator's resource prefix {wanted}/"
        )
    return name


def _check_operator_plan(plan: PlanSpec) -> dict:
    options = _checked_cni_options(plan)
    if plan.cni_type not in ("sriov", "ib-sriov"):
        raise ManifestError(
            f"the SR-IOV Network Operator renders sriov and ib-sriov networks, not {plan.cni_type}"
        )
    prefixes = {rail.resource_name.rpartition("/")[0] for rail in plan.rails}
    if len(prefixes) > 1:
        raise ManifestError(
            "the operator gives every resource one prefix, but the rails use "
            + ", ".join(sorted(prefix or "(none)" for prefix in prefixes))
        )
    return options


def render_sriov_network(plan: PlanSpec, rail: RailSpec) -> dict:
    options = cni_options(plan)
    ib = plan.cni_type == "ib-sriov"
    spec: dict = {
        "resourceName": operator_resource_name(plan, rail),
        "networkNamespace": plan.namespace,
        "ipam": config_json(whereabouts_ipam(plan, rail)),
    }
    if not ib:
        if rail.vlan is not None:
            spec["vlan"] = rail.vlan
            if rail.vlan and "vlan_qos" in options:
                spec["vlanQoS"] = options["vlan_qos"]
            if rail.vlan and "vlan_proto" in options:
                spec["vlanProto"] = options["vlan_proto"]
        for key, out in (("spoofchk", "spoofChk"), ("trust", "trust")):
            if key in options:
                spec[out] = options[key]
    if "link_state" in options:
        spec["linkState"] = options["link_state"]
    if not ib:
        for key, out in (("min_tx_rate", "minTxRate"), ("max_tx_rate", "maxTxRate")):
            if key in options:
                spec[out] = options[key]
    if options.get("rdma"):
        # The CRD field is metaPlugins; the operator docs' "metaPluginsConfig" is pruned.
        spec["metaPlugins"] = config_json({"type": "rdma"})
    return {
        "apiVersion": SRIOV_API_VERSION,
        "kind": "SriovIBNetwork" if ib else "SriovNetwork",
        "metadata": {
            "name": rail.nad_name,
            "namespace": _operator_namespace(plan),
            "labels": plan_labels(plan),
        },
        "spec": spec,
    }


def render_sriov_node_policy(plan: PlanSpec, rail: RailSpec) -> dict | None:
    """The node policy creating the rail's VF pool, or None without NIC inventory for the rail."""
    options = cni_options(plan)
    nics = _rail_nics(plan, rail.index)
    pf_names = sorted({nic.pf_name for nic in nics if nic.pf_name})
    root_devices = sorted({nic.pci_address for nic in nics if not nic.pf_name and nic.pci_address})
    if not pf_names and not root_devices:
        return None
    nic_selector: dict = {}
    if pf_names:
        nic_selector["pfNames"] = pf_names
    if root_devices:
        nic_selector["rootDevices"] = root_devices
    spec: dict = {
        "resourceName": operator_resource_name(plan, rail),
        "nodeSelector": dict(options.get("node_selector") or DEFAULT_SRIOV_NODE_SELECTOR),
    }
    if "priority" in options:
        spec["priority"] = options["priority"]
    if plan.mtu:
        spec["mtu"] = plan.mtu
    spec["numVfs"] = options.get("num_vfs", max(nic.vf_count for nic in nics))
    spec["nicSelector"] = nic_selector
    spec["deviceType"] = options.get("device_type", "netdevice")
    spec["isRdma"] = options.get("is_rdma", True)
    spec["linkType"] = link_type(plan)
    return {
        "apiVersion": SRIOV_API_VERSION,
        "kind": "SriovNetworkNodePolicy",
        "metadata": {
            "name": rail.nad_name,
            "namespace": _operator_namespace(plan),
            "labels": plan_labels(plan),
        },
        "spec": spec,
    }


def render_sriov_networks(plan: PlanSpec) -> list[dict]:
    _check_operator_plan(plan)
    return [render_sriov_network(plan, rail) for rail in _sorted_rails(plan)]


def render_sriov_node_policies(plan: PlanSpec) -> list[dict]:
    _check_operator_plan(plan)
    policies = (render_sriov_node_policy(plan, rail) for rail in _sorted_rails(plan))
    return [policy for policy in policies if policy is not None]


def render_sriov_operator(plan: PlanSpec) -> list[dict]:
    """SriovNetworks (or SriovIBNetworks) then SriovNetworkNodePolicies, one each per rail.

    A rail without NIC inventory gets no policy (preflight reports NIC_MISSING)."""
    return render_sriov_networks(plan) + render_sriov_node_policies(plan)


def link_type(plan: PlanSpec) -> str:
    default = "ib" if plan.cni_type == "ib-sriov" else "eth"
    return cni_options(plan).get("link_type", default)


# ---------------------------------------------------------------------------------------------
# Pods


@dataclass(frozen=True)
class PodGroup:
    """One kind of pod: all rails on a node, or the rails of one NUMA node."""

    suffix: str  # "" or "-numa0"
    rails: tuple[RailSpec, ...]
    gpus: int
    numa_node: int | None = None


def _default_gpus(plan: PlanSpec) -> int:
    return _most_common(node.gpu_count for node in plan.nodes) or DEFAULT_GPUS


def rail_numa_nodes(plan: PlanSpec) -> dict[int, int | None]:
    """Each rail's NUMA node as most nodes' NIC inventory has it (None when unknown)."""
    return {
        rail.index: _most_common(nic.numa_node for nic in _rail_nics(plan, rail.index))
        for rail in plan.rails
    }


def rail_rdma_device(plan: PlanSpec, rail: RailSpec) -> str | None:
    return _most_common(nic.rdma_device for nic in _rail_nics(plan, rail.index))


def pod_groups(plan: PlanSpec, options: PodOptions) -> list[PodGroup]:
    selected = [
        rail for rail in _sorted_rails(plan) if options.rails is None or rail.index in options.rails
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


# ---------------------------------------------------------------------------------------------
# Bundles


def render_networks(plan: PlanSpec, mode: str = "nad") -> list[dict]:
    if mode == "nad":
        return render_nads(plan)
    if mode == "sriov-operator":
        return render_sriov_networks(plan)
    raise ManifestError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")


def render_bundle(
    plan: PlanSpec,
    mode: str = "nad",
    pod_options: PodOptions | dict | None = None,
    *,
    include_node_policies: bool = False,
) -> list[dict]:
    """What a rollout applies: the NADs (or SriovNetworks) then the PodTemplates.

    SriovNetworkNodePolicies are left out unless asked for: applying one drains and reboots
    nodes, which deserves its own deliberate step."""
    objects = render_networks(plan, mode)
    if mode == "sriov-operator" and include_node_policies:
        objects += render_sriov_node_policies(plan)
    return objects + render_pod_templates(plan, pod_options)


def with_pod_options(plan: PlanSpec, **pod_options) -> PlanSpec:
    """A copy of the plan with pod_options overridden (handy for callers and tests)."""
    return replace(plan, pod_options={**(plan.pod_options or {}), **pod_options})
