"""Rules over network objects: NADs, SriovNetworks and SR-IOV node policies."""

from __future__ import annotations

import json

from planner import manifests
from planner.findings import ERROR, WARNING, Finding, finding
from planner.planspec import PlanSpec
from planner.preflight.context import Context
from planner.preflight.names import dns_label_finding, resource_name_findings
from planner.preflight.pools import check_pool, pools_from_ipam
from planner.preflight.reading import (
    POLICY_MISPLACED_FIELDS,
    RESOURCE_NAME_ANNOTATION,
    SRIOV_OWNER_ANNOTATION,
    Nad,
    describe,
    main_plugin,
    parse_config,
)


def roce_reminder(ref: str, names: list[str]) -> Finding:
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


def register_plan_nads(context: Context, plan: PlanSpec) -> None:
    options = manifests.cni_options(plan)
    for rail in plan.rails:
        context.register_nad(
            Nad(
                namespace=plan.namespace,
                name=rail.nad_name,
                ref=f"plan {plan.slug} rail {rail.index}",
                resource=rail.resource_name or None,
                cni_type=plan.cni_type,
                rdma_chained=bool(options.get("rdma")),
                source="plan",
            )
        )


def register_cluster_nad(context: Context, entry: dict) -> None:
    if not isinstance(entry, dict) or not entry.get("name"):
        return
    annotations = entry.get("annotations") or {}
    config, _ = parse_config(entry.get("config"))
    plugin, rdma = main_plugin(config or {})
    nad = Nad(
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


def check_nad_object(context: Context, obj: dict, index: int) -> None:
    ref = describe(obj, index)
    metadata = obj.get("metadata") or {}
    name, namespace = metadata.get("name") or "", metadata.get("namespace")
    annotations = metadata.get("annotations") or {}
    context.add(dns_label_finding(ref, "metadata.name", name, "NAD name"))
    if namespace:
        context.add(dns_label_finding(ref, "metadata.namespace", namespace, "namespace"))
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
    plugin, rdma = _checked_config(context, ref, obj)
    cni_type = plugin.get("type")
    resource = annotations.get(RESOURCE_NAME_ANNOTATION)
    _check_resource_annotation(context, ref, resource, plugin)
    nad = Nad(key[0], name, ref, resource, cni_type, rdma)
    context.register_nad(nad)
    if context.nads.get(key) is not nad and context.nads[key].source != "object":
        context.nads[key] = nad  # the object being applied replaces what exists
    if cni_type in ("sriov", "macvlan") and _link_is_eth(context.plan):
        context.roce_nads.append(name)
    ipam_config = plugin.get("ipam") if isinstance(plugin.get("ipam"), dict) else None
    if ipam_config and ipam_config.get("type") == "whereabouts":
        _add_pools(context, ref, "spec.config.ipam.", ipam_config, key)


def _checked_config(context: Context, ref: str, obj: dict) -> tuple[dict, bool]:
    """The NAD's main plugin and whether it is an RDMA one; findings for a config Multus
    cannot use."""
    config, problem = parse_config((obj.get("spec") or {}).get("config"))
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
    plugin, rdma = main_plugin(config or {})
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
    return plugin, rdma


def _check_resource_annotation(context: Context, ref: str, resource, plugin: dict) -> None:
    cni_type = plugin.get("type")
    resource_field = f'metadata.annotations["{RESOURCE_NAME_ANNOTATION}"]'
    if resource:
        context.extend(resource_name_findings(ref, resource_field, resource))
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


def _link_is_eth(plan: PlanSpec | None) -> bool:
    return plan is None or manifests.link_type(plan) == "eth"


def _add_pools(context: Context, ref: str, prefix: str, ipam_config: dict, key) -> None:
    pools, found = pools_from_ipam(ref, prefix, ipam_config)
    context.extend(found)
    for pool in pools:
        pool.key = key
        context.extend(check_pool(pool))
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


def check_sriov_network(context: Context, obj: dict, index: int) -> None:
    ref = describe(obj, index)
    metadata, spec = obj.get("metadata") or {}, obj.get("spec") or {}
    name = metadata.get("name") or ""
    namespace = spec.get("networkNamespace") or metadata.get("namespace")
    context.add(dns_label_finding(ref, "metadata.name", name, "network name"))
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
        context.extend(resource_name_findings(ref, "spec.resourceName", full_resource))
    key = (namespace or context.default_namespace, name)
    owner = f"SriovNetwork.sriovnetwork.openshift.io/{metadata.get('namespace')}/{name}"
    nad = Nad(
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


def check_node_policy(context: Context, obj: dict, index: int) -> None:
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
    for key in POLICY_MISPLACED_FIELDS:
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
        context.extend(resource_name_findings(ref, "spec.resourceName", f"{prefix}/{resource}"))
