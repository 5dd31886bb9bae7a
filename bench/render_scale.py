"""Render and preflight at scale: 8 rails, 4,096 nodes, one pod per node, facts for 512 nodes.

    .venv/bin/python bench/render_scale.py [--nodes 4096] [--fact-nodes 512] [--repeat 3]

Targets: render < 2 s, preflight < 2 s. Prints the best of --repeat runs; asserts nothing.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from planner import manifests, preflight, yamlio
from planner.planspec import NodeSpec
from planner.seed import seed_nic, seed_plan_spec

RAILS = 8
RENDER_TARGET_S = 2.0
PREFLIGHT_TARGET_S = 2.0


def scale_plan(node_count: int):
    nics = tuple(seed_nic(index) for index in range(RAILS))
    nodes = tuple(
        NodeSpec(
            name=f"gpu-{index:05d}",
            gpu_count=8,
            labels={"kubernetes.io/hostname": f"gpu-{index:05d}"},
            nics=nics,
        )
        for index in range(node_count)
    )
    return replace(seed_plan_spec(), name="Scale", slug="scale", nodes=nodes)


def cluster_facts(plan, fact_nodes: int) -> dict:
    allocatable = {"nvidia.com/gpu": "8"}
    allocatable.update({rail.resource_name: "8" for rail in plan.rails})
    nodes = plan.nodes[:fact_nodes]
    return {
        "nodes": [
            {"name": node.name, "allocatable": dict(allocatable), "labels": dict(node.labels)}
            for node in nodes
        ],
        "nads": [],
        "nic_numa": {
            node.name: {rail.resource_name: rail.index // 4 for rail in plan.rails}
            for node in nodes
        },
        "gpu_numa": {node.name: {0: 4, 1: 4} for node in nodes},
    }


def best_of(repeat: int, work):
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - started)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=4096)
    parser.add_argument("--fact-nodes", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    plan = scale_plan(args.nodes)
    facts = cluster_facts(plan, args.fact_nodes)

    render_s, objects = best_of(
        args.repeat, lambda: manifests.render_nads(plan) + manifests.render_node_pods(plan)
    )
    preflight_s, found = best_of(args.repeat, lambda: preflight.run(objects, plan, facts))
    plan_s, plan_found = best_of(args.repeat, lambda: preflight.check_plan(plan))
    dump_s, text = best_of(1, lambda: yamlio.dump_all(objects))
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"plan: {RAILS} rails, {len(plan.nodes)} nodes; facts for {args.fact_nodes} nodes")
    print(f"objects rendered: {len(objects)} ({RAILS} NADs + {len(objects) - RAILS} pods)")
    verdict = "ok" if render_s < RENDER_TARGET_S else "SLOW"
    print(f"render:      {render_s:7.3f} s  (target < {RENDER_TARGET_S} s) {verdict}")
    verdict = "ok" if preflight_s < PREFLIGHT_TARGET_S else "SLOW"
    print(f"preflight:   {preflight_s:7.3f} s  (target < {PREFLIGHT_TARGET_S} s) {verdict}")
    print(f"check_plan:  {plan_s:7.3f} s")
    print(f"dump YAML:   {dump_s:7.3f} s  ({len(text) / 1e6:.1f} MB)")
    print(f"peak RSS:    {peak_mib:7.1f} MiB")
    tally = Counter(item.code for item in found + plan_found)
    print("findings:    " + ", ".join(f"{code} x{count}" for code, count in sorted(tally.items())))


if __name__ == "__main__":
    main()
