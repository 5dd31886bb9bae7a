"""Everything one preflight run knows, indexed once."""

from __future__ import annotations

from collections import Counter, defaultdict

from planner import podfacts
from planner.findings import Finding
from planner.planspec import PlanSpec
from planner.podfacts import parse_networks_annotation
from planner.preflight.numa import NumaIndex
from planner.preflight.pools import Pool
from planner.preflight.reading import ClusterFacts, Nad


class Context:
    """Everything `run` knows, indexed once."""

    def __init__(self, objects: list[dict], plan: PlanSpec | None, facts: ClusterFacts):
        self.objects, self.plan, self.facts = objects, plan, facts
        self.findings: list[Finding] = []
        self.nads: dict[tuple[str | None, str], Nad] = {}
        self.nads_by_name: dict[str, list[Nad]] = defaultdict(list)
        self.nads_known = plan is not None or facts.nads is not None
        self.vf_resources: set[str] = set()
        self.pools: list[Pool] = []
        self.attached_pods: Counter = Counter()  # (namespace, NAD name) -> pods attaching it
        self.roce_nads: list[str] = []
        self.operator_owned: dict[tuple[str | None, str], str] = {}
        self.pod_cidr = (plan.pod_cidr if plan else None) or facts.pod_cidr
        self.service_cidr = (plan.service_cidr if plan else None) or facts.service_cidr
        self.default_namespace = plan.namespace if plan else None
        self._annotation_cache: dict[str, tuple[list[dict] | None, str | None]] = {}
        self._fit_cache: dict = {}
        self._numa_cache: dict = {}
        self.nodes = podfacts.NodeIndex(facts.nodes) if facts.nodes else None
        self.no_nodes = facts.nodes is not None and not facts.nodes  # known: the cluster has none
        self.numa = NumaIndex.build(plan, facts)

    def add(self, item: Finding | None) -> None:
        if item is not None:
            self.findings.append(item)

    def extend(self, items) -> None:
        self.findings.extend(items)

    def register_nad(self, nad: Nad) -> None:
        key = (nad.namespace, nad.name)
        self.nads.setdefault(key, nad)
        self.nads_by_name[nad.name].append(nad)
        if nad.resource:
            self.vf_resources.add(nad.resource)

    def find_nad(self, namespace: str | None, name: str) -> Nad | None:
        """The NAD an attachment names; a side without a namespace matches any namespace."""
        nad = self.nads.get((namespace, name))
        if nad is not None:
            return nad
        for candidate in self.nads_by_name.get(name, ()):
            if namespace is None or candidate.namespace is None:
                return candidate
        return None

    def annotation(self, value: str) -> tuple[list[dict] | None, str | None]:
        cached = self._annotation_cache.get(value)
        if cached is None:
            try:
                cached = (parse_networks_annotation(value), None)
            except ValueError as error:
                cached = (None, str(error))
            self._annotation_cache[value] = cached
        return cached
