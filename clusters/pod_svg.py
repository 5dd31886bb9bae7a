"""The pod diagram: the seed's picture of a pod with eth0 and net1..netN, as geometry.

Pure: a PodReport dict (clusters.inspect `PodReport.to_dict()`, as PodStatus.report stores it)
in, boxes, lines and text out; the template `clusters/pods/partials/pod_diagram.html` draws it
as inline SVG.

    ┌── eth0 ──────┤ Calico CNI │ ← k8s control plane (Pod CIDR)
    ├── net1 ──────┤ SR-IOV CNI │ ← VF on rail 0
    └── net8 ──────┤ SR-IOV CNI │ ← VF on rail 7

One row per interface: a labelled box on the left (rail, subnet, IP, VF PCI address, RDMA
device, NUMA node), a wire into the pod box, the CNI that made it, and on the right either the
rail it joins or, for a missing or wrong interface, the diagnosis (finding message and fix).
Rows are stacked top to bottom, each as tall as its text, so nothing overlaps.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field

WIDTH = 1080
MARGIN = 16
BUS_X = 8
BOX_X, BOX_W = 24, 330
POD_X, POD_W = 410, 160
CELL_PAD = 12
NOTE_X = POD_X + POD_W + 22
NOTE_CHARS = 66  # 12 px text in the ~470 px right of the pod box
HEADER_H = 46  # the pod box's title above the first row
LINE_H = 15
BOX_H = 84  # title + three detail lines
ROW_GAP = 14
NOTE_PAD = 14
DIRECT_LINES = (5, 3)  # message, fix: a finding about this very interface
CAUSE_LINES = (1, 1)  # a pod-level finding that explains the interface (said on its own row)

PRIMARY_CNI = {"k8s-pod-network": "Calico CNI", "cilium": "Cilium CNI", "cbr0": "Flannel CNI"}
STATUS_LABELS = {
    "missing": "missing",
    "duplicate": "duplicate IP",
    "wrong_subnet": "wrong subnet",
    "excluded": "excluded address",
    "outside_range": "outside the pod range",
    "wrong_name": "wrong name",
    "ok": "ok",
}
_ADDED = re.compile(r"Add (?P<name>\S+) \[(?P<ips>[^\]]*)\] from (?P<network>\S+)")


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    w: int
    h: int

    @property
    def bottom(self) -> int:
        return self.y + self.h

    @property
    def right(self) -> int:
        return self.x + self.w

    def overlaps(self, other: Box) -> bool:
        return (
            self.x < other.right
            and other.x < self.right
            and self.y < other.bottom
            and other.y < self.bottom
        )


@dataclass(frozen=True)
class Diagnosis:
    """Why an interface is red: a finding about it, or the pod-level finding that explains it."""

    code: str
    severity: str
    message: str
    fix: str
    direct: bool  # the finding names this interface (or its NAD)


@dataclass
class Row:
    name: str
    kind: str  # "primary" (eth0) or "rail"
    status: str
    box: Box  # the interface's label box
    title: str  # the box's first line, after the interface name
    lines: list[str]  # the box's detail lines
    cell: Box  # the CNI cell inside the pod box
    cni: str
    wire_y: int
    note: Box  # the area right of the pod box
    note_lines: list[tuple[str, str]]  # (css class, text)
    tooltip: str
    diagnosis: Diagnosis | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def css(self) -> str:
        if self.kind == "primary":
            return "if-primary"
        return "if-ok" if self.ok else "if-bad"

    @property
    def text_y(self) -> int:
        return self.box.y + 20

    def detail_ys(self) -> list[tuple[int, str]]:
        return [(self.box.y + 38 + LINE_H * index, line) for index, line in enumerate(self.lines)]

    def note_ys(self) -> list[tuple[int, str, str]]:
        """Baselines of the note's lines: centred on the wire when they fit beside the box."""
        block = LINE_H * len(self.note_lines)
        top = max(self.note.y + NOTE_PAD, self.wire_y - block // 2 + 11)
        return [
            (top + LINE_H * index, css, text) for index, (css, text) in enumerate(self.note_lines)
        ]


@dataclass
class Diagram:
    width: int
    height: int
    pod: Box
    pod_title: str
    pod_phase: str
    pod_reason: str
    rows: list[Row] = field(default_factory=list)
    bus: tuple[int, int] = (0, 0)  # the left bus line, from the first row to the last

    @property
    def problems(self) -> list[Row]:
        return [row for row in self.rows if not row.ok]


# ---------------------------------------------------------------------------------------------
# Reading the report


def primary_address(events: list[dict]) -> tuple[str | None, str | None]:
    """(eth0's address, the default network's name) from Multus' AddedInterface events."""
    found: tuple[str | None, str | None] = (None, None)
    for event in events or []:
        if event.get("reason") != "AddedInterface":
            continue
        match = _ADDED.search(event.get("message") or "")
        if match and match["name"] == "eth0":
            ips = [ip.strip().partition("/")[0] for ip in match["ips"].split(",") if ip.strip()]
            found = (ips[0] if ips else None, match["network"])
    return found


def _mentions(text: str, word: str | None) -> bool:
    return bool(word) and re.search(rf"(?<![\w./-]){re.escape(word)}(?![\w-])", text) is not None


def diagnosis_for(interface: dict, findings: list[dict]) -> Diagnosis | None:
    """The finding that explains a non-ok interface: one about the interface itself
    (`interfaces.<name>`), else one naming its NAD or interface, else the pod's first error."""
    if interface.get("status", "ok") == "ok":
        return None
    name, nad = interface.get("name") or "", interface.get("nad") or ""
    serious = [item for item in findings if item.get("severity") in ("error", "warning")]
    own = [item for item in serious if item.get("field") == f"interfaces.{name}"]
    named = [
        item
        for item in serious
        if not str(item.get("field", "")).startswith("interfaces.")
        and (_mentions(item.get("message", ""), nad) or _mentions(item.get("message", ""), name))
    ]
    pod_level = [item for item in serious if not str(item.get("field", "")).startswith("interf")]
    for candidates, direct in ((own, True), (named, True), (pod_level, False)):
        if candidates:
            item = candidates[0]
            return Diagnosis(
                code=item.get("code", ""),
                severity=item.get("severity", "error"),
                message=item.get("message", ""),
                fix=item.get("fix", ""),
                direct=direct,
            )
    return None


def _wrapped(text: str, lines: int, prefix: str = "") -> list[str]:
    if not text:
        return []
    wrapped = textwrap.wrap(prefix + text, NOTE_CHARS, break_on_hyphens=False)
    if len(wrapped) > lines:
        wrapped = wrapped[:lines]
        wrapped[-1] = wrapped[-1][: NOTE_CHARS - 1].rstrip() + "…"
    return wrapped


def _dash(value) -> str:
    return "—" if value in (None, "") else str(value)


def _rail_lines(interface: dict) -> tuple[str, list[str]]:
    rail, subnet = interface.get("rail"), interface.get("subnet")
    ips = interface.get("ips") or ([interface["ip"]] if interface.get("ip") else [])
    place = f"rail {rail} · {subnet}" if rail is not None else "not a rail of the plan"
    address = f"IP {ips[0]}" + (f" (+{len(ips) - 1})" if len(ips) > 1 else "") if ips else None
    numa = interface.get("numa_node")
    lines = [
        place,
        address or "no address",
        f"VF {_dash(interface.get('pci_address'))} · {_dash(interface.get('rdma_device'))}"
        f" · NUMA {_dash(numa)}",
    ]
    return interface.get("nad") or interface.get("network") or "", lines


def _rail_note(interface: dict, diagnosis: Diagnosis | None) -> list[tuple[str, str]]:
    status = interface.get("status", "ok")
    if status == "ok":
        rail = interface.get("rail")
        head = f"← VF on rail {rail}" if rail is not None else "← secondary network"
        return [("note-ok", head), ("note-muted", interface.get("detail") or "")]
    label = STATUS_LABELS.get(status, status.replace("_", " "))
    code = f" · {diagnosis.code}" if diagnosis else ""
    lines = [("note-bad-head", f"✕ {label}{code}")]
    if diagnosis is None:
        return lines + [("note-bad", text) for text in _wrapped(interface.get("detail", ""), 4)]
    message_lines, fix_lines = DIRECT_LINES if diagnosis.direct else CAUSE_LINES
    if not diagnosis.direct and interface.get("detail"):
        lines += [("note-bad", text) for text in _wrapped(interface["detail"], 1)]
    lines += [("note-bad", text) for text in _wrapped(diagnosis.message, message_lines)]
    lines += [("note-fix", text) for text in _wrapped(diagnosis.fix, fix_lines, "Fix: ")]
    return lines


# ---------------------------------------------------------------------------------------------
# Layout


@dataclass
class _Spec:
    name: str
    kind: str
    status: str
    title: str
    lines: list[str]
    cni: str
    note_lines: list[tuple[str, str]]
    tooltip: str
    diagnosis: Diagnosis | None = None


def _primary(report: dict, pod_cidr: str | None) -> _Spec:
    address, network = report.get("primary_ip"), report.get("primary_network")
    if not address:  # snapshots taken before reports named it; Multus' events still may
        address, network = primary_address(report.get("events") or [])
    cni = PRIMARY_CNI.get(network or "", "default CNI")
    lines = [
        f"control plane · pod CIDR {pod_cidr}" if pod_cidr else "control plane (pod CIDR)",
        f"IP {address}" if address else "IP not reported yet",
        "no VF: the cluster network",
    ]
    note = [
        ("note-primary", "← k8s control plane (Pod CIDR)"),
        ("note-muted", f"{network or 'the default network'}: Service and API traffic, not RDMA"),
    ]
    tooltip = f"eth0 · {network or 'default network'} · {address or 'no address'}"
    return _Spec("eth0", "primary", "ok", network or "default network", lines, cni, note, tooltip)


def _rail(interface: dict, findings: list[dict]) -> _Spec:
    diagnosis = diagnosis_for(interface, findings)
    title, lines = _rail_lines(interface)
    status = interface.get("status", "ok")
    tooltip = " · ".join(filter(None, [interface.get("name"), title, *lines]))
    if diagnosis:
        tooltip += f"\n{diagnosis.code}: {diagnosis.message}\nFix: {diagnosis.fix}"
    elif interface.get("detail"):
        tooltip += f"\n{interface['detail']}"
    cni = (
        "SR-IOV CNI"
        if interface.get("rail") is not None or interface.get("pci_address")
        else "Multus"
    )
    return _Spec(
        interface.get("name") or "?",
        "rail",
        status,
        title,
        lines,
        cni,
        _rail_note(interface, diagnosis),
        tooltip,
        diagnosis,
    )


def layout(report: dict, pod_cidr: str | None = None) -> Diagram:
    """The diagram of one pod report: eth0 first, then each interface in the report's order."""
    findings = report.get("findings") or []
    specs = [_primary(report, pod_cidr)]
    specs += [_rail(item, findings) for item in report.get("interfaces") or []]
    rows: list[Row] = []
    y = MARGIN + HEADER_H
    for spec in specs:
        note_h = NOTE_PAD + LINE_H * len(spec.note_lines)
        height = max(BOX_H, note_h)
        box = Box(BOX_X, y, BOX_W, BOX_H)
        middle = y + BOX_H // 2
        rows.append(
            Row(
                name=spec.name,
                kind=spec.kind,
                status=spec.status,
                box=box,
                title=spec.title,
                lines=spec.lines,
                cell=Box(POD_X + CELL_PAD, middle - 15, POD_W - 2 * CELL_PAD, 30),
                cni=spec.cni,
                wire_y=middle,
                note=Box(NOTE_X, y, WIDTH - MARGIN - NOTE_X, height),
                note_lines=spec.note_lines,
                tooltip=spec.tooltip,
                diagnosis=spec.diagnosis,
            )
        )
        y += height + ROW_GAP
    bottom = y - ROW_GAP + MARGIN
    pod = Box(POD_X, MARGIN, POD_W, bottom - MARGIN)
    return Diagram(
        width=WIDTH,
        height=int(bottom + MARGIN),
        pod=pod,
        pod_title="Pod",
        pod_phase=report.get("phase") or "?",
        pod_reason=report.get("reason") or "",
        rows=rows,
        bus=(rows[0].wire_y, rows[-1].wire_y),
    )
