"""Rules over anything carrying a pod: attachments, VF counts and capabilities."""

from __future__ import annotations

import difflib
from collections import Counter

from planner import podfacts
from planner.findings import WARNING, Finding, finding
from planner.preflight.context import Context
from planner.preflight.fit import check_fit, check_numa, resources_unverified
from planner.preflight.names import dns_label_finding, dns_subdomain_finding, ifname_findings
from planner.preflight.reading import NETWORKS_ANNOTATION, Nad, Workload, fmt


def check_workload(context: Context, workload: Workload) -> None:
    ref, base = workload.ref, workload.base
    if workload.name:
        what = "pod name" if workload.kind == "Pod" else "object name"
        context.add(dns_subdomain_finding(ref, "metadata.name", workload.name, what))
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
        check_fit(context, workload, requested)
    elif context.no_nodes:
        resources_unverified(context, workload, requested)
    if context.numa is not None:
        check_numa(context, workload, requested)


def _first_container(containers: list[dict], needed: Counter) -> int:
    for index, container in enumerate(containers):
        if set(podfacts.container_requests(container)) & set(needed):
            return index
    return 0


def _check_attachments(
    context: Context, workload: Workload, attachments: list[dict], namespace, field_path: str
) -> list[Nad | None]:
    ref = workload.ref
    resolved: list[Nad | None] = []
    interfaces = []
    for attachment in attachments:
        name = attachment["name"]
        target_namespace = attachment["namespace"] or namespace
        interfaces.append(attachment["interface"] or f"net{attachment['position'] + 1}")
        context.add(dns_label_finding(ref, field_path, name, "network name"))
        nad = context.find_nad(target_namespace, name)
        if nad is None and (context.nads_known or context.nads):
            context.add(_nad_not_found(context, ref, field_path, name, target_namespace))
        resolved.append(nad)
    context.extend(ifname_findings(ref, field_path, interfaces))
    return resolved


def _nad_not_found(context: Context, ref, field_path, name: str, namespace) -> Finding:
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
                    f"{count} attachments use {resource} but the pod requests {fmt(have)}; "
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
                    f"The pod requests {fmt(have)} of {resource} but only {count} attachment(s) "
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
