"""Fault state: what is currently broken in the lab, set from the spec or the admin endpoint.

Fault document (spec `faults:` section, body of POST /labsim/admin/faults)::

    unregister_resource: {resource: nvidia.com/rail3_vf, nodes: all}   # or a list of those;
                                                                       # nodes: [gpu-node-0]
    latency_ms: 250                         # every API request waits this long
    unavailable: {seconds: 3, mode: "503"}  # or mode: refuse (listening socket closed)
    exhaust_range: {range: 10.53.0.0/16}    # or a list; fills the whereabouts IPPool
    numa_mismatch: true                     # VFs report the NUMA node opposite their GPUs
    topology_policy: {policy: single-numa-node, nodes: all}   # the kubelets' Topology Manager
    link_down: {node: gpu-node-1, rail: 2}  # or a list; that node's port on that rail is down
    dscp_untrusted: {node: gpu-node-1}      # or a list; its PFs trust PCP, not DSCP (no PFC)
    mtu: {node: gpu-node-1, rail: 2, mtu: 1500}   # or a list; that switch port's MTU
    half_speed: {node: gpu-node-1, rail: 2} # or a list; that port negotiated half its speed

POST merges into the current state; DELETE clears everything or `?name=<fault>`.
"""

import ipaddress
import time
from dataclasses import dataclass, field

FAULT_NAMES = (
    "unregister_resource",
    "latency_ms",
    "unavailable",
    "exhaust_range",
    "numa_mismatch",
    "topology_policy",
    "link_down",
    "dscp_untrusted",
    "mtu",
    "half_speed",
)
TOPOLOGY_POLICIES = ("none", "best-effort", "restricted", "single-numa-node")
PORT_FAULTS = ("link_down", "dscp_untrusted", "mtu", "half_speed")  # the fabric's (labsim.fabric)


class FaultError(ValueError):
    pass


@dataclass
class Faults:
    unregistered: dict[str, set[str] | None] = field(default_factory=dict)  # None = all nodes
    latency_ms: float = 0
    unavailable_until: float = 0
    unavailable_mode: str = "503"
    unavailable_seconds: float = 0
    exhausted_ranges: list[str] = field(default_factory=list)
    numa_mismatch: bool = False
    topology: dict[str, str] = field(default_factory=dict)  # node ("*": all) -> policy
    links_down: set[tuple[str, int]] = field(default_factory=set)
    dscp_untrusted: set[str] = field(default_factory=set)
    port_mtu: dict[tuple[str, int], int] = field(default_factory=dict)
    half_speed: set[tuple[str, int]] = field(default_factory=set)

    def topology_policy_on(self, node: str) -> str:
        return self.topology.get(node) or self.topology.get("*") or "none"

    def unregistered_on(self, node: str) -> set[str]:
        return {
            resource
            for resource, nodes in self.unregistered.items()
            if nodes is None or node in nodes
        }

    def unavailable(self, now: float | None = None) -> bool:
        return self.unavailable_until > (now or time.monotonic())

    def merge(
        self, changes: dict, node_names: list[str], rails: dict[str, int] | None = None
    ) -> set[str]:
        """Validate and merge a fault document; return the names of faults that changed.
        `rails` (node -> rail count) bounds the port faults' rail numbers."""
        if not isinstance(changes, dict):
            raise FaultError("faults must be a JSON object")
        unknown = set(changes) - set(FAULT_NAMES)
        if unknown:
            raise FaultError(
                f"unknown faults: {', '.join(sorted(unknown))}; known: {', '.join(FAULT_NAMES)}"
            )
        if "unregister_resource" in changes:
            for item in _as_list(changes["unregister_resource"]):
                resource, nodes = _unregistration(item, node_names)
                self.unregistered[resource] = nodes
        if "latency_ms" in changes:
            latency = changes["latency_ms"]
            if not isinstance(latency, int | float) or latency < 0:
                raise FaultError("latency_ms must be a number >= 0")
            self.latency_ms = float(latency)
        if "unavailable" in changes:
            self._set_unavailable(changes["unavailable"])
        if "exhaust_range" in changes:
            for item in _as_list(changes["exhaust_range"]):
                cidr = item.get("range") if isinstance(item, dict) else item
                try:
                    ipaddress.ip_network(str(cidr), strict=False)
                except ValueError as error:
                    raise FaultError(f"exhaust_range.range is not a CIDR: {cidr}") from error
                if cidr not in self.exhausted_ranges:
                    self.exhausted_ranges.append(str(cidr))
        if "numa_mismatch" in changes:
            if not isinstance(changes["numa_mismatch"], bool):
                raise FaultError("numa_mismatch must be true or false")
            self.numa_mismatch = changes["numa_mismatch"]
        if "topology_policy" in changes:
            self._set_topology(changes["topology_policy"], node_names)
        rails = rails if rails is not None else dict.fromkeys(node_names, 0)
        ports = {
            name: [_port(name, item, rails) for item in _as_list(changes[name])]
            for name in ("link_down", "mtu", "half_speed")
            if name in changes
        }
        untrusted = [
            _node(item, rails, "dscp_untrusted")
            for item in _as_list(changes.get("dscp_untrusted", []))
        ]
        self.links_down.update(port for port, _ in ports.get("link_down", []))
        self.half_speed.update(port for port, _ in ports.get("half_speed", []))
        self.port_mtu.update(ports.get("mtu", []))
        self.dscp_untrusted.update(untrusted)
        return set(changes)

    def _set_topology(self, value, node_names: list[str]) -> None:
        if not isinstance(value, dict) or value.get("policy") not in TOPOLOGY_POLICIES:
            raise FaultError(
                'topology_policy needs {"policy": one of '
                + ", ".join(TOPOLOGY_POLICIES)
                + ', "nodes": "all"|[...]}'
            )
        nodes = value.get("nodes", "all")
        if nodes != "all" and (
            not isinstance(nodes, list) or not set(map(str, nodes)) <= set(node_names)
        ):
            raise FaultError('topology_policy.nodes must be "all" or a list of node names')
        for node in ["*"] if nodes == "all" else nodes:
            self.topology[str(node)] = value["policy"]

    def _set_unavailable(self, value) -> None:
        if value is None:
            self.unavailable_until = 0
            return
        if not isinstance(value, dict):
            raise FaultError('unavailable must be {"seconds": N, "mode": "503"|"refuse"}')
        seconds = value.get("seconds")
        mode = str(value.get("mode", "503"))
        if not isinstance(seconds, int | float) or seconds <= 0 or seconds > 3600:
            raise FaultError("unavailable.seconds must be a number in (0, 3600]")
        if mode not in ("503", "refuse"):
            raise FaultError('unavailable.mode must be "503" or "refuse"')
        self.unavailable_mode = mode
        self.unavailable_seconds = float(seconds)
        self.unavailable_until = time.monotonic() + float(seconds)

    def clear(self, name: str | None = None) -> set[str]:
        if name is not None and name not in FAULT_NAMES:
            raise FaultError(f"unknown fault {name!r}")
        names = {name} if name else set(FAULT_NAMES)
        if "unregister_resource" in names:
            self.unregistered.clear()
        if "latency_ms" in names:
            self.latency_ms = 0
        if "unavailable" in names:
            self.unavailable_until = 0
        if "exhaust_range" in names:
            self.exhausted_ranges.clear()
        if "numa_mismatch" in names:
            self.numa_mismatch = False
        if "topology_policy" in names:
            self.topology.clear()
        if "link_down" in names:
            self.links_down.clear()
        if "dscp_untrusted" in names:
            self.dscp_untrusted.clear()
        if "mtu" in names:
            self.port_mtu.clear()
        if "half_speed" in names:
            self.half_speed.clear()
        return names

    def as_dict(self) -> dict:
        remaining = self.unavailable_until - time.monotonic()
        return {
            "unregister_resource": [
                {"resource": resource, "nodes": "all" if nodes is None else sorted(nodes)}
                for resource, nodes in sorted(self.unregistered.items())
            ],
            "latency_ms": self.latency_ms,
            "unavailable": {"mode": self.unavailable_mode, "seconds_left": round(remaining, 3)}
            if remaining > 0
            else None,
            "exhaust_range": [{"range": cidr} for cidr in self.exhausted_ranges],
            "numa_mismatch": self.numa_mismatch,
            "topology_policy": [
                {"policy": policy, "nodes": "all" if node == "*" else [node]}
                for node, policy in sorted(self.topology.items())
            ],
            "link_down": [{"node": n, "rail": r} for n, r in sorted(self.links_down)],
            "dscp_untrusted": [{"node": n} for n in sorted(self.dscp_untrusted)],
            "mtu": [
                {"node": n, "rail": r, "mtu": m} for (n, r), m in sorted(self.port_mtu.items())
            ],
            "half_speed": [{"node": n, "rail": r} for n, r in sorted(self.half_speed)],
        }


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _unregistration(item, node_names: list[str]) -> tuple[str, set[str] | None]:
    if not isinstance(item, dict) or not item.get("resource"):
        raise FaultError('unregister_resource needs {"resource": ..., "nodes": "all"|[...]}')
    nodes = item.get("nodes", "all")
    if nodes == "all":
        return str(item["resource"]), None
    if not isinstance(nodes, list) or not all(isinstance(n, str) for n in nodes):
        raise FaultError('unregister_resource.nodes must be "all" or a list of node names')
    unknown = set(nodes) - set(node_names)
    if unknown:
        raise FaultError(f"unknown nodes: {', '.join(sorted(unknown))}")
    return str(item["resource"]), set(nodes)


def _node(item, rails: dict[str, int], fault: str) -> str:
    node = item.get("node") if isinstance(item, dict) else None
    if not isinstance(node, str) or node not in rails:
        raise FaultError(f"{fault}.node must name a node of the lab, got {node!r}")
    return node


def _port(fault: str, item, rails: dict[str, int]) -> tuple[tuple[str, int], int]:
    """((node, rail), mtu) of a port fault; mtu is 0 except for the mtu fault."""
    node = _node(item, rails, fault)
    rail = item.get("rail")
    if not isinstance(rail, int) or isinstance(rail, bool) or not 0 <= rail < rails[node]:
        raise FaultError(
            f"{fault}.rail must be a rail of {node} (0-{rails[node] - 1}), got {rail!r}"
        )
    mtu = 0
    if fault == "mtu":
        mtu = item.get("mtu")
        if not isinstance(mtu, int) or isinstance(mtu, bool) or not 576 <= mtu <= 16000:
            raise FaultError(f"mtu.mtu must be an integer in [576, 16000], got {mtu!r}")
    return (node, rail), mtu
