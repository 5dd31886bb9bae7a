"""Object metadata helpers: timestamps, uids, generated names, JSON encoding."""

import json
import secrets
import time
import uuid
from datetime import UTC, datetime

# The alphabet Kubernetes uses for generateName suffixes (no vowels, no confusing digits).
_NAME_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

METADATA_KEY_ORDER = (
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
)


_last_second = [0, ""]


def now_rfc3339() -> str:
    second = int(time.time())
    if second != _last_second[0]:
        stamp = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        _last_second[:] = [second, stamp]
    return _last_second[1]


def parse_rfc3339(value: str) -> float:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def object_metadata(name: str, namespace: str | None = None, **extra) -> dict:
    """Metadata for an object the lab creates itself (name, namespace, uid, timestamp)."""
    metadata = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    metadata.update({"uid": new_uid(), "creationTimestamp": now_rfc3339()})
    metadata.update(extra)
    return metadata


def new_uid() -> str:
    return str(uuid.uuid4())


def name_suffix(length: int = 5) -> str:
    return "".join(secrets.choice(_NAME_SUFFIX_ALPHABET) for _ in range(length))


def container_id() -> str:
    return secrets.token_hex(32)


def event_name(object_name: str) -> str:
    return f"{object_name}.{time.time_ns():x}"


def dumps(obj) -> bytes:
    """Compact JSON as the Go apiserver writes it."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


_OMIT_WHEN_EMPTY = ("labels", "annotations", "ownerReferences", "finalizers", "managedFields")


def drop_empty_metadata(metadata: dict) -> None:
    """ObjectMeta's maps and lists are omitempty: `annotations: {}` is no annotations."""
    for key in _OMIT_WHEN_EMPTY:
        if key in metadata and not metadata[key]:
            del metadata[key]


def ordered_metadata(metadata: dict) -> dict:
    """ObjectMeta field order; empty maps and lists are omitted as Go's omitempty does."""
    ordered = {key: metadata[key] for key in METADATA_KEY_ORDER if key in metadata}
    for key, value in metadata.items():
        if key not in ordered:
            ordered[key] = value
    for key in _OMIT_WHEN_EMPTY:
        if key in ordered and not ordered[key]:
            del ordered[key]
    return ordered


def ordered_object(obj: dict, kind: str, api_version: str) -> dict:
    """Put kind, apiVersion and metadata first, the order the apiserver uses."""
    result = {"kind": kind, "apiVersion": api_version}
    result["metadata"] = ordered_metadata(obj.get("metadata") or {})
    for key, value in obj.items():
        if key not in result and key != "status":
            result[key] = value
    if "status" in obj:
        result["status"] = obj["status"]
    return result


def age(timestamp: str | None, now: float | None = None) -> str:
    """Render an age the way kubectl does (5s, 3m, 2h, 4d)."""
    if not timestamp:
        return "<unknown>"
    seconds = int((now or time.time()) - parse_rfc3339(timestamp))
    seconds = max(seconds, 0)
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        rest = seconds % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 48:
        return f"{hours}h"
    return f"{hours // 24}d"
