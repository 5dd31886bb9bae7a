"""Kubernetes events, normalised (core/v1 and events.k8s.io/v1 alike) and grouped by the pod they
are about."""

from __future__ import annotations

from collections import defaultdict

from clusters.inspect.pods import PodView, is_dict
from railstudio import numbers


def normalize_event(event: dict) -> dict:
    """A core/v1 or events.k8s.io/v1 Event as {type, reason, message, count, last}."""
    series = event.get("series") or {}
    return {
        "type": event.get("type") or "Normal",
        "reason": event.get("reason") or "",
        "message": event.get("message") or event.get("note") or "",
        "count": event.get("count") or series.get("count") or event.get("deprecatedCount") or 1,
        "last": event.get("lastTimestamp")
        or series.get("lastObservedTime")
        or event.get("deprecatedLastTimestamp")
        or event.get("eventTime")
        or (event.get("metadata") or {}).get("creationTimestamp"),
    }


def involved_object(event: dict) -> tuple[str | None, str, str | None, str | None]:
    """(kind, namespace, name, uid) of what the event is about."""
    involved = event.get("involvedObject") or event.get("regarding") or {}
    namespace = involved.get("namespace") or (event.get("metadata") or {}).get("namespace")
    return involved.get("kind"), namespace or "default", involved.get("name"), involved.get("uid")


def event_order(event: dict, normalised: dict) -> tuple[str, int]:
    """Oldest first: by last time seen, then (timestamps have whole seconds) by the API
    server's resourceVersion when it is a number, as etcd's are."""
    version = str((event.get("metadata") or {}).get("resourceVersion") or "")
    return normalised["last"] or "", numbers.small_int(version, 0)


def group_events(events: list[dict]) -> dict[tuple[str, str], list[tuple]]:
    """Pod events by (namespace, name) as (order, uid, normalised event), oldest first."""
    grouped: dict[tuple[str, str], list] = defaultdict(list)
    for event in events or []:
        if not is_dict(event):
            continue
        kind, namespace, name, uid = involved_object(event)
        if kind in (None, "Pod") and name:
            normalised = normalize_event(event)
            grouped[(namespace, name)].append((event_order(event, normalised), uid, normalised))
    for items in grouped.values():
        items.sort(key=lambda item: item[0])
    return grouped


def events_of(view: PodView, grouped: dict) -> list[dict]:
    """The pod's events; events of an earlier pod of the same name (another uid) are left out."""
    return own_events(grouped, view.namespace, view.name, view.uid)


def own_events(grouped: dict, namespace: str, name: str, pod_uid: str | None) -> list[dict]:
    items = grouped.get((namespace, name), ())
    return [event for _, uid, event in items if uid is None or not pod_uid or uid == pod_uid]
