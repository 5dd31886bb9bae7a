"""Who tests whom: pure arithmetic over the ordered list of nodes that have a ready probe.

- ICMP: each unordered pair once (an echo crosses both directions): node i pings the nodes
  1 .. (N-1)//2 places after it in the ring, and, for even N, the node N/2 after it when i is in
  the first half. Every node sends about N/2 pings per rail.
- RDMA: rounds; in round k node i writes to node (i + k) mod N, so each node is a client once
  and a server once per round (different directions of its links). Quick runs round 1 (ring
  neighbours); full runs rounds 1 .. min(N - 1, bound), which is every ordered pair when the
  bound allows.
"""

from __future__ import annotations


def icmp_targets(count: int, index: int) -> list[int]:
    """The node indexes node `index` pings, so that every unordered pair is pinged once."""
    targets = [(index + step) % count for step in range(1, (count - 1) // 2 + 1)]
    if count % 2 == 0 and count > 1 and index < count // 2:
        targets.append(index + count // 2)
    return targets


def icmp_pairs(count: int) -> list[tuple[int, int]]:
    return [(i, j) for i in range(count) for j in icmp_targets(count, i)]


def rdma_rounds(count: int, mode: str, bound: int) -> list[int]:
    """The ring offsets to run: [1] for quick, 1 .. min(N - 1, bound) otherwise."""
    if count < 2:
        return []
    if mode == "quick":
        return [1]
    return list(range(1, min(count - 1, max(bound, 1)) + 1))


def rdma_pairs(count: int, offset: int) -> list[tuple[int, int]]:
    """(client, server) pairs of one round; two nodes make one pair each way."""
    return [(i, (i + offset) % count) for i in range(count)]


def cross_rail_target(rails: int, rail: int) -> int | None:
    """The other rail whose subnet a rail's interface must not reach (the next one)."""
    return (rail + 1) % rails if rails > 1 else None
