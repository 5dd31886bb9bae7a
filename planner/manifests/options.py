"""Option tables: what a plan's `cni_options` and `pod_options` may hold, how each is read and
checked, and the rail selection a pod may ask for."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields

from planner import naming
from planner.manifests.common import (
    CNI_TYPES,
    DEFAULT_GPU_RESOURCE,
    DEFAULT_IMAGE,
    DEFAULT_OPERATOR_NAMESPACE,
    LAYOUTS,
    ManifestError,
)
from planner.planspec import PlanSpec

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


def checked_cni_options(plan: PlanSpec) -> dict:
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
