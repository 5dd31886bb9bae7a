"""What a rollout would change: desired objects against live ones. Pure.

Live objects carry fields the server owns (status, uid, managedFields, defaults); an object is
"unchanged" when every field Rail Studio sets has the same value live. Lists are compared whole.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from planner import yamlio

SERVER_METADATA = {
    "uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink",
    "deletionTimestamp", "deletionGracePeriodSeconds", "ownerReferences", "finalizers",
}  # fmt: skip

MANAGED_BY = "app.kubernetes.io/managed-by"
PLAN_LABEL = "railstudio.io/plan"

Key = tuple[str, str, str, str]  # apiVersion, kind, namespace, name


def key_of(obj: dict) -> Key:
    metadata = obj.get("metadata") or {}
    return (
        obj.get("apiVersion", ""),
        obj.get("kind", ""),
        metadata.get("namespace") or "",
        metadata.get("name", ""),
    )


def managed_selector(plan_slug: str) -> str:
    return f"{MANAGED_BY}=railstudio,{PLAN_LABEL}={plan_slug}"


def project(live, desired):
    """The part of `live` that `desired` speaks about."""
    if isinstance(desired, dict) and isinstance(live, dict):
        return {key: project(live.get(key), value) for key, value in desired.items() if key in live}
    return live


def clean(obj: dict) -> dict:
    """An object without server-owned metadata and status, for display."""
    result = {key: value for key, value in obj.items() if key != "status"}
    metadata = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in SERVER_METADATA}
    annotations = {
        k: v for k, v in (metadata.get("annotations") or {}).items()
        if k != "kubectl.kubernetes.io/last-applied-configuration"
    }  # fmt: skip
    if annotations:
        metadata["annotations"] = annotations
    else:
        metadata.pop("annotations", None)
    result["metadata"] = metadata
    return result


def to_yaml(obj: dict | None) -> str:
    if obj is None:
        return ""
    return yamlio.dump(obj)  # kubectl-style: spec.config as a readable literal block


def unified(before: dict | None, after: dict | None, label: str) -> str:
    lines = difflib.unified_diff(
        to_yaml(before).splitlines(keepends=True),
        to_yaml(after).splitlines(keepends=True),
        fromfile=f"live/{label}",
        tofile=f"desired/{label}",
    )
    return "".join(lines)


@dataclass(frozen=True)
class Change:
    obj: dict
    action: str  # create | change | unchanged | prune
    diff: str

    @property
    def key(self) -> Key:
        return key_of(self.obj)

    @property
    def label(self) -> str:
        _, kind, namespace, name = self.key
        return f"{kind}/{namespace + '/' if namespace else ''}{name}"


def compare(
    desired: list[dict], live: dict[Key, dict | None], managed: list[dict], prune: bool
) -> list[Change]:
    """Per-object actions: `live` maps each desired object's key to its live copy (or None);
    `managed` lists live objects labelled as this plan's, which are pruned when asked."""
    changes = []
    wanted = set()
    for obj in desired:
        key = key_of(obj)
        wanted.add(key)
        current = live.get(key)
        label = f"{key[1]}/{key[3]}"
        if current is None:
            changes.append(Change(obj, "create", unified(None, obj, label)))
            continue
        projected = project(clean(current), obj)
        action = "unchanged" if projected == obj else "change"
        changes.append(
            Change(obj, action, "" if action == "unchanged" else unified(projected, obj, label))
        )
    if prune:
        for obj in managed:
            key = key_of(obj)
            if key not in wanted:
                shown = clean(obj)
                changes.append(Change(shown, "prune", unified(shown, None, f"{key[1]}/{key[3]}")))
    return changes
