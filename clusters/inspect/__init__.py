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

Modules: network_status (what Multus writes), pods (one pod read once), events, plans (a plan
indexed), context (NADs, nodes and pools indexed), interfaces (each interface judged), reports
(pod reports and a cluster's run; the diagnosis comes from clusters.diagnose).
"""

from __future__ import annotations

from clusters.inspect.context import Context, NadIndex, NadInfo, build_context
from clusters.inspect.events import (
    event_order,
    events_of,
    group_events,
    involved_object,
    normalize_event,
)
from clusters.inspect.interfaces import (
    DUPLICATE,
    EXCLUDED,
    MISSING,
    OK,
    OUTSIDE_RANGE,
    STATUSES,
    WRONG_NAME,
    WRONG_SUBNET,
    InterfaceReport,
    IpOwners,
    interface_reports,
    ip_owners,
)
from clusters.inspect.network_status import (
    DEFAULT_GPU_RESOURCE,
    LEGACY_NETWORK_STATUS_ANNOTATION,
    NETWORK_STATUS_ANNOTATION,
    NETWORKS_ANNOTATION,
    RDMA_CNI_TYPES,
    RESOURCE_NAME_ANNOTATION,
    TERMINAL_PHASES,
    parse_network_status,
    read_network_status,
)
from clusters.inspect.plans import PlanIndex, RailPlan
from clusters.inspect.pods import ContainerView, PodView, pod_reason, read_pod
from clusters.inspect.reports import (
    PodReader,
    PodReport,
    events_for,
    inspect_cluster,
    inspect_pods,
    nad_owners,
    summarize,
)
from planner.podfacts import NodeIndex

__all__ = [
    "ContainerView",
    "Context",
    "DEFAULT_GPU_RESOURCE",
    "DUPLICATE",
    "EXCLUDED",
    "InterfaceReport",
    "IpOwners",
    "LEGACY_NETWORK_STATUS_ANNOTATION",
    "MISSING",
    "NETWORKS_ANNOTATION",
    "NETWORK_STATUS_ANNOTATION",
    "NadIndex",
    "NadInfo",
    "NodeIndex",
    "OK",
    "OUTSIDE_RANGE",
    "PlanIndex",
    "PodReader",
    "PodReport",
    "PodView",
    "RDMA_CNI_TYPES",
    "RESOURCE_NAME_ANNOTATION",
    "RailPlan",
    "STATUSES",
    "TERMINAL_PHASES",
    "WRONG_NAME",
    "WRONG_SUBNET",
    "build_context",
    "event_order",
    "events_for",
    "events_of",
    "group_events",
    "inspect_cluster",
    "inspect_pods",
    "interface_reports",
    "involved_object",
    "ip_owners",
    "nad_owners",
    "normalize_event",
    "parse_network_status",
    "pod_reason",
    "read_network_status",
    "read_pod",
    "summarize",
]
