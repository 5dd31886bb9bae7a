"""raillint: preflight for users' own pipelines.

    python manage.py raillint FILE... [--plan SLUG] [--facts FILE] [--format text|json]

Prints the findings over the Kubernetes objects in the files ("-" reads stdin) and exits 1 when
one is an error, 2 when the input cannot be read. With --plan, the plan's NADs count as existing
and its NIC inventory informs the NUMA check; --facts adds cluster facts (JSON or YAML, the shape
of planner.preflight.ClusterFacts).
"""

from __future__ import annotations

import json
import sys

import yaml
from django.core.management.base import BaseCommand, CommandError

from planner import findings, preflight, yamlio

EXIT_ERRORS = 1
EXIT_BAD_INPUT = 2


def load_plan_spec(slug: str):
    from planner.models import Plan

    try:
        return Plan.objects.get(slug=slug).to_spec()
    except Plan.DoesNotExist:
        raise CommandError(f"No plan with slug {slug!r}.", returncode=EXIT_BAD_INPUT) from None


def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as error:
        raise CommandError(f"{path}: cannot read: {error}", returncode=EXIT_BAD_INPUT) from None


def _load_facts(path: str) -> preflight.ClusterFacts:
    try:
        data = yaml.safe_load(_read(path))
        return preflight.ClusterFacts.coerce(data or {})
    except (yaml.YAMLError, TypeError, ValueError) as error:
        raise CommandError(
            f"{path}: not cluster facts: {error}", returncode=EXIT_BAD_INPUT
        ) from None


def _summary(found) -> str:
    tally = findings.counts(found)
    if not found:
        return "No findings."
    return ", ".join(f"{count} {severity}(s)" for severity, count in tally.items() if count)


class Command(BaseCommand):
    help = "Check Kubernetes YAML for multi-rail RDMA mistakes; exit 1 when there is an error."

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE", help='YAML files; "-" for stdin')
        parser.add_argument("--plan", metavar="SLUG", help="check against this plan")
        parser.add_argument("--facts", metavar="FILE", help="cluster facts, JSON or YAML")
        parser.add_argument("--format", choices=("text", "json"), default="text")

    def handle(self, *args, **options):
        objects, sources = [], {}
        for path in options["files"]:
            try:
                loaded = yamlio.load_documents(_read(path))
            except yamlio.YamlInputError as error:
                raise CommandError(f"{path}: {error}", returncode=EXIT_BAD_INPUT) from None
            for obj in loaded:
                sources.setdefault(preflight.describe(obj, len(objects)), path)
                objects.append(obj)
        plan = load_plan_spec(options["plan"]) if options["plan"] else None
        facts = _load_facts(options["facts"]) if options["facts"] else None
        found = preflight.run(objects, plan=plan, facts=facts)
        if options["format"] == "json":
            self._write_json(found, sources)
        else:
            self._write_text(found, sources)
        if findings.has_errors(found):
            raise CommandError(_summary(found), returncode=EXIT_ERRORS)

    def _write_json(self, found, sources) -> None:
        entries = [{**item.to_dict(), "file": sources.get(item.object)} for item in found]
        document = {"findings": entries, "counts": findings.counts(found)}
        self.stdout.write(json.dumps(document, indent=2))

    def _write_text(self, found, sources) -> None:
        for item in found:
            where = f"{sources[item.object]}: " if item.object in sources else ""
            self.stdout.write(f"{item.severity.upper():8} {item.code}  {where}{item.object}")
            if item.field:
                self.stdout.write(f"         field: {item.field}")
            self.stdout.write(f"         {item.message}")
            self.stdout.write(f"         fix: {item.fix}")
        self.stdout.write(_summary(found))
