"""Scheduling: which node a pod fits on, and the scheduler's wording when none does.

Quantities are kept as integer milli-units so a large lab schedules quickly. Like
kube-scheduler, the search starts at a rotating node and stops once enough feasible nodes
were found, then picks the least allocated of them.
"""

import math
from collections.abc import Iterable

from labsim.quantity import parse_quantity


def milli(value) -> int:
    return math.ceil(parse_quantity(value) * 1000)


def pod_requests(pod: dict) -> dict[str, int]:
    spec = pod.get("spec") or {}
    totals: dict[str, int] = {"pods": 1000}
    for container in spec.get("containers") or []:
        for resource, amount in ((container.get("resources") or {}).get("requests") or {}).items():
            totals[resource] = totals.get(resource, 0) + milli(amount)
    for container in spec.get("initContainers") or []:
        for resource, amount in ((container.get("resources") or {}).get("requests") or {}).items():
            totals[resource] = max(totals.get(resource, 0), milli(amount))
    return totals


def whole_requests(requests: dict[str, int]) -> dict[str, int]:
    """Extended resources as device counts, the way the device manager sees them."""
    return {name: amount // 1000 for name, amount in requests.items() if "/" in name}


# kube-scheduler's percentageOfNodesToScore as this lab configures it: stop looking once this
# share of the nodes (but at least 100) were found feasible, then pick the best of those.
PERCENTAGE_OF_NODES_TO_SCORE = 10
MIN_FEASIBLE_NODES_TO_FIND = 100


class _NodeState:
    """A node's allocatable and free resources as vectors indexed like the scheduler's slots."""

    __slots__ = ("version", "free", "plain", "cpu", "memory")

    def __init__(self, version: str, free: list[int], plain: bool, cpu: int, memory: int):
        self.version = version
        self.free = free
        self.plain = plain  # schedulable and untainted
        self.cpu = cpu
        self.memory = memory


class Scheduler:
    def __init__(self, percentage_of_nodes_to_score: int = PERCENTAGE_OF_NODES_TO_SCORE):
        self.percentage = percentage_of_nodes_to_score
        self._allocatable: dict[str, tuple[str, dict[str, int]]] = {}
        self.usage: dict[str, dict[str, int]] = {}
        self._bound: dict[str, tuple[str, dict[str, int]]] = {}
        self._slots: dict[str, int] = {"cpu": 0, "memory": 1}
        self._states: dict[str, _NodeState] = {}
        self._next_start = 0

    def allocatable(self, node: dict) -> dict[str, int]:
        name = node["metadata"]["name"]
        version = node["metadata"].get("resourceVersion", "")
        cached = self._allocatable.get(name)
        if cached is None or cached[0] != version:
            values = {
                k: milli(v) for k, v in (node.get("status") or {}).get("allocatable", {}).items()
            }
            cached = (version, values)
            self._allocatable[name] = cached
        return cached[1]

    def _slot(self, resource: str) -> int:
        slot = self._slots.get(resource)
        if slot is None:
            slot = self._slots[resource] = len(self._slots)
            self._states.clear()  # vectors are rebuilt with the new slot
        return slot

    def _state(self, node: dict) -> _NodeState:
        metadata = node["metadata"]
        version = metadata.get("resourceVersion", "")
        state = self._states.get(metadata["name"])
        if state is not None and state.version == version:
            return state
        allocatable = self.allocatable(node)
        used = self.usage.get(metadata["name"]) or {}
        free = [0] * len(self._slots)
        for resource, slot in self._slots.items():
            free[slot] = allocatable.get(resource, 0) - used.get(resource, 0)
        spec = node.get("spec") or {}
        state = _NodeState(
            version,
            free,
            not spec.get("unschedulable") and not spec.get("taints"),
            allocatable.get("cpu", 0),
            allocatable.get("memory", 0),
        )
        self._states[metadata["name"]] = state
        return state

    def _charge(self, node: str, requests: dict[str, int], sign: int) -> None:
        used = self.usage.setdefault(node, {})
        state = self._states.get(node)
        for resource, amount in requests.items():
            used[resource] = used.get(resource, 0) + sign * amount
            slot = self._slots.get(resource)
            if state is not None and slot is not None and slot < len(state.free):
                state.free[slot] -= sign * amount

    def account(self, pod_key: str, node: str, requests: dict[str, int]) -> None:
        if pod_key in self._bound:
            return
        self._bound[pod_key] = (node, requests)
        self._charge(node, requests, 1)

    def release(self, pod_key: str) -> None:
        bound = self._bound.pop(pod_key, None)
        if bound is not None:
            self._charge(bound[0], bound[1], -1)

    def is_accounted(self, pod_key: str) -> bool:
        return pod_key in self._bound

    def failures(self, pod: dict, node: dict, requests: dict[str, int]) -> list[str]:
        spec = pod.get("spec") or {}
        needed = [(r, a) for r, a in requests.items() if a > 0]
        return self._failures(
            node,
            needed,
            spec.get("nodeSelector") or {},
            spec.get("tolerations") or [],
            required_node_terms(spec),
        )

    def _failures(
        self, node: dict, needed: list, selector: dict, tolerations: list, terms: list | None = None
    ) -> list[str]:
        node_spec = node.get("spec") or {}
        if node_spec.get("unschedulable"):
            return ["node(s) were unschedulable"]
        for taint in node_spec.get("taints") or ():
            if taint.get("effect") in ("NoSchedule", "NoExecute") and not tolerated(
                taint, tolerations
            ):
                return [
                    f"node(s) had untolerated taint {{{taint['key']}: {taint.get('value', '')}}}"
                ]
        if selector:
            labels = node["metadata"].get("labels") or {}
            if any(labels.get(key) != value for key, value in selector.items()):
                return ["node(s) didn't match Pod's node affinity/selector"]
        if terms and not any(term_matches(term, node) for term in terms):
            return ["node(s) didn't match Pod's node affinity/selector"]
        allocatable = self.allocatable(node)
        used = self.usage.get(node["metadata"]["name"]) or {}
        reasons = []
        for resource, amount in needed:
            if allocatable.get(resource, 0) - used.get(resource, 0) < amount:
                reasons.append(
                    "Too many pods" if resource == "pods" else f"Insufficient {resource}"
                )
        return reasons

    def choose(self, pod: dict, nodes: list[dict]) -> tuple[str | None, str]:
        """Return (node name, "") or (None, the FailedScheduling message)."""
        requests = pod_requests(pod)
        spec = pod.get("spec") or {}
        needed = [(r, a) for r, a in requests.items() if a > 0]
        slotted = [(self._slot(r), a) for r, a in needed]
        selector = spec.get("nodeSelector") or {}
        tolerations = spec.get("tolerations") or []
        terms = required_node_terms(spec)
        count = len(nodes)
        if count == 0:
            return None, "no nodes available to schedule pods"
        wanted = self._feasible_nodes_to_find(count)
        cpu, memory = requests.get("cpu", 0), requests.get("memory", 0)
        feasible: list[tuple[float, int, str]] = []
        pinned = _pinned_names(terms)
        candidates = [n for n in nodes if n["metadata"]["name"] in pinned] if pinned else nodes
        start = self._next_start % count if candidates is nodes else 0
        examined = 0
        for offset in range(len(candidates)):
            node = candidates[(start + offset) % len(candidates)]
            examined += 1
            state = self._state(node)
            if state.plain and not selector and not terms:
                free = state.free
                if not all(free[slot] >= amount for slot, amount in slotted):
                    continue
            elif self._failures(node, needed, selector, tolerations, terms):
                continue
            score = 0.0
            if state.cpu:
                score += (state.free[0] - cpu) / state.cpu
            if state.memory:
                score += (state.free[1] - memory) / state.memory
            feasible.append((score, -offset, node["metadata"]["name"]))
            if len(feasible) >= wanted:
                break
        if candidates is nodes:
            self._next_start = start + examined
        if feasible:
            return max(feasible)[2], ""
        histogram: dict[str, int] = {}
        for node in nodes:
            for reason in self._failures(node, needed, selector, tolerations, terms):
                histogram[reason] = histogram.get(reason, 0) + 1
        return None, failed_scheduling_message(count, histogram.items())

    def _feasible_nodes_to_find(self, count: int) -> int:
        if count < MIN_FEASIBLE_NODES_TO_FIND:
            return count
        percentage = self.percentage or max(5, 50 - count // 125)
        return max(MIN_FEASIBLE_NODES_TO_FIND, count * percentage // 100)


def required_node_terms(spec: dict) -> list[dict]:
    """spec.affinity.nodeAffinity's required nodeSelectorTerms (any one must match)."""
    affinity = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    return [term for term in affinity.get("nodeSelectorTerms") or [] if isinstance(term, dict)]


def _pinned_names(terms: list[dict]) -> set[str] | None:
    """The node names of an affinity that is only `metadata.name In [...]` (what the DaemonSet
    controller gives each of its pods), so only those nodes need looking at."""
    if len(terms) != 1 or terms[0].get("matchExpressions"):
        return None
    fields = terms[0].get("matchFields") or []
    if len(fields) != 1 or fields[0].get("key") != "metadata.name":
        return None
    if fields[0].get("operator") != "In":
        return None
    return set(fields[0].get("values") or [])


def _requirement_matches(requirement: dict, value: str | None) -> bool:
    operator = requirement.get("operator")
    values = requirement.get("values") or []
    if operator == "In":
        return value is not None and value in values
    if operator == "NotIn":
        return value is None or value not in values
    if operator == "Exists":
        return value is not None
    if operator == "DoesNotExist":
        return value is None
    if operator in ("Gt", "Lt") and value is not None and values:
        try:
            number, bound = int(value), int(values[0])
        except ValueError:
            return False
        return number > bound if operator == "Gt" else number < bound
    return False


def term_matches(term: dict, node: dict) -> bool:
    """A nodeSelectorTerm: all its matchExpressions (labels) and matchFields (metadata.name)."""
    expressions = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not expressions and not fields:
        return False  # an empty term matches no node
    labels = node["metadata"].get("labels") or {}
    for requirement in expressions:
        if not _requirement_matches(requirement, labels.get(requirement.get("key"))):
            return False
    for requirement in fields:
        if requirement.get("key") != "metadata.name":
            return False
        if not _requirement_matches(requirement, node["metadata"]["name"]):
            return False
    return True


def tolerated(taint: dict, tolerations: list[dict]) -> bool:
    for toleration in tolerations:
        if toleration.get("effect") and toleration["effect"] != taint.get("effect"):
            continue
        if toleration.get("operator") == "Exists" and (
            not toleration.get("key") or toleration["key"] == taint.get("key")
        ):
            return True
        if toleration.get("key") == taint.get("key") and toleration.get("value", "") == taint.get(
            "value", ""
        ):
            return True
    return False


def failed_scheduling_message(count: int, histogram: Iterable[tuple[str, int]]) -> str:
    reasons = sorted(f"{number} {reason}" for reason, number in histogram)
    return f"0/{count} nodes are available: {', '.join(reasons)}."
