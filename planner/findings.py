"""Findings: problems as data, shared by preflight, the page, the API, the CLI and diagnosis.

A `Finding` names a stable `code` from `CODES`, a severity, the object and field it is about, what
is wrong (`message`) and what to do (`fix`). Codes never change meaning once released: live-pod
diagnosis reports the same codes as preflight, so a user can search for one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

ERROR = "error"
WARNING = "warning"
INFO = "info"
SEVERITIES = (ERROR, WARNING, INFO)
_SEVERITY_RANK = {severity: rank for rank, severity in enumerate(SEVERITIES)}


@dataclass(frozen=True)
class Code:
    code: str
    severity: str  # the usual severity; a rule may raise or lower it for a particular case
    title: str


def _codes(*entries: tuple[str, str, str]) -> dict[str, Code]:
    return {code: Code(code, severity, title) for code, severity, title in entries}


CODES: dict[str, Code] = _codes(
    # Input shape
    ("OBJECT_MALFORMED", ERROR, "An object has a field of the wrong type and cannot be checked"),
    # Networks annotation and NADs
    ("NAD_NOT_FOUND", ERROR, "The networks annotation names a NAD that does not exist"),
    ("NAD_UNVERIFIED", INFO, "NAD names could not be checked: no NADs were given"),
    ("NAD_NAME_DUPLICATE", ERROR, "Two networks share one NAD name"),
    ("NAD_CONFIG_INVALID", ERROR, "A NAD's spec.config is missing or not valid CNI JSON"),
    ("NAD_RESOURCE_ANNOTATION_MISSING", ERROR, "A device NAD lacks the resourceName annotation"),
    ("NETWORKS_ANNOTATION_INVALID", ERROR, "The k8s.v1.cni.cncf.io/networks annotation is invalid"),
    ("SRIOV_OPERATOR_CONFLICT", ERROR, "A NAD collides with one the SR-IOV Network Operator owns"),
    ("SRIOV_FIELD_UNKNOWN", ERROR, "An SR-IOV operator object uses a field its CRD does not have"),
    # Pod security and resources
    ("IPC_LOCK_MISSING", ERROR, "A pod attaching RDMA rails lacks the IPC_LOCK capability"),
    ("SYS_NICE_MISSING", WARNING, "A pod attaching RDMA rails lacks the SYS_NICE capability"),
    ("VF_RESOURCE_MISSING", ERROR, "A NAD's resourceName is not requested by the pod"),
    ("VF_COUNT_MISMATCH", ERROR, "VFs requested differ from the attachments that use them"),
    ("VF_RESOURCE_UNUSED", WARNING, "A VF resource is requested but no attachment uses it"),
    # Cluster facts
    ("RESOURCE_NOT_ADVERTISED", ERROR, "No node advertises a resource the pod requests"),
    ("RESOURCES_UNVERIFIED", WARNING, "The cluster has no nodes: VF resources were not checked"),
    ("RESOURCE_TOO_FEW_NODES", WARNING, "Too few nodes can fit the pod for its replicas"),
    ("NODE_SELECTOR_NO_MATCH", WARNING, "The pod's nodeSelector matches no known node"),
    ("NUMA_SPLIT", WARNING, "The pod's GPUs and VFs cannot share one NUMA node"),
    # Address plan
    ("RAIL_OVERLAP", ERROR, "Two rails' ranges overlap"),
    ("RAIL_OVERLAPS_POD_CIDR", ERROR, "A rail overlaps the cluster pod CIDR"),
    ("RAIL_OVERLAPS_SERVICE_CIDR", ERROR, "A rail overlaps the cluster service CIDR"),
    ("POD_RANGE_TOO_SMALL", ERROR, "A rail's pod range holds fewer addresses than pods planned"),
    ("RANGE_PREFIX_TOO_LONG", ERROR, "A /31 or /32 range has no address whereabouts can give"),
    ("RANGE_BOUNDS_IGNORED", WARNING, "range_start or range_end lies outside the usable range"),
    ("EXCLUSION_OUTSIDE_RANGE", WARNING, "An exclusion lies outside the rail's range"),
    ("GATEWAY_NOT_EXCLUDED", ERROR, "The gateway lies inside the pod range and is not excluded"),
    ("GATEWAY_OUTSIDE_SUBNET", WARNING, "The gateway is outside the rail subnet"),
    ("IPAM_INVALID", ERROR, "The IPAM configuration cannot be parsed"),
    ("VLAN_INVALID", ERROR, "A VLAN id is outside 0-4094"),
    # Names
    ("IFNAME_TOO_LONG", ERROR, "An interface name is longer than 15 characters"),
    ("IFNAME_DUPLICATE", ERROR, "Two attachments use the same interface name"),
    ("IFNAME_RESERVED", ERROR, "An attachment uses eth0, the pod's primary interface"),
    ("IFNAME_INVALID", ERROR, "An interface name contains '/' or whitespace"),
    ("NAME_NOT_DNS1123", ERROR, "A name is not a valid DNS-1123 name"),
    ("RESOURCE_NAME_INVALID", ERROR, "A resource name is not a valid extended resource name"),
    ("RESOURCE_NAME_HYPHEN", WARNING, "A resource name has a hyphen, breaking PCIDEVICE_* names"),
    ("RESOURCE_SHARED_BY_RAILS", WARNING, "Several rails share one device-plugin resource"),
    # NIC inventory and options
    ("NIC_MISSING", WARNING, "A node has no NIC recorded for a rail"),
    ("NIC_VF_COUNT_UNEVEN", WARNING, "Nodes differ in VF count on one rail"),
    ("CNI_OPTION_INVALID", ERROR, "A plan's cni_options entry is unknown or invalid"),
    ("POD_OPTION_INVALID", ERROR, "A plan's pod_options entry is unknown or invalid"),
    # Reminders
    ("ROCE_DSCP_TRUST", INFO, "RoCE rails need DSCP trust on the PF, outside Kubernetes"),
    # Live pods (clusters.diagnose): what the scheduler, kubelet, Multus and IPAM reported
    ("RESOURCE_INSUFFICIENT", WARNING, "Nodes advertise a resource but none has enough free"),
    ("RANGE_EXHAUSTED", ERROR, "A rail's whereabouts range has no free address left"),
    ("DEVICE_PLUGIN_NOT_READY", ERROR, "The kubelet had no device for a resource at admission"),
    ("TOPOLOGY_AFFINITY", ERROR, "Topology Manager rejected the pod: no NUMA-aligned devices"),
    ("NUMA_UNVERIFIED", INFO, "GPU-to-VF NUMA placement could not be checked from the API"),
    ("NETWORK_STATUS_INVALID", WARNING, "The pod's network-status annotation cannot be read"),
    ("POD_NOT_RUNNING", WARNING, "The pod is not running and no rule names the cause"),
    # Live pods: each rail interface compared with the plan
    ("INTERFACE_MISSING", ERROR, "A requested rail interface is not on the pod"),
    ("INTERFACE_WRONG_SUBNET", ERROR, "A rail interface has an address outside its rail"),
    ("INTERFACE_EXCLUDED_ADDRESS", ERROR, "A rail interface has an address the plan excludes"),
    ("INTERFACE_OUTSIDE_RANGE", WARNING, "A rail interface's address is outside the pod range"),
    ("INTERFACE_DUPLICATE_IP", ERROR, "Two pods' rail interfaces share one address"),
    ("INTERFACE_WRONG_NAME", WARNING, "A rail is attached under another interface name"),
    # Rollouts: who owns the live objects a rollout would write (clusters.ownership)
    ("OWNED_BY_OTHER_PLAN", ERROR, "A live object the rollout would write is another plan's"),
    ("UNMANAGED_OBJECT", ERROR, "A live object the rollout would write was not Rail Studio's"),
    ("OBJECT_ADOPTED", INFO, "The rollout takes over a live object Rail Studio did not make"),
)

# Codes only live-pod diagnosis (clusters.diagnose) reports; preflight never does. Their rule
# tests live in tests/clusters/test_diagnose.py.
DIAGNOSIS_CODES = frozenset(
    {
        "RESOURCE_INSUFFICIENT",
        "RANGE_EXHAUSTED",
        "DEVICE_PLUGIN_NOT_READY",
        "TOPOLOGY_AFFINITY",
        "NUMA_UNVERIFIED",
        "NETWORK_STATUS_INVALID",
        "POD_NOT_RUNNING",
        "INTERFACE_MISSING",
        "INTERFACE_WRONG_SUBNET",
        "INTERFACE_EXCLUDED_ADDRESS",
        "INTERFACE_OUTSIDE_RANGE",
        "INTERFACE_DUPLICATE_IP",
        "INTERFACE_WRONG_NAME",
    }
)


# Codes only a rollout reports, from the live objects it would write (clusters.ownership);
# their tests live in tests/clusters/test_ownership.py.
ROLLOUT_CODES = frozenset({"OWNED_BY_OTHER_PLAN", "UNMANAGED_OBJECT", "OBJECT_ADOPTED"})


class UnknownCode(KeyError):
    pass


@dataclass(frozen=True)
class Finding:
    code: str
    severity: str
    object: str
    field: str
    message: str
    fix: str

    def to_dict(self) -> dict:
        return {
            "code": self.code,
            "severity": self.severity,
            "object": self.object,
            "field": self.field,
            "message": self.message,
            "fix": self.fix,
        }

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR


def finding(
    code: str, obj: str, field: str, message: str, fix: str, severity: str | None = None
) -> Finding:
    """A Finding for a registered code, with the code's usual severity unless one is given."""
    try:
        registered = CODES[code]
    except KeyError:
        raise UnknownCode(code) from None
    severity = severity or registered.severity
    if severity not in _SEVERITY_RANK:
        raise ValueError(f"unknown severity {severity!r}")
    return Finding(code, severity, obj, field, message, fix)


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Errors first, then warnings, then info; duplicates dropped; otherwise in given order."""
    unique = list(dict.fromkeys(findings))
    return sorted(unique, key=lambda item: _SEVERITY_RANK[item.severity])


def counts(findings: Iterable[Finding]) -> dict[str, int]:
    result = dict.fromkeys(SEVERITIES, 0)
    for item in findings:
        result[item.severity] += 1
    return result


def has_errors(findings: Iterable[Finding]) -> bool:
    return any(item.severity == ERROR for item in findings)
