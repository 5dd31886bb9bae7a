"""A rail's utilisation as the pages draw it (plan page, dashboard)."""

from __future__ import annotations

from dataclasses import dataclass

from planner import ipam
from planner.models import Rail


@dataclass(frozen=True)
class UsageRow:
    rail: Rail
    usage: ipam.RailUsage

    def _percent(self, count: int) -> str:
        return f"{100.0 * count / self.usage.usable:.2f}" if self.usage.usable else "0"

    @property
    def excluded_pct(self) -> str:
        return self._percent(self.usage.excluded)

    @property
    def host_pct(self) -> str:
        return self._percent(self.usage.host_assigned)
