"""Preflight: findings over manifests, a plan and cluster facts, before anything is applied.

`run(objects, plan=None, facts=None)` checks Kubernetes objects (rendered, pasted or uploaded):
NADs, SriovNetworks, node policies and anything carrying a pod (Pod, PodTemplate, Deployment,
StatefulSet, DaemonSet, ReplicaSet, Job, CronJob). A plan, when given, adds its NADs to the ones
that exist, its rail resources to the known VF resources, its NIC NUMA layout and its pod and
service CIDRs. `check_plan(plan)` holds the plan-level rules. Findings are sorted: errors first.

Cluster facts are plain data, see `ClusterFacts`.

One module per rule family: reading (the input), names, pools (whereabouts ranges), nads (network
objects), workloads (pods), fit and numa (against the nodes), plan (plan-level rules), rendered
(a plan and its bundle); context holds what one run knows, runner runs them in turn.
"""

from __future__ import annotations

from planner.podfacts import parse_networks_annotation, quantity
from planner.preflight.plan import check_plan
from planner.preflight.reading import ClusterFacts, describe
from planner.preflight.rendered import check_rendered
from planner.preflight.runner import run

__all__ = [
    "ClusterFacts",
    "check_plan",
    "check_rendered",
    "describe",
    "parse_networks_annotation",
    "quantity",
    "run",
]
