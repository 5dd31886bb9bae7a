"""What changed since the previous run of the same plan on the same cluster. Pure."""

from __future__ import annotations


def finding_key(item: dict) -> tuple:
    return (item.get("code"), item.get("rail"), item.get("node"), item.get("peer"))


def compare(current: list[dict], previous: list[dict] | None) -> dict | None:
    """{"new": [...], "resolved": [...], "unchanged": n} over findings, or None without a
    previous run."""
    if previous is None:
        return None
    before = {finding_key(item): item for item in previous}
    now = {finding_key(item): item for item in current}
    return {
        "new": [item for key, item in now.items() if key not in before],
        "resolved": [item for key, item in before.items() if key not in now],
        "unchanged": sum(1 for key in now if key in before),
    }


def failing_cells(data: dict) -> int:
    """Pairs of a rail that failed (ping or RDMA), for the rails' comparison."""
    cells = sum(row.count("x") + row.count("u") for row in data.get("status") or []) // 2
    return cells + sum(1 for test in data.get("rdma") or [] if test.get("gbps") is None)
