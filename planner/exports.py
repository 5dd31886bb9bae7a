"""The plan document as YAML or JSON text, written once per plan revision (planner.plancache).

YAML: the plan and its rails through libyaml's dumper; the nodes, which are most of a big plan,
written line by line: a node's own fields, then one line per NIC as a flow mapping whose values
are JSON scalars (JSON is YAML). A 4,096 x 8 plan takes a fraction of a second instead of the
seconds PyYAML's representer needs for 300,000 scalars, and a changed NIC is a one-line diff.
"""

from __future__ import annotations

import json

import yaml

from planner import documents, plancache
from planner.models import Plan

DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _scalar(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def _flow(mapping: dict) -> str:
    return json.dumps(mapping, ensure_ascii=False, separators=(", ", ": "))


def _node_lines(node: dict) -> list[str]:
    lines = [f"- name: {_scalar(node['name'])}"]
    for key, value in node.items():
        if key in ("name", "nics"):
            continue
        lines.append(f"  {key}: {_flow(value) if isinstance(value, dict) else _scalar(value)}")
    nics = node.get("nics") or []
    lines.append("  nics:" if nics else "  nics: []")
    lines += [f"  - {_flow(nic)}" for nic in nics]
    return lines


def dump_yaml(document: dict) -> str:
    head = {key: value for key, value in document.items() if key != "nodes"}
    text = yaml.dump(head, Dumper=DUMPER, sort_keys=False, default_flow_style=False)
    nodes = document.get("nodes") or []
    if not nodes:
        return text + "nodes: []\n"
    lines = ["nodes:"]
    for node in nodes:
        lines += _node_lines(node)
    return text + "\n".join(lines) + "\n"


def dump_json(document: dict) -> str:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


DUMPERS = {"yaml": dump_yaml, "json": dump_json}


def export_text(plan: Plan, output: str) -> str:
    dump = DUMPERS[output]
    return plancache.cached(plan, "export", output, lambda: dump(documents.export_plan(plan)))
