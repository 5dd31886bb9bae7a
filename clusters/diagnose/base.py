"""What every diagnosis rule shares: the Diagnosis finding, the event patterns, and how evidence
is quoted."""

from __future__ import annotations

import re
from dataclasses import dataclass

from clusters.inspect import (
    NETWORK_STATUS_ANNOTATION,
    NETWORKS_ANNOTATION,
    PodView,
)
from planner.findings import Finding, finding

NETWORKS_FIELD = f'metadata.annotations["{NETWORKS_ANNOTATION}"]'


STATUS_FIELD = f'metadata.annotations["{NETWORK_STATUS_ANNOTATION}"]'


STARTING_REASONS = ("ContainerCreating", "PodInitializing")


INSUFFICIENT = re.compile(r"(?:(\d+) )?Insufficient ([A-Za-z0-9./_-]+)")


NAD_MISSING = re.compile(
    r"cannot find a network-attachment-definition \(([^)]*)\) in namespace \(([^)]*)\)"
)


NETWORK_ERROR = re.compile(r'error adding container to network "([^"]+)"')


EXHAUSTED = re.compile(
    r"Could not allocate IP in range: ip: (\S+) / - (\S+) / range: (\S+) / "
    r"excludeRanges: \[([^\]]*)\]"
)


EXHAUSTED_SHORT = re.compile(r"Could not allocate IP in range[^\n]*")


ADMISSION = re.compile(r"unavailable for ([A-Za-z0-9./_-]+)\. Requested: (\d+), Available: (\d+)")


VF_PCI = "VF pci addr is required"


@dataclass(frozen=True)
class Diagnosis(Finding):
    """A finding with the evidence it rests on: an event's words, or an observed fact."""

    evidence: str = ""

    def to_dict(self) -> dict:
        return {**super().to_dict(), "evidence": self.evidence}


def new_diagnosis(
    code: str,
    view: PodView,
    field: str,
    message: str,
    fix: str,
    evidence: str = "",
    severity: str | None = None,
) -> Diagnosis:
    base = finding(code, view.ref, field, message, fix, severity)
    return Diagnosis(*(getattr(base, name) for name in Finding.__dataclass_fields__), evidence)


def quote(event: dict | None) -> str:
    """An event as evidence: 'Warning FailedScheduling (x3): <message>'."""
    if not event:
        return ""
    repeat = f" (x{event['count']})" if (event.get("count") or 1) > 1 else ""
    return f"{event['type']} {event['reason']}{repeat}: {event['message']}"


def latest_warning(events: list[dict], *reasons: str) -> dict | None:
    found = None
    for event in events:  # oldest first
        if event["reason"] in reasons:
            found = event
    return found


def clip(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def fmt_amount(amount: float) -> str:
    return str(int(amount)) if float(amount).is_integer() else str(amount)


def names_text(items, limit: int = 6) -> str:
    items = list(items)
    shown = ", ".join(str(item) for item in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")
