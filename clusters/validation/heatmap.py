"""Per-rail N×N heatmaps of a validation run, as SVG (and PNG for big runs). Pure.

Row: the node that pinged or wrote (RDMA client); column: the node it reached. A cell is red
when the pair failed (no echo, unreachable, RDMA failed or stalled), amber when degraded (some
echoes lost, RDMA under the line-rate threshold), dark green when RDMA was measured at speed,
green when ping passed, blank when the pair was not tested. Nodes come in the order given
(failing nodes first, see `node_order`).

Up to SVG_CELL_LIMIT nodes every cell is an SVG rect with a <title> (the browser's tooltip:
pair, RTT, loss, Gb/s) and data-* attributes for the page's tooltip; above it the cells are one
PNG (one pixel per pair, scaled up) and the page asks the server for a cell under the pointer.
"""

from __future__ import annotations

import base64
import struct
import zlib
from html import escape

from clusters.validation.findings import LOW_BANDWIDTH_RATIO
from clusters.validation.results import LOST, PARTIAL, SELF, UNREACHABLE, UNTESTED

SVG_CELL_LIMIT = 48
COLORS = {
    "fail": "#dc2626",
    "degraded": "#f59e0b",
    "rdma": "#15803d",
    "ok": "#4ade80",
    "untested": "#f1f5f9",
    "self": "#cbd5e1",
}
LABEL_SPACE = 96


def cell_states(
    data: dict, low_ratio: float = LOW_BANDWIDTH_RATIO
) -> dict[tuple[int, int], tuple[str, dict]]:
    """{(row, column): (state, RDMA test)} for the pairs RDMA tested; other cells follow the
    status matrix alone."""
    line_rate = data.get("line_rate_gbps")
    states = {}
    for test in data.get("rdma") or []:
        if test["gbps"] is None:
            state = "fail"
        elif line_rate and test["gbps"] < line_rate * low_ratio:
            state = "degraded"
        else:
            state = "rdma"
        states[(test["client"], test["server"])] = (state, test)
    return states


def _icmp_state(char: str, mtu_char: str | None) -> str:
    if char == SELF:
        return "self"
    if char == UNTESTED:
        return "untested"
    if char in (LOST, UNREACHABLE) or mtu_char in (LOST, UNREACHABLE):
        return "fail"
    if char == PARTIAL:
        return "degraded"
    return "ok"


_RANK = {"self": 0, "untested": 0, "ok": 1, "rdma": 2, "degraded": 3, "fail": 4}


def cell(data: dict, nodes: list[str], i: int, j: int, rdma: dict | None = None) -> dict:
    """One cell's facts, for tooltips and the cell API."""
    rdma = cell_states(data) if rdma is None else rdma
    mtu = data.get("mtu")
    char = data["status"][i][j]
    state = _icmp_state(char, mtu["status"][i][j] if mtu else None)
    test = None
    if (i, j) in rdma:
        rdma_state, test = rdma[(i, j)]
        if _RANK[rdma_state] > _RANK[state] or state == "ok":
            state = (
                rdma_state
                if state in ("ok", "untested") or _RANK[rdma_state] > _RANK[state]
                else state
            )
    rtt = data["rtt_us"][i][j]
    loss = data["loss"].get(f"{i},{j}")
    if loss is None:
        loss = {"o": 0, "x": 100, "u": 100}.get(char)
    return {
        "source": nodes[i],
        "target": nodes[j],
        "state": state,
        "icmp": char,
        "rtt_ms": None if rtt is None else rtt / 1000,
        "loss_pct": loss,
        "mtu_ok": None if not mtu else mtu["status"][i][j] not in (LOST, UNREACHABLE),
        "gbps": test["gbps"] if test else None,
        "rdma_error": test["error"] if test else "",
    }


def tooltip(facts: dict) -> str:
    parts = [f"{facts['source']} → {facts['target']}"]
    if facts["icmp"] in (SELF, UNTESTED):
        parts.append("not tested" if facts["icmp"] == UNTESTED else "itself")
    else:
        rtt = facts["rtt_ms"]
        parts.append(f"RTT {rtt:.3f} ms" if rtt is not None else "no echo")
        if facts["loss_pct"] is not None:
            parts.append(f"loss {facts['loss_pct']:g}%")
    if facts["mtu_ok"] is False:
        parts.append("MTU-sized frames dropped")
    if facts["gbps"] is not None:
        parts.append(f"RDMA {facts['gbps']:.1f} Gb/s")
    elif facts["rdma_error"]:
        parts.append(f"RDMA failed: {facts['rdma_error']}")
    return " · ".join(parts)


def node_order(nodes: list[str], rails: list[dict]) -> list[int]:
    """Node indexes, failing nodes first (most failed pairs over all rails), then by name."""
    bad = [0] * len(nodes)
    for data in rails:
        rdma = cell_states(data)
        for i, row in enumerate(data["status"]):
            bad[i] += sum(1 for char in row if char in (LOST, UNREACHABLE, PARTIAL))
        for (client, server), (state, _) in rdma.items():
            if state in ("fail", "degraded"):
                bad[client] += 1
                bad[server] += 1
    return sorted(range(len(nodes)), key=lambda i: (-bad[i], nodes[i]))


def svg(
    data: dict, nodes: list[str], order: list[int], *, cell_size: int = 0, image_url: str = ""
) -> str:
    """The rail's heatmap as an SVG element."""
    count = len(order)
    if count <= SVG_CELL_LIMIT:
        return _rect_svg(data, nodes, order, cell_size or max(8, min(36, 480 // max(count, 1))))
    return _image_svg(data, nodes, order, image_url or _data_url(data, order))


def _rect_svg(data: dict, nodes: list[str], order: list[int], size: int) -> str:
    count = len(order)
    rdma = cell_states(data)
    side = LABEL_SPACE + count * size
    width = side + LABEL_SPACE // 2  # room for the last column's slanted label
    rail = data["rail"]
    out = [
        f'<svg class="heatmap" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {side}" '
        f'width="{width}" height="{side}" role="img" data-rail="{rail}" '
        f'aria-label="Rail {rail}: {count} by {count} pairs">'
    ]
    for position, i in enumerate(order):
        y = LABEL_SPACE + position * size + size * 0.7
        label = escape(nodes[i])
        out.append(
            f'<text class="row-label" x="{LABEL_SPACE - 4}" y="{y:.1f}" text-anchor="end">{label}</text>'
        )
        x = LABEL_SPACE + position * size + size * 0.7
        out.append(
            f'<text class="col-label" x="{x:.1f}" y="{LABEL_SPACE - 4}" '
            f'transform="rotate(-60 {x:.1f} {LABEL_SPACE - 4})">{label}</text>'
        )
    for row, i in enumerate(order):
        for column, j in enumerate(order):
            facts = cell(data, nodes, i, j, rdma)
            state = facts["state"]
            x, y = LABEL_SPACE + column * size, LABEL_SPACE + row * size
            out.append(
                f'<rect class="cell {state}" x="{x}" y="{y}" width="{size - 1}" height="{size - 1}" '
                f'fill="{COLORS[state]}" data-source="{escape(facts["source"])}" '
                f'data-target="{escape(facts["target"])}"><title>{escape(tooltip(facts))}</title></rect>'
            )
    out.append("</svg>")
    return "".join(out)


def _image_svg(data: dict, nodes: list[str], order: list[int], href: str) -> str:
    return image_svg(data["rail"], len(order), href)


def image_svg(rail: int, count: int, href: str) -> str:
    """A big rail's heatmap: one image of its cells (see png), drawn 512 px wide."""
    size = 512
    return (
        f'<svg class="heatmap heatmap-raster" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {size} {size}" width="{size}" height="{size}" role="img" data-rail="{rail}" '
        f'data-count="{count}" aria-label="Rail {rail}: {count} by {count} pairs">'
        f'<image href="{escape(href)}" x="0" y="0" width="{size}" height="{size}" '
        f'preserveAspectRatio="none"/></svg>'
    )


def png(data: dict, order: list[int]) -> bytes:
    """One pixel per pair (row: source, column: target), in the heatmap's colors."""
    count = len(order)
    rgb = {state: bytes.fromhex(color[1:]) for state, color in COLORS.items()}
    chars = {
        SELF: "self", UNTESTED: "untested", "o": "ok", PARTIAL: "degraded",
        LOST: "fail", UNREACHABLE: "fail",
    }  # fmt: skip
    table = {ord(char): rgb[state].decode("latin-1") for char, state in chars.items()}
    mtu = data.get("mtu")
    position = {node: index for index, node in enumerate(order)}
    rows = []
    for i in order:
        row = data["status"][i]
        if mtu:
            row = "".join(
                LOST if m in (LOST, UNREACHABLE) and c not in (SELF, UNTESTED) else c
                for c, m in zip(row, mtu["status"][i], strict=True)
            )
        ordered = "".join(row[j] for j in order) if order != sorted(order) else row
        rows.append(bytearray(ordered.translate(table).encode("latin-1")))
    for (client, server), (rdma_state, _) in cell_states(data).items():
        icmp = _icmp_state(
            data["status"][client][server], mtu["status"][client][server] if mtu else None
        )
        state = max(icmp, rdma_state, key=_RANK.get)
        column = position[server] * 3
        rows[position[client]][column : column + 3] = rgb[state]
    raw = b"".join(b"\x00" + bytes(row) for row in rows)
    header = struct.pack(">IIBBBBB", count, count, 8, 2, 0, 0, 0)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


def _data_url(data: dict, order: list[int]) -> str:
    return "data:image/png;base64," + base64.b64encode(png(data, order)).decode()
