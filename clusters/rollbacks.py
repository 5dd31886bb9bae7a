"""What rolling back to a revision would change, shown before an operator confirms.

No cluster I/O: the revision to restore is compared with the plan's current revision on that
cluster (its last applied rollout), both stored bundles. The rollback itself then diffs against
the live objects, as every rollout does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from clusters import diffing, ownership
from clusters.models import Rollout, RolloutState
from clusters.rollout import rollback_refusal


@dataclass(frozen=True)
class Change:
    label: str
    action: str  # create | change | unchanged | remove (only deleted when the rollback prunes)
    diff: str


@dataclass
class Preview:
    record: Rollout
    refusal: str | None
    current: Rollout | None
    changes: list[Change] = field(default_factory=list)

    @property
    def allowed(self) -> bool:
        return self.refusal is None

    @property
    def removals(self) -> list[Change]:
        return [change for change in self.changes if change.action == "remove"]

    @property
    def changed(self) -> list[Change]:
        return [change for change in self.changes if change.action != "unchanged"]

    def to_dict(self) -> dict:
        return {
            "rollout": self.record.pk,
            "restores_revision": self.record.revision,
            "current_revision": self.current.revision if self.current else None,
            "current_rollout": self.current.pk if self.current else None,
            "allowed": self.allowed,
            "refused_because": self.refusal,
            "changes": [
                {"object": c.label, "action": c.action, "diff": c.diff} for c in self.changes
            ],
        }


def current_revision(record: Rollout) -> Rollout | None:
    """The plan's last revision on that cluster (the last rollout that changed it): what is live
    now, as Rail Studio knows."""
    return (
        Rollout.objects.filter(
            cluster_id=record.cluster_id,
            plan_slug=record.plan_slug,
            dry_run=False,
            revision__isnull=False,
            state__in=[RolloutState.SUCCEEDED, RolloutState.PARTIAL],
        )
        .order_by("-created_at", "-id")
        .first()
    )


def compare(current: list[dict], restored: list[dict]) -> list[Change]:
    before = {ownership.key_of(obj): obj for obj in current}
    changes, seen = [], set()
    for obj in restored:
        key = ownership.key_of(obj)
        seen.add(key)
        label, old = ownership.label_of(key), before.get(key)
        if old is None:
            changes.append(Change(label, "create", diffing.unified(None, obj, label)))
        elif old == obj:
            changes.append(Change(label, "unchanged", ""))
        else:
            changes.append(Change(label, "change", diffing.unified(old, obj, label)))
    for key, old in before.items():
        if key not in seen:
            label = ownership.label_of(key)
            changes.append(Change(label, "remove", diffing.unified(old, None, label)))
    return changes


def preview(record: Rollout) -> Preview:
    refusal = rollback_refusal(record)
    current = current_revision(record)
    changes = compare(current.bundle if current else [], record.bundle)
    return Preview(record=record, refusal=refusal, current=current, changes=changes)
