"""The plan document as YAML or JSON text, dumped once per plan revision (planner.plancache)
with libyaml's dumper (yaml.CSafeDumper, ten times the pure-Python one) when PyYAML has it."""

from __future__ import annotations

import json

import yaml

from planner import documents, plancache
from planner.models import Plan

DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def dump_yaml(document: dict) -> str:
    return yaml.dump(document, Dumper=DUMPER, sort_keys=False, default_flow_style=False)


def dump_json(document: dict) -> str:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


DUMPERS = {"yaml": dump_yaml, "json": dump_json}


def export_text(plan: Plan, output: str) -> str:
    dump = DUMPERS[output]
    return plancache.cached(plan, "export", output, lambda: dump(documents.export_plan(plan)))
