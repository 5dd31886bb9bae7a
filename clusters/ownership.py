"""Who owns the live objects a rollout would write, and which plans may share a cluster. Pure.

Rail Studio's objects carry the plan label (`railstudio.io/plan=<slug>`) and are written by
field manager `railstudio`. A rollout never changes an object labelled as another plan's
(OWNED_BY_OTHER_PLAN, even when forced), and never takes over an object it did not make, by hand
or by another tool (UNMANAGED_OBJECT), unless the operator asks to adopt it with a reason
(OBJECT_ADOPTED, recorded). Two plans whose bundles would write the same object (the same NAD
name in the same namespace) cannot be bound to one cluster.
"""

from __future__ import annotations

from planner.findings import finding
from planner.manifests import MANAGED_BY, MANAGED_BY_LABEL, PLAN_LABEL

FIELD_MANAGER = "railstudio"
UNFORCEABLE = frozenset({"OWNED_BY_OTHER_PLAN", "UNMANAGED_OBJECT"})
SHOWN_NAMES = 4

Key = tuple[str, str, str, str]  # apiVersion, kind, namespace, name


def key_of(obj: dict) -> Key:
    metadata = obj.get("metadata") or {}
    return (
        obj.get("apiVersion", ""),
        obj.get("kind", ""),
        metadata.get("namespace") or "",
        metadata.get("name", ""),
    )


def label_of(key: Key) -> str:
    _, kind, namespace, name = key
    return f"{kind}/{namespace + '/' if namespace else ''}{name}"


def plan_of(obj: dict) -> str | None:
    """The plan a live object is labelled as, if any."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    value = labels.get(PLAN_LABEL) if isinstance(labels, dict) else None
    return value if isinstance(value, str) and value else None


def field_managers(obj: dict) -> list[str]:
    entries = (obj.get("metadata") or {}).get("managedFields") or []
    names = [entry.get("manager") for entry in entries if isinstance(entry, dict)]
    return list(dict.fromkeys(name for name in names if isinstance(name, str) and name))


def made_by_railstudio(obj: dict) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    labelled = isinstance(labels, dict) and labels.get(MANAGED_BY_LABEL) == MANAGED_BY
    return labelled or plan_of(obj) is not None or FIELD_MANAGER in field_managers(obj)


def findings(
    bundle: list[dict], live: dict[Key, dict | None], plan_slug: str, adopt_reason: str = ""
) -> list[dict]:
    """Findings (as dicts, like preflight's) for the bundle's objects that exist live and are
    not this plan's. With `adopt_reason`, objects nobody labelled are adopted (info)."""
    found = []
    for obj in bundle:
        key = key_of(obj)
        current = live.get(key)
        if current is None:
            continue
        label, owner = label_of(key), plan_of(current)
        if owner is not None and owner != plan_slug:
            found.append(
                finding(
                    "OWNED_BY_OTHER_PLAN", label, f"metadata.labels.{PLAN_LABEL}",
                    f"{label} belongs to plan '{owner}' ({PLAN_LABEL}={owner}); a rollout of "
                    f"'{plan_slug}' never changes another plan's objects, even when forced.",
                    f"Give plan '{plan_slug}' or '{owner}' another namespace or other NAD "
                    f"names, or remove '{owner}''s objects from this cluster first.",
                ).to_dict()
            )  # fmt: skip
        elif owner is None and not made_by_railstudio(current):
            managers = ", ".join(field_managers(current)) or "no field manager recorded"
            if adopt_reason:
                found.append(
                    finding(
                        "OBJECT_ADOPTED", label, "metadata.managedFields",
                        f"{label} was not made by Rail Studio (field managers: {managers}); "
                        f"adopted by this rollout: {adopt_reason}",
                        "From now on it is this plan's object (labelled and applied by Rail "
                        "Studio).",
                    ).to_dict()
                )  # fmt: skip
            else:
                found.append(
                    finding(
                        "UNMANAGED_OBJECT", label, "metadata.managedFields",
                        f"{label} exists but Rail Studio did not make it (field managers: "
                        f"{managers}); a rollout does not take it over unasked.",
                        "Roll out with 'adopt' and a reason to take it over, or delete or "
                        "rename the live object.",
                    ).to_dict()
                )  # fmt: skip
    return found


def blocking(items: list[dict], *, forced: bool) -> list[dict]:
    """The error findings that stop a rollout: all of them, or when forced those that force
    cannot pass (ownership)."""
    return [
        item
        for item in items
        if item["severity"] == "error" and (not forced or item["code"] in UNFORCEABLE)
    ]


def blocked_message(items: list[dict], *, forced: bool) -> str:
    first = items[0]
    if any(item["code"] in UNFORCEABLE for item in items):
        advice = (
            "Objects owned by another plan are never changed; objects Rail Studio did not "
            "make need 'adopt' with a reason."
        )
    else:
        advice = "An operator may force it with a reason."
    return (
        f"{len(items)} preflight error(s) block this rollout ({first['code']}: "
        f"{first['message']}). {advice}"
    )


def bind_conflicts(
    plan_name: str, plan_keys: set[Key], bound: list[tuple[str, set[Key]]]
) -> list[str]:
    """Why the plan cannot join the plans bound to a cluster: one message per bound plan
    whose bundle writes an object this plan's bundle writes too."""
    messages = []
    for other_name, other_keys in bound:
        shared = sorted(plan_keys & other_keys, key=lambda key: (key[2], key[1], key[3]))
        if not shared:
            continue
        namespaces = sorted({key[2] for key in shared if key[2]})
        names = ", ".join(key[3] for key in shared[:SHOWN_NAMES])
        more = f" and {len(shared) - SHOWN_NAMES} more" if len(shared) > SHOWN_NAMES else ""
        kinds = sorted({key[1] for key in shared})
        messages.append(
            f"Plan '{plan_name}' and plan '{other_name}' (already bound) would both write "
            f"{', '.join(kinds)} {names}{more} in namespace {', '.join(namespaces) or '-'}: "
            f"one would overwrite the other. Give one of them another namespace or other NAD "
            f"names."
        )
    return messages
