"""Plan -> Kubernetes objects as plain dicts: NADs, SR-IOV operator objects, pods and templates.

Pure: a `PlanSpec` in, dicts out, so the page, the API, the CLI and the rollout task share it.
Keys appear only when set; nothing renders a null.

`spec.config` (and a SriovNetwork's `ipam`) is JSON text written by `config_json`: objects one key
per line with two-space indents, lists of scalars or of flat objects on one line, key order as
rendered (cniVersion, type, name, type-specific keys, ipam). The same plan always gives the same
bytes.

Modules: common (versions, labels, defaults), options (cni_options and pod_options), config
(spec.config text), addresses, nads, operator (SR-IOV Network Operator objects), pods, bundles.
"""

from __future__ import annotations

from planner.manifests.addresses import ip_preview, plan_labels, rail_exclusions
from planner.manifests.bundles import render_bundle, with_pod_options
from planner.manifests.common import (
    CNI_TYPES,
    DEFAULT_GPU_RESOURCE,
    DEFAULT_GPUS,
    DEFAULT_IMAGE,
    DEFAULT_OPERATOR_NAMESPACE,
    DEFAULT_SRIOV_NODE_SELECTOR,
    HOSTNAME_LABEL,
    LAYOUTS,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    MAX_IP_PREVIEW,
    MODES,
    NAD_API_VERSION,
    NAD_KIND,
    NETWORKS_ANNOTATION,
    PLAN_LABEL,
    RDMA_CAPABILITIES,
    RESOURCE_NAME_ANNOTATION,
    SRIOV_API_VERSION,
    ManifestError,
)
from planner.manifests.config import config_json
from planner.manifests.nads import nad_config, render_nad, render_nads, whereabouts_ipam
from planner.manifests.operator import (
    PodGroup,
    link_type,
    operator_resource_name,
    render_sriov_network,
    render_sriov_networks,
    render_sriov_node_policies,
    render_sriov_node_policy,
    render_sriov_operator,
)
from planner.manifests.options import (
    CNI_OPTION_KEYS,
    MAX_RAIL_SELECTION,
    POD_OPTION_KEYS,
    Check,
    OptionKey,
    PodOptions,
    cni_option_errors,
    cni_options,
    missing_rails,
    pod_option_errors,
    pod_options_errors,
    pod_options_from_strings,
    rail_selection_errors,
    selected_rails,
)
from planner.manifests.pods import (
    networks_annotation,
    pod_groups,
    rail_numa_nodes,
    rail_rdma_device,
    render_job,
    render_networks,
    render_node_pods,
    render_pod,
    render_pod_templates,
)

__all__ = [
    "CNI_OPTION_KEYS",
    "CNI_TYPES",
    "Check",
    "DEFAULT_GPUS",
    "DEFAULT_GPU_RESOURCE",
    "DEFAULT_IMAGE",
    "DEFAULT_OPERATOR_NAMESPACE",
    "DEFAULT_SRIOV_NODE_SELECTOR",
    "HOSTNAME_LABEL",
    "LAYOUTS",
    "MANAGED_BY",
    "MANAGED_BY_LABEL",
    "MAX_IP_PREVIEW",
    "MAX_RAIL_SELECTION",
    "MODES",
    "ManifestError",
    "NAD_API_VERSION",
    "NAD_KIND",
    "NETWORKS_ANNOTATION",
    "OptionKey",
    "PLAN_LABEL",
    "POD_OPTION_KEYS",
    "PodGroup",
    "PodOptions",
    "RDMA_CAPABILITIES",
    "RESOURCE_NAME_ANNOTATION",
    "SRIOV_API_VERSION",
    "cni_option_errors",
    "cni_options",
    "config_json",
    "ip_preview",
    "link_type",
    "missing_rails",
    "nad_config",
    "networks_annotation",
    "operator_resource_name",
    "plan_labels",
    "pod_groups",
    "pod_option_errors",
    "pod_options_errors",
    "pod_options_from_strings",
    "rail_exclusions",
    "rail_numa_nodes",
    "rail_rdma_device",
    "rail_selection_errors",
    "render_bundle",
    "render_job",
    "render_nad",
    "render_nads",
    "render_networks",
    "render_node_pods",
    "render_pod",
    "render_pod_templates",
    "render_sriov_network",
    "render_sriov_networks",
    "render_sriov_node_policies",
    "render_sriov_node_policy",
    "render_sriov_operator",
    "selected_rails",
    "whereabouts_ipam",
    "with_pod_options",
]
