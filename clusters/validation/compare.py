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
    """Node pairs of a rail that failed (ping, MTU-sized ping or RDMA), each counted once."""
    failed = set()
    grids = [data.get("status") or [], (data.get("mtu") or {}).get("status") or []]
    for grid in grids:
        for i, row in enumerate(grid):
            failed.update((i, j) for j, cell in enumerate(row) if cell in "xu" and i < j)
    for test in data.get("rdma") or []:
        if test.get("gbps") is None:
            failed.add(tuple(sorted((test["client"], test["server"]))))
    return len(failed)


def rail_summary(data: dict) -> dict:
    """A rail's figures without its matrices, for pages of big runs."""
    keys = ("rail", "nad", "interface", "subnet", "tests", "line_rate_gbps")
    return {
        **{key: data.get(key) for key in keys},
        "failing": failing_cells(data),
        "rdma_tests": len(data.get("rdma") or []),
    }
