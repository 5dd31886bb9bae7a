"""The pod filters of the pod list page and the pods API, read and applied in one place.

namespace and node match exactly; problem is "any" (pods with problems), "none" (pods without),
or a finding code (pods that have it, through the indexed PodStatusCode rows)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from urllib.parse import urlencode

FIELDS = ("namespace", "node", "problem")
ANY = ("any", "true", "1")
NONE = ("none", "false", "0")


@dataclass(frozen=True)
class PodFilters:
    namespace: str = ""
    node: str = ""
    problem: str = ""

    @classmethod
    def read(cls, data) -> PodFilters:
        return cls(**{key: (data.get(key) or "").strip() for key in FIELDS})

    def apply(self, rows):
        if self.namespace:
            rows = rows.filter(namespace=self.namespace)
        if self.node:
            rows = rows.filter(node=self.node)
        if self.problem in ANY:
            rows = rows.filter(ok=False)
        elif self.problem in NONE:
            rows = rows.filter(ok=True)
        elif self.problem:
            rows = rows.filter(code_rows__code=self.problem.upper())
        return rows

    @property
    def active(self) -> bool:
        return any(asdict(self).values())

    def query(self, **extra) -> str:
        pairs = {**asdict(self), **extra}
        return urlencode({key: value for key, value in pairs.items() if value not in ("", None)})
