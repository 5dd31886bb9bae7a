"""The networks and network-status annotations Multus could not read."""

from __future__ import annotations

from clusters.diagnose.base import NETWORKS_FIELD, STATUS_FIELD, clip, new_diagnosis
from clusters.inspect import (
    PodView,
)
from planner.findings import Finding


def annotation_findings(view: PodView) -> list[Finding]:
    found = []
    if view.networks_error:
        found.append(
            new_diagnosis(
                "NETWORKS_ANNOTATION_INVALID",
                view,
                NETWORKS_FIELD,
                f"Multus cannot read the networks annotation: {view.networks_error}; it fails "
                "the pod's sandbox, so the pod stays in ContainerCreating without its rails.",
                'Write a JSON list such as [{"name": "sriov-rail-0", "interface": "net1"}], or '
                "the comma form sriov-rail-0@net1, sriov-rail-1@net2.",
                evidence=clip(view.networks_value or ""),
            )
        )
    if view.status_error:
        found.append(
            new_diagnosis(
                "NETWORK_STATUS_INVALID",
                view,
                STATUS_FIELD,
                f"The network-status annotation Multus wrote cannot be read in full: "
                f"{view.status_error}; the interfaces below may be incomplete.",
                "Check what else writes the pod's annotations; Multus rewrites network-status "
                "when the pod's sandbox is recreated.",
                evidence=clip(view.status_value or ""),
            )
        )
    return found
