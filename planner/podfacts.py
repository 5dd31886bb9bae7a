"""What a pod asks of its nodes, and what the nodes offer: one reading for preflight (before a
pod exists) and for inspection and diagnosis (of a live pod), so the two cannot drift apart. Pure.

- quantities: a Kubernetes quantity ("8", "500m", "1Gi") as a number;
- resources: a container's requests (the larger of request and limit per resource) and a pod's
  total (containers add up; an init container counts alone, at its largest);
- capabilities: what a container adds, and which of the ones RDMA needs it lacks;
- networks: the attachments a `k8s.v1.cni.cncf.io/networks` annotation names;
- NodeIndex: nodes' allocatable resources, labels and NUMA facts, indexed once.
"""

from __future__ import annotations

import functools
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable

HOSTNAME_LABEL = "kubernetes.io/hostname"
RDMA_CAPABILITIES = ("IPC_LOCK", "SYS_NICE")  # pin memory; raise NCCL threads' priority

_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)([a-zA-Z]*)$")
_SUFFIXES = {
    "": 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
}  # fmt: skip


def quantity(value) -> float | None:
    """A Kubernetes quantity ("8", 8, "500m", "1Gi") as a number; None when unreadable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    match = _QUANTITY.match(str(value).strip())
    if not match or match.group(2) not in _SUFFIXES:
        return None
    return float(match.group(1)) * _SUFFIXES[match.group(2)]


_cached_quantity = functools.lru_cache(maxsize=4096)(quantity)  # the same few, many times


def amount(value) -> float | None:
    """quantity() for values read many times over (node allocatable, pod requests)."""
    return _cached_quantity(value) if isinstance(value, str | int | float) else None


def is_extended(resource: str) -> bool:
    """An extended resource (vendor.com/name), as opposed to cpu or memory."""
    return "/" in resource


# ---------------------------------------------------------------------------------------------
# Resources and capabilities


def container_requests(container: dict) -> dict[str, float]:
    resources = container.get("resources") or {}
    result: dict[str, float] = {}
    for part in ("requests", "limits"):
        for resource, value in (resources.get(part) or {}).items():
            number = amount(value)
            if number is not None:
                result[resource] = max(result.get(resource, 0.0), number)
    return result


def pod_requests(
    containers: Iterable[dict[str, float]], init_containers: Iterable[dict[str, float]]
) -> dict[str, float]:
    """The pod's total from its containers' requests: containers run together (they add up),
    init containers one at a time (each counts alone)."""
    total: dict[str, float] = defaultdict(float)
    for requests in containers:
        for resource, number in requests.items():
            total[resource] += number
    for requests in init_containers:
        for resource, number in requests.items():
            total[resource] = max(total[resource], number)
    return dict(total)


def spec_requests(spec: dict) -> tuple[dict[str, float], list[dict]]:
    """A pod spec's total requests, and its containers (the mappings among them)."""
    containers = [item for item in spec.get("containers") or [] if isinstance(item, dict)]
    inits = [item for item in spec.get("initContainers") or [] if isinstance(item, dict)]
    total = pod_requests(map(container_requests, containers), map(container_requests, inits))
    return total, containers


def capabilities(container: dict) -> tuple[frozenset[str], bool]:
    """The capabilities a container adds (IPC_LOCK for CAP_IPC_LOCK), and whether it runs
    privileged (which grants them all)."""
    security = container.get("securityContext") or {}
    added = (security.get("capabilities") or {}).get("add") or []
    names = frozenset(str(item).upper().removeprefix("CAP_") for item in added)
    return names, bool(security.get("privileged"))


def rdma_containers(requests: list[dict[str, float]], rdma_resources: set[str]) -> list[int]:
    """The containers (by index) that need RDMA's capabilities: those asking for an RDMA
    resource, else the first (a pod attaching RDMA networks without asking)."""
    asking = [index for index, wanted in enumerate(requests) if set(wanted) & rdma_resources]
    return asking or ([0] if requests else [])


def missing_rdma_capabilities(names: frozenset[str] | set[str], privileged: bool) -> list[str]:
    return [] if privileged else [name for name in RDMA_CAPABILITIES if name not in names]


# ---------------------------------------------------------------------------------------------
# Networks


def parse_networks_annotation(value: str) -> list[dict]:
    """Attachments of a networks annotation, as Multus reads it: JSON when the value contains
    '[', '{' or '"', else `[namespace/]name[@interface]` items separated by commas.

    Each attachment: {"name", "namespace" (or None), "interface" (or None), "position"}.
    Raises ValueError with the reason."""
    if any(char in value for char in '[{"'):
        return _json_attachments(value)
    attachments = []
    for position, item in enumerate(part.strip() for part in value.split(",")):
        if not item:
            continue
        reference, _, interface = item.partition("@")
        namespace, _, name = reference.rpartition("/")
        attachments.append(_attachment(name, namespace or None, interface or None, position))
    return attachments


def _json_attachments(value: str) -> list[dict]:
    try:
        elements = json.loads(value)
    except json.JSONDecodeError as error:
        raise ValueError(f"not valid JSON ({error.msg} at line {error.lineno})") from None
    except RecursionError:
        raise ValueError("the JSON nests too deeply") from None
    if not isinstance(elements, list):
        raise ValueError("the JSON form must be a list of objects")
    attachments = []
    for position, element in enumerate(elements):
        if not isinstance(element, dict) or not isinstance(element.get("name"), str):
            raise ValueError(f"element {position} needs a string 'name'")
        if "/" in element["name"]:
            raise ValueError(
                f"element {position} names {element['name']!r}: put the namespace in "
                '"namespace", not in "name"'
            )
        attachments.append(
            _attachment(
                element["name"], element.get("namespace"), element.get("interface"), position
            )
        )
    return attachments


def _attachment(name, namespace, interface, position: int) -> dict:
    return {"name": name, "namespace": namespace, "interface": interface, "position": position}


# ---------------------------------------------------------------------------------------------
# Nodes


def normal_pci(value) -> str | None:
    """A PCI address as 0000:1a:00.2 (lower case, with the domain)."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().lower()
    if not text:
        return None
    return text if text.count(":") >= 2 else f"0000:{text}"


class NodeIndex:
    """Nodes' allocatable resources, labels, and GPU and NIC NUMA facts, by node name.

    A node is a V1Node dict or a summary {"name", "allocatable", "labels"} (clusters.facts),
    which may add "gpu_numa" {NUMA node: GPU count} and "nic_numa" {PF or VF PCI: NUMA node}.
    A node's name also matches kubernetes.io/hostname. Quantities are read on demand."""

    def __init__(self, nodes: list[dict]):
        self.allocatable: dict[str, dict] = {}  # node -> {resource: quantity as given}
        self.labels: dict[str, dict] = {}
        self.gpu_numa: dict[str, dict[int, int]] = {}
        self.nic_numa: dict[str, dict[str, int]] = {}
        for node in nodes:
            if isinstance(node, dict):
                self._add(node)

    def _add(self, node: dict) -> None:
        metadata = node.get("metadata") if isinstance(node.get("metadata"), dict) else node
        name = metadata.get("name")
        if not name:
            return
        status = node.get("status") if isinstance(node.get("status"), dict) else node
        self.allocatable[name] = status.get("allocatable") or {}
        self.labels[name] = {HOSTNAME_LABEL: name, **(metadata.get("labels") or {})}
        self.gpu_numa[name] = _numbers(node.get("gpu_numa"), int)
        self.nic_numa[name] = _numbers(node.get("nic_numa"), lambda key: normal_pci(str(key)))

    @property
    def names(self) -> list[str]:
        return list(self.allocatable)

    def lists(self, node: str, resource: str) -> bool:
        return resource in self.allocatable.get(node, {})

    def amount(self, node: str, resource: str) -> float:
        return amount(self.allocatable.get(node, {}).get(resource)) or 0.0

    def amounts(self, resource: str) -> dict[str, float]:
        """{node: allocatable} for every node; 0 where the node does not list the resource."""
        return {name: self.amount(name, resource) for name in self.allocatable}

    @functools.cached_property
    def advertised(self) -> Counter:
        """How many nodes offer some of each resource."""
        return Counter(
            resource
            for name, offered in self.allocatable.items()
            for resource in offered
            if self.amount(name, resource) > 0
        )

    @functools.cached_property
    def _by_label(self) -> dict[tuple[str, str], set[str]]:
        index: dict[tuple[str, str], set[str]] = defaultdict(set)
        for name, labels in self.labels.items():
            for key, value in labels.items():
                index[(key, str(value))].add(name)
        return index

    def matching(self, selector: dict) -> list[str]:
        """The nodes a nodeSelector picks, in the order they were given."""
        if not selector:
            return self.names
        sets = [self._by_label.get((key, str(value)), set()) for key, value in selector.items()]
        matched = set.intersection(*sets)
        return [name for name in self.names if name in matched]

    def nic_numa_of(self, node: str | None, *pci_addresses: str | None) -> int | None:
        known = self.nic_numa.get(node or "")
        if not known:
            return None
        return next((known[pci] for pci in pci_addresses if pci in known), None)


def _numbers(value, key_type) -> dict:
    """{key: int} from a facts mapping such as {"0": 4, "1": 4}; unreadable items are skipped."""
    result = {}
    for key, number in value.items() if isinstance(value, dict) else ():
        try:
            result[key_type(key)] = int(number)
        except (TypeError, ValueError):
            continue
    return result
