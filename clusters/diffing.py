"""What a rollout would change: live objects against what the server would make of ours. Pure.

As `kubectl diff` does, an object is compared with the result of a server-side dry-run apply of
it (clusters.preview), never with our request: the server fills in defaults (a PodTemplate's
terminationMessagePath, imagePullPolicy, ...), keeps fields other managers own, and drops what
we no longer set. An object is "unchanged" when that result equals the live object apart from
bookkeeping (resourceVersion, generation, managedFields) and status. Strings holding JSON (a
NAD's spec.config, the networks annotation) are compared as data, so re-serialising them is not
a change.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass

from planner import yamlio

BOOKKEEPING = {"resourceVersion", "generation", "managedFields", "selfLink"}
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
    error: str = ""  # the server refused the dry run: the object cannot be applied as it is

    @property
    def key(self) -> Key:
        return key_of(self.obj)

    @property
    def label(self) -> str:
        _, kind, namespace, name = self.key
        return f"{kind}/{namespace + '/' if namespace else ''}{name}"


def as_data(value):
    """A value with every string that holds a JSON object or array replaced by that data."""
    if isinstance(value, dict):
        return {key: as_data(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_data(item) for item in value]
    if isinstance(value, str) and value.lstrip()[:1] in ("{", "["):
        try:
            return as_data(json.loads(value))
        except ValueError:
            return value
    return value


def comparable(obj: dict) -> dict:
    """An object as data, without status and the server's bookkeeping."""
    result = {
        key: value for key, value in obj.items() if key not in ("status", "apiVersion", "kind")
    }
    metadata = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in BOOKKEEPING}
    result["metadata"] = metadata
    return as_data(result)


def same(live: dict, merged: dict) -> bool:
    """Whether applying would leave the live object as it is."""
    return comparable(live) == comparable(merged)


@dataclass(frozen=True)
class Preview:
    """What the server answered to a dry run of one object: the object it would store (or the
    Status of a delete), or why it refused."""

    result: dict | None = None
    error: str = ""


def compare(
    desired: list[dict],
    live: dict[Key, dict | None],
    previews: dict[Key, Preview],
    managed: list[dict],
    prune: bool,
) -> list[Change]:
    """Per-object actions: `live` maps each desired object's key to its live copy (or None);
    `previews` holds the server's dry-run answer for each desired object (and each prunable one);
    `managed` lists live objects labelled as this plan's, which are pruned when asked."""
    changes = []
    wanted = set()
    for obj in desired:
        key = key_of(obj)
        wanted.add(key)
        current = live.get(key)
        preview = previews.get(key, Preview())
        label = f"{key[1]}/{key[3]}"
        merged = preview.result
        if current is None:
            shown = clean(merged) if merged else obj
            changes.append(Change(obj, "create", unified(None, shown, label), preview.error))
        elif merged is None:
            error = preview.error or "The server gave no dry-run answer for this object."
            changes.append(Change(obj, "change", "", error))
        elif same(current, merged):
            changes.append(Change(obj, "unchanged", ""))
        else:
            changes.append(Change(obj, "change", unified(clean(current), clean(merged), label)))
    if prune:
        for obj in managed:
            key = key_of(obj)
            if key not in wanted:
                shown = clean(obj)
                preview = previews.get(key) or Preview()
                changes.append(
                    Change(
                        shown, "prune", unified(shown, None, f"{key[1]}/{key[3]}"), preview.error
                    )
                )
    return changes


def prunable(desired: list[dict], managed: list[dict]) -> list[dict]:
    """The managed live objects a prune would delete."""
    wanted = {key_of(obj) for obj in desired}
    return [obj for obj in managed if key_of(obj) not in wanted]
