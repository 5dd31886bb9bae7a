"""The rails' network: each node's port on each rail, the leaf switch it plugs into, the speed
the link came up at, MTUs, the PF's QoS trust, and what the faults changed. Probe commands
(labsim.probes) ask it whether a packet or an RDMA flow gets through, and how fast."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from labsim.faults import Faults
from labsim.spec import FabricSpec, LabSpec, NodeSpec


@dataclass(frozen=True)
class Port:
    node: str
    rail: int
    leaf: str
    name: str  # the leaf's port, e.g. Ethernet1/3
    up: bool
    speed_gbps: float  # what the link negotiated: the slower of NIC and port, or half of it
    nominal_gbps: float
    port_mtu: int  # the switch port's
    nic_mtu: int  # the PF's (VFs inherit it)
    trust: str  # dscp or pcp

    @property
    def label(self) -> str:
        return f"{self.leaf} {self.name}"


def _jitter(*parts) -> float:
    """A stable number in [0, 1) for the given parts (same pair, same answer)."""
    digest = hashlib.blake2b("/".join(map(str, parts)).encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") / 2**32


class Fabric:
    def __init__(self, spec: LabSpec, faults: Faults):
        self.spec: FabricSpec = spec.fabric
        self.faults = faults
        self._nodes: dict[str, NodeSpec] = {node.name: node for node in spec.nodes}
        self.generation = 0  # bumped when faults change, so cached ports are read again

    def group(self, node: str) -> int:
        return self._nodes[node].index // self.spec.nodes_per_leaf

    def port(self, node: str, rail: int) -> Port | None:
        spec = self._nodes.get(node)
        if spec is None or not 0 <= rail < len(spec.rails):
            return None
        nic = spec.rails[rail]
        faults = self.faults
        nominal = min(nic.speed_gbps, self.spec.port_speed_gbps)
        speed = nominal / 2 if (node, rail) in faults.half_speed else nominal
        return Port(
            node=node,
            rail=rail,
            leaf=self.spec.leaf_name.format(rail=rail, group=self.group(node)),
            name=f"Ethernet1/{spec.index % self.spec.nodes_per_leaf + 1}",
            up=(node, rail) not in faults.links_down,
            speed_gbps=speed,
            nominal_gbps=nominal,
            port_mtu=faults.port_mtu.get((node, rail), self.spec.port_mtu),
            nic_mtu=nic.mtu,
            trust="pcp" if node in faults.dscp_untrusted else nic.trust,
        )

    def routes_between_rails(self) -> bool:
        return self.spec.cross_rail == "routed"

    def rtt_ms(self, source: str, target: str, rail: int, sequence: int = 0) -> float:
        """One ICMP echo's round trip over a rail: the leaf, plus the spine between groups."""
        microseconds = self.spec.rtt_us * (0.85 + 0.3 * _jitter(source, target, rail, sequence))
        if self.group(source) != self.group(target):
            microseconds += self.spec.spine_rtt_us
        return microseconds / 1000
