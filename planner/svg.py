"""Geometry of a rail's IP map: one horizontal bar for the whole subnet, cut into segments.

Pure: takes a `RailSpace` (and optional notes for exclusion spans), returns plain data the
template draws as SVG rects. Segments tile the bar exactly (their widths add up to `width`).
Spans narrower than `min_px` are merged into `dense` segments of about one pixel, so a /8 with
10,000 exclusions draws about one segment per pixel, never 10,000 rects. A few tiny spans on
their own (the network address and two host IPs before a wide free span) keep their own kinds:
at most DENSE_MIN_SPANS - 1 of them precede each wide span, so the count stays a small
multiple of the width.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field

from planner import ipam

BAR_WIDTH = 1000  # SVG user units; the bar stretches to its container
MIN_VISIBLE = 1.5  # drawn width of a marked segment narrower than this

EXCLUDED, HOST, RESERVED, FREE, DENSE = "excluded", "host", "reserved", "free", "dense"
KIND_LABELS = {
    EXCLUDED: "Excluded",
    HOST: "Host IPs",
    RESERVED: "Not in the pod range",
    FREE: "Free for pods",
    DENSE: "Dense (many small blocks)",
}
TICKS = 4
DENSE_MIN_SPANS = 4  # fewer tiny spans than this before a wide one are drawn one by one

Note = tuple[ipam.Span, str]


@dataclass(frozen=True)
class Segment:
    kind: str
    first: int
    last: int
    x: float
    width: float
    label: str
    tooltip: str

    @property
    def size(self) -> int:
        return self.last - self.first + 1

    @property
    def draw_width(self) -> float:
        """Free space is the background; anything marked stays visible however narrow."""
        return self.width if self.kind == FREE else max(self.width, MIN_VISIBLE)

    @property
    def svg_x(self) -> str:
        return f"{self.x:.3f}"

    @property
    def svg_width(self) -> str:
        return f"{self.draw_width:.3f}"


@dataclass(frozen=True)
class Tick:
    percent: float
    label: str


@dataclass(frozen=True)
class RailMap:
    subnet: str
    version: int
    first: int
    size: int
    width: float
    segments: list[Segment] = field(default_factory=list)
    ticks: list[Tick] = field(default_factory=list)

    @property
    def free_segments(self) -> list[Segment]:
        return [segment for segment in self.segments if segment.kind == FREE]

    @property
    def marked_segments(self) -> list[Segment]:
        return [segment for segment in self.segments if segment.kind != FREE]

    def kind_widths(self) -> dict[str, float]:
        widths: dict[str, float] = {}
        for segment in self.segments:
            widths[segment.kind] = widths.get(segment.kind, 0.0) + segment.width
        return widths


def classify(space: ipam.RailSpace) -> list[tuple[int, int, str]]:
    """The whole subnet as sorted, disjoint (first, last, kind) spans that cover it exactly."""
    whole = [space.subnet_span]
    excluded = ipam.intersect(space.exclusions, whole)
    hosts = ipam.subtract(ipam.intersect(space.hosts, whole), excluded)
    free = space.free_spans()
    reserved = ipam.subtract(whole, excluded + hosts + free)
    spans = [(first, last, kind) for kind, group in (
        (EXCLUDED, excluded), (HOST, hosts), (FREE, free), (RESERVED, reserved),
    ) for first, last in group]  # fmt: skip
    return sorted(spans)


def rail_map(
    space: ipam.RailSpace,
    notes: Iterable[Note] = (),
    width: float = BAR_WIDTH,
    min_px: float = 1.0,
) -> RailMap:
    first, last = space.subnet_span
    total = last - first + 1
    scale = width / total
    builder = _Builder(space.version, first, scale, sorted(notes))
    for span_first, span_last, kind in classify(space):
        if (span_last - span_first + 1) * scale >= min_px:
            builder.flush(few_stay_apart=True)
            builder.emit(kind, span_first, span_last)
        else:
            builder.add_small(kind, span_first, span_last)
            if builder.pending_width() >= min_px:
                builder.flush(few_stay_apart=False)
    builder.flush(few_stay_apart=True)
    return RailMap(
        subnet=space.subnet,
        version=space.version,
        first=first,
        size=total,
        width=width,
        segments=builder.segments,
        ticks=_ticks(first, total, space.version),
    )


def _ticks(first: int, total: int, version: int) -> list[Tick]:
    ticks = []
    for step in range(TICKS + 1):
        address = first + min(total - 1, total * step // TICKS)
        ticks.append(Tick(percent=100.0 * step / TICKS, label=ipam.int_to_ip(address, version)))
    return ticks


def span_label(first: int, last: int, version: int) -> str:
    """A CIDR when the span is exactly one, else 'A-B' (or a single address)."""
    cidrs = ipam.span_to_cidrs((first, last), version)
    return cidrs[0] if len(cidrs) == 1 else ipam.span_text((first, last), version)


def _addresses(count: int) -> str:
    return f"{count:,} address" + ("" if count == 1 else "es")


class _Builder:
    """Accumulates segments; small spans wait in `pending` until they make up a pixel."""

    def __init__(self, version: int, origin: int, scale: float, notes: list[Note]):
        self.version, self.origin, self.scale = version, origin, scale
        self.notes = notes
        self.note_starts = [span[0] for span, _ in notes]
        self.segments: list[Segment] = []
        self.pending: list[tuple[int, int, str]] = []

    def pending_width(self) -> float:
        if not self.pending:
            return 0.0
        return (self.pending[-1][1] - self.pending[0][0] + 1) * self.scale

    def add_small(self, kind: str, first: int, last: int) -> None:
        self.pending.append((first, last, kind))

    def flush(self, few_stay_apart: bool) -> None:
        """Emit the pending tiny spans: one pixel's worth becomes a dense segment; a short
        leftover before a wide span (or the end) keeps its spans apart when few_stay_apart."""
        apart = len(self.pending) == 1 or (few_stay_apart and len(self.pending) < DENSE_MIN_SPANS)
        if apart:
            for first, last, kind in self.pending:
                self.emit(kind, first, last)
        elif self.pending:
            self._emit_dense()
        self.pending = []

    def emit(self, kind: str, first: int, last: int) -> None:
        label = span_label(first, last, self.version)
        parts = [KIND_LABELS[kind], label, _addresses(last - first + 1)]
        if kind == EXCLUDED:
            parts.extend(self._notes_within(first, last))
        self._append(kind, first, last, label, " · ".join(parts))

    def _emit_dense(self) -> None:
        first, last = self.pending[0][0], self.pending[-1][1]
        blocks: dict[str, list[int]] = {}
        for span_first, span_last, kind in self.pending:
            count = blocks.setdefault(kind, [0, 0])
            count[0] += 1
            count[1] += span_last - span_first + 1
        label = ipam.span_text((first, last), self.version)
        parts = [KIND_LABELS[DENSE], label, _addresses(last - first + 1)]
        for kind in (EXCLUDED, HOST, RESERVED, FREE):
            if kind in blocks:
                spans, addresses = blocks[kind]
                blocks_text = f"{spans:,} block" + ("" if spans == 1 else "s")
                parts.append(f"{KIND_LABELS[kind]}: {_addresses(addresses)} in {blocks_text}")
        self._append(DENSE, first, last, label, " · ".join(parts))

    def _append(self, kind: str, first: int, last: int, label: str, tooltip: str) -> None:
        self.segments.append(
            Segment(
                kind=kind,
                first=first,
                last=last,
                x=(first - self.origin) * self.scale,
                width=(last - first + 1) * self.scale,
                label=label,
                tooltip=tooltip,
            )
        )

    def _notes_within(self, first: int, last: int, limit: int = 3) -> list[str]:
        """Notes of the exclusions inside a merged excluded span (a few, then a count)."""
        start = bisect.bisect_left(self.note_starts, first)
        stop = bisect.bisect_right(self.note_starts, last)
        texts = [text for _, text in self.notes[start:stop] if text]
        if len(texts) > limit:
            return [*texts[:limit], f"and {len(texts) - limit:,} more"]
        return texts
