"""The pod spec's capabilities: IPC_LOCK and SYS_NICE for RDMA containers."""

from __future__ import annotations

from clusters.diagnose.base import new_diagnosis
from clusters.inspect import (
    Context,
    PodView,
)
from planner import podfacts
from planner.findings import Finding

_CAPABILITY_PROBLEMS = {
    "IPC_LOCK": (
        "IPC_LOCK_MISSING",
        "Container {name} attaches RDMA rails without IPC_LOCK: it cannot pin (register) memory, "
        "so ibv_devinfo in the pod shows nothing usable and NCCL falls back to TCP sockets.",
        'Add "IPC_LOCK" to securityContext.capabilities.add and recreate the pod.',
    ),
    "SYS_NICE": (
        "SYS_NICE_MISSING",
        "Container {name} lacks SYS_NICE, which NCCL uses to raise its threads' priority.",
        'Add "SYS_NICE" to securityContext.capabilities.add.',
    ),
}


def capability_findings(view: PodView, context: Context) -> list[Finding]:
    rdma_resources = {resource for resource in view.requests if context.is_vf_resource(resource)}
    attaches_rdma = any(
        context.is_rdma_network(item["namespace"], item["name"]) for item in view.networks
    )
    if not rdma_resources and not attaches_rdma:
        return []
    requests = [container.requests for container in view.containers]
    found = []
    for index in podfacts.rdma_containers(requests, rdma_resources):
        container = view.containers[index]
        field = f"spec.containers[{index}].securityContext.capabilities.add"
        evidence = (
            f"container {container.name}: capabilities.add = {sorted(container.capabilities)}"
        )
        for missing in podfacts.missing_rdma_capabilities(
            container.capabilities, container.privileged
        ):
            code, problem, fix = _CAPABILITY_PROBLEMS[missing]
            found.append(
                new_diagnosis(
                    code, view, field, problem.format(name=container.name), fix, evidence=evidence
                )
            )
    return found
