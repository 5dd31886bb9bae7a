"""The lab captures in this folder (written by capture.py), and the plan that matches the lab.

record = load("healthy")   # {"scenario", "note", "faults", "pod", "events", "nodes", "nads",
                           #  "ippools", "devices"}
lab_plan()                 # the seed plan with the lab's real NIC inventory
"""

from __future__ import annotations

import functools
import json
from dataclasses import replace
from pathlib import Path

from planner.planspec import NICSpec, PlanSpec
from planner.seed import seed_plan_spec

FOLDER = Path(__file__).resolve().parent
SCENARIOS = (
    "healthy",
    "comma_form",
    "default_names",
    "nad_typo",
    "no_ipc_lock",
    "vf_pci_required",
    "numa_aligned",
    "numa_mismatch",
    "unregistered_resource",
    "unregistered_recovered",
    "range_exhausted",
    "admission_error",
    "topology_affinity",
)


@functools.cache
def _read(name: str) -> str:
    return (FOLDER / f"{name}.json").read_text()


def load(name: str) -> dict:
    """A fresh copy of one capture (tests may change it)."""
    return json.loads(_read(name))


def pod_key(record: dict) -> str:
    metadata = record["pod"]["metadata"]
    return f"{metadata['namespace']}/{metadata['name']}"


def devices(record: dict) -> dict:
    """The inspect_pods `devices` argument for a capture ({} when it has none)."""
    return {pod_key(record): record["devices"]} if record.get("devices") else {}


@functools.cache
def _lab_plan() -> PlanSpec:
    from labsim.spec import load_spec
    from labsim.testing import SEED_SPEC

    lab = load_spec(SEED_SPEC)
    plan = seed_plan_spec()
    nodes = []
    for node in plan.nodes:
        hardware = next(item for item in lab.nodes if item.name == node.name)
        nics = tuple(
            NICSpec(
                rail_index=rail.index,
                pf_name=rail.pf,
                pci_address=rail.pci,
                numa_node=rail.numa,
                vf_count=rail.vfs,
                rdma_device=rail.rdma,
            )
            for rail in hardware.rails
        )
        nodes.append(replace(node, nics=nics))
    return replace(plan, nodes=tuple(nodes))


def lab_plan() -> PlanSpec:
    """The seed plan (8 rails, 10.5N.0.0/16 excluding the first /24, sriov-rail-N, netN+1) with
    the lab's NICs: PF names, PCI addresses and NUMA nodes as labsim's seed spec has them."""
    return _lab_plan()
