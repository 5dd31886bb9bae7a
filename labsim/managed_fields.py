"""managedFields bookkeeping and server-side apply (field ownership, conflicts, merge).

A field set is a set of paths; a path is a tuple of fieldsV1 tokens such as
("f:spec", "f:containers", 'k:{"name":"trainer"}', "f:image").
"""

import copy
import functools
import json

from labsim.meta import now_rfc3339
from labsim.patching import MERGE_KEYS, PRIMITIVE_MERGE_LISTS
from labsim.status import ApiError

IDENTITY_METADATA = {
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
}
_MISSING = object()
_PRESENT = object()


def _top_level(obj: dict, skip_status: bool):
    """The (key, value) pairs whose fields are tracked: no identity metadata, maybe no status."""
    for key, value in obj.items():
        if key in ("apiVersion", "kind") or (key == "status" and skip_status):
            continue
        if key == "metadata" and isinstance(value, dict):
            value = {k: v for k, v in value.items() if k not in IDENTITY_METADATA}
            if not value:
                continue
        yield key, value


APPLIED = "applied"  # an applied configuration: list items carry their own "." entry
ADDED = "added"  # a subtree an update added: every map and list in it carries "."


def field_paths(obj: dict, skip_status: bool) -> set[tuple]:
    """The fields of an applied configuration, as structured-merge-diff sets them."""
    paths: set[tuple] = set()
    for key, value in _top_level(obj, skip_status):
        _collect(("f:" + key,), key, value, paths, APPLIED)
    return paths


def list_keys(key: str, item) -> tuple[str, ...] | None:
    """The keys of an associative list's items (container ports: containerPort+protocol,
    service ports: port+protocol), by the list's field name."""
    if key == "ports" and isinstance(item, dict):
        return ("containerPort", "protocol") if "containerPort" in item else ("port", "protocol")
    merge_key = MERGE_KEYS.get(key)
    return (merge_key,) if merge_key else None


def _keyed(items: list, key: str) -> bool:
    if key not in MERGE_KEYS or not items:
        return False
    for item in items:
        keys = list_keys(key, item)
        if not isinstance(item, dict) or not keys or any(k not in item for k in keys):
            return False
    return True


def _item_id(key: str, item: dict) -> tuple:
    return tuple(json.dumps(item[k]) for k in list_keys(key, item))


@functools.lru_cache(maxsize=8192)
def _cached_item_token(merge_key: str, value: str) -> str:
    return "k:" + json.dumps({merge_key: value}, separators=(",", ":"))


def _item_token(key: str, item: dict) -> str:
    keys = list_keys(key, item)
    if len(keys) == 1 and isinstance(item[keys[0]], str):
        return _cached_item_token(keys[0], item[keys[0]])
    return "k:" + json.dumps({k: item[k] for k in keys}, separators=(",", ":"))


def _atomic(key: str, value) -> bool:
    """Label selectors are atomic: owned and replaced as a whole."""
    return (
        key == "selector"
        and isinstance(value, dict)
        and bool(value)
        and set(value) <= {"matchLabels", "matchExpressions"}
    )


def _is_set(path: tuple) -> bool:
    """metadata.finalizers is a set of strings; other lists of scalars are atomic."""
    return path[-2:] == ("f:metadata", "f:finalizers")


def _collect(path: tuple, key: str, value, paths: set, mode: str) -> None:
    if _atomic(key, value):
        paths.add(path)
    elif isinstance(value, dict) and value:
        if mode == ADDED:
            paths.add((*path, "."))
        for child_key, child in value.items():
            _collect((*path, "f:" + child_key), child_key, child, paths, mode)
    elif isinstance(value, list) and _keyed(value, key):
        if mode == ADDED:
            paths.add((*path, "."))
        for item in value:
            item_path = (*path, _item_token(key, item))
            paths.add((*item_path, "."))
            for child_key, child in item.items():
                _collect((*item_path, "f:" + child_key), child_key, child, paths, mode)
    elif isinstance(value, list) and value and _is_set(path):
        if mode == ADDED:
            paths.add((*path, "."))
        for item in value:
            paths.add((*path, "v:" + json.dumps(item, separators=(",", ":"))))
    else:
        paths.add(path)


def _leaves(path: tuple, key: str, value) -> set[tuple]:
    paths: set[tuple] = set()
    if value is not _MISSING:
        _collect(path, key, value, paths, ADDED)
    return paths


def _diff(path: tuple, key: str, old, new, changed: set, removed: set) -> None:
    """Collect the field paths that differ; shared (identical) subtrees are skipped.

    A map or list that was there (even empty or null) keeps no "." of its own when items are
    added to it, as in structured-merge-diff's comparison."""
    if old is new:
        return
    if old is None and isinstance(new, dict | list) and new and not _atomic(key, new):
        old = type(new)()
    if isinstance(old, dict) and isinstance(new, dict) and new and not _atomic(key, new):
        for child_key, child in new.items():
            _diff(
                (*path, "f:" + child_key),
                child_key,
                old.get(child_key, _MISSING),
                child,
                changed,
                removed,
            )
        for child_key in old.keys() - new.keys():
            removed |= _leaves((*path, "f:" + child_key), child_key, old[child_key])
        return
    if (
        isinstance(old, list)
        and isinstance(new, list)
        and _keyed(new, key)
        and (not old or _keyed(old, key))
    ):
        old_items = {_item_id(key, i): i for i in old}
        for item in new:
            token = _item_token(key, item)
            before = old_items.pop(_item_id(key, item), _MISSING)
            if before is _MISSING:
                changed |= _leaves((*path, token), key + "[]", item) | {(*path, token, ".")}
                continue
            for child_key, child in item.items():
                _diff(
                    (*path, token, "f:" + child_key),
                    child_key,
                    before.get(child_key, _MISSING),
                    child,
                    changed,
                    removed,
                )
            for child_key in before.keys() - item.keys():
                removed |= _leaves((*path, token, "f:" + child_key), child_key, before[child_key])
        for item in old_items.values():
            token = _item_token(key, item)
            removed |= _leaves((*path, token), key + "[]", item) | {(*path, token, ".")}
        return
    if old != new:
        before = _leaves(path, key, old)
        after = _leaves(path, key, new)
        changed |= after
        removed |= before - after


def diff_paths(old: dict, new: dict, skip_status: bool) -> tuple[set[tuple], set[tuple]]:
    """(changed or added paths, removed paths) between two versions of an object."""
    changed: set[tuple] = set()
    removed: set[tuple] = set()
    old_top = dict(_top_level(old, skip_status))
    new_top = dict(_top_level(new, skip_status))
    old_top.setdefault("metadata", {})  # every object has metadata
    for key, value in new_top.items():
        _diff(("f:" + key,), key, old_top.get(key, _MISSING), value, changed, removed)
    for key in old_top.keys() - new_top.keys():
        removed |= _leaves(("f:" + key,), key, old_top[key])
    return changed, removed


@functools.lru_cache(maxsize=4096)
def _item_keys(name: str) -> dict:
    return json.loads(name)


def value_at(obj, path: tuple):
    current = obj
    for token in path:
        if token == ".":
            return _PRESENT
        kind, _, name = token.partition(":")
        if kind == "f":
            if not isinstance(current, dict) or name not in current:
                return _MISSING
            current = current[name]
        elif kind == "k":
            wanted = _item_keys(name)
            if not isinstance(current, list):
                return _MISSING
            current = next(
                (
                    item
                    for item in current
                    if isinstance(item, dict) and all(item.get(k) == v for k, v in wanted.items())
                ),
                _MISSING,
            )
            if current is _MISSING:
                return _MISSING
        elif kind == "v":
            return (
                _PRESENT if isinstance(current, list) and json.loads(name) in current else _MISSING
            )
    return current


def to_fields_v1(paths) -> dict:
    root: dict = {}
    for path in sorted(paths):
        node = root
        for token in path:
            node = node.setdefault(token, {})
    return root


def from_fields_v1(fields: dict, prefix: tuple = ()) -> set[tuple]:
    paths: set[tuple] = set()
    for token, child in (fields or {}).items():
        path = (*prefix, token)
        if child:
            paths |= from_fields_v1(child, path)
        else:
            paths.add(path)
    return paths


# Stored objects are never mutated, so equal field sets can share one rendered fieldsV1 dict
# across objects and versions; that keeps thousands of similar pods small.
_INTERN_LIMIT = 20_000
_rendered: dict[frozenset, dict] = {}
_parsed: dict[int, tuple[dict, frozenset]] = {}


def fields_v1_for(paths: frozenset) -> dict:
    rendered = _rendered.get(paths)
    if rendered is None:
        if len(_rendered) >= _INTERN_LIMIT:
            _rendered.clear()
            _parsed.clear()
        rendered = to_fields_v1(paths)
        _rendered[paths] = rendered
        _parsed[id(rendered)] = (rendered, paths)
    return rendered


def paths_of(fields: dict) -> frozenset:
    known = _parsed.get(id(fields))
    if known is not None and known[0] is fields:
        return known[1]
    return frozenset(from_fields_v1(fields))


def path_string(path: tuple) -> str:
    """Render a path the way structured-merge-diff prints it in conflict messages."""
    parts = []
    for token in path:
        kind, _, name = token.partition(":")
        if kind == "f":
            parts.append("." + name)
        elif kind == "k":
            keys = _item_keys(name)
            parts.append("[" + ",".join(f"{k}={json.dumps(v)}" for k, v in keys.items()) + "]")
        elif kind == "v":
            parts.append(f"[={name}]")
    return "".join(parts)


class ManagedFields:
    """The managedFields entries of one object, editable and rendered back to JSON.

    Entries nobody touched are rendered as the very same dicts, so versions share them.
    """

    def __init__(self, entries: list[dict] | None):
        self.entries = [
            {
                "original": entry,
                "paths": paths_of(entry.get("fieldsV1") or {}),
                "dirty": False,
                "meta": {k: v for k, v in entry.items() if k not in ("fieldsV1", "fieldsType")},
            }
            for entry in entries or []
        ]

    def render(self) -> list[dict]:
        rendered = []
        for entry in self.entries:
            if not entry["paths"]:
                continue
            if not entry["dirty"]:
                rendered.append(entry["original"])
                continue
            meta = entry["meta"]
            clean = {k: meta[k] for k in ("manager", "operation", "apiVersion") if k in meta}
            clean["time"] = meta.get("time") or now_rfc3339()
            clean["fieldsType"] = "FieldsV1"
            clean["fieldsV1"] = fields_v1_for(frozenset(entry["paths"]))
            if meta.get("subresource"):
                clean["subresource"] = meta["subresource"]
            rendered.append(clean)
        return rendered

    def _entry(self, manager: str, operation: str, api_version: str, subresource: str) -> dict:
        for entry in self.entries:
            meta = entry["meta"]
            if (
                meta.get("manager") == manager
                and meta.get("operation") == operation
                and (meta.get("subresource") or "") == subresource
            ):
                if meta.get("apiVersion") != api_version:
                    meta["apiVersion"] = api_version
                    entry["dirty"] = True
                return entry
        meta = {"manager": manager, "operation": operation, "apiVersion": api_version}
        if subresource:
            meta["subresource"] = subresource
        entry = {"original": None, "paths": frozenset(), "dirty": True, "meta": meta}
        self.entries.append(entry)
        return entry

    def _set_paths(self, entry: dict, paths: frozenset) -> None:
        if paths != entry["paths"]:
            entry["paths"] = paths
            entry["dirty"] = True

    def record_update(
        self,
        old: dict | None,
        new: dict,
        manager: str,
        api_version: str,
        subresource: str = "",
        skip_status: bool = False,
        zero: dict | None = None,
    ) -> None:
        """An update's fields; a create's are compared with the kind's empty object `zero`."""
        changed, removed = diff_paths(old if old is not None else zero or {}, new, skip_status)
        if not changed and not removed:
            return
        touched = changed | removed
        for entry in self.entries:
            if entry["paths"] & touched:
                self._set_paths(entry, entry["paths"] - touched)
        entry = self._entry(manager, "Update", api_version, subresource)
        self._set_paths(entry, entry["paths"] | changed)
        entry["meta"]["time"] = now_rfc3339()
        entry["dirty"] = True

    def record_existing(self, obj: dict, api_version: str) -> None:
        entry = self._entry("before-first-apply", "Update", api_version, "")
        self._set_paths(entry, frozenset(field_paths(obj, skip_status=False)))
        entry["meta"]["time"] = now_rfc3339()

    def apply(
        self,
        current: dict,
        applied: dict,
        manager: str,
        api_version: str,
        force: bool,
        skip_status: bool,
    ) -> dict:
        """Merge an applied configuration into `current`; raise 409 on conflicts."""
        applied_paths = frozenset(field_paths(applied, skip_status))
        own = self._entry(manager, "Apply", api_version, "")
        conflicts = []
        for entry in self.entries:
            if entry is own:
                continue
            for path in entry["paths"] & applied_paths:
                if value_at(current, path) != value_at(applied, path):
                    conflicts.append((entry, path))
        if conflicts and not force:
            raise conflict_error([(entry["meta"], path) for entry, path in conflicts])
        for entry, path in conflicts:
            self._set_paths(entry, entry["paths"] - {path})
        others = set().union(*(e["paths"] for e in self.entries if e is not own))
        result = copy.deepcopy(current)
        for path in sorted(own["paths"] - applied_paths, key=len, reverse=True):
            if path not in others:
                _remove_path(result, path)
        result = merge_applied(result, applied, skip_status)
        if own["paths"] != applied_paths or not own["meta"].get("time"):
            own["meta"]["time"] = now_rfc3339()
            own["dirty"] = True
        self._set_paths(own, applied_paths)
        return result


def _manager_label(entry: dict) -> str:
    label = json.dumps(entry["manager"])
    if entry.get("subresource"):
        label += f" with subresource {json.dumps(entry['subresource'])}"
    if entry.get("operation") == "Update":
        label += f" using {entry['apiVersion']}"
    return label


def conflict_error(conflicts: list[tuple[dict, tuple]]) -> ApiError:
    conflicts = sorted(conflicts, key=lambda c: (c[0]["manager"], path_string(c[1])))
    causes = [
        {
            "reason": "FieldManagerConflict",
            "message": f"conflict with {_manager_label(entry)}",
            "field": path_string(path),
        }
        for entry, path in conflicts
    ]
    if len(conflicts) == 1:
        entry, path = conflicts[0]
        message = (
            f"Apply failed with 1 conflict: conflict with {_manager_label(entry)}: "
            f"{path_string(path)}"
        )
    else:
        lines = []
        managers: dict[str, list[str]] = {}
        for entry, path in conflicts:
            managers.setdefault(_manager_label(entry), []).append(path_string(path))
        for label in sorted(managers):
            lines.append(f"conflict with {label}:")
            lines.extend(f"- {p}" for p in managers[label])
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return ApiError(409, "Conflict", message, {"causes": causes})


def _remove_path(obj, path: tuple) -> None:
    if not path or path[-1] == ".":
        return
    parent = value_at(obj, path[:-1])
    kind, _, name = path[-1].partition(":")
    if kind == "f" and isinstance(parent, dict):
        parent.pop(name, None)
    elif kind == "k" and isinstance(parent, list):
        wanted = _item_keys(name)
        parent[:] = [
            i
            for i in parent
            if not (isinstance(i, dict) and all(i.get(k) == v for k, v in wanted.items()))
        ]
    elif kind == "v" and isinstance(parent, list):
        value = json.loads(name)
        parent[:] = [i for i in parent if i != value]


def merge_applied(current, applied, skip_status: bool, key: str = ""):
    if isinstance(applied, dict) and isinstance(current, dict):
        result = dict(current)
        for child_key, value in applied.items():
            if skip_status and not key and child_key == "status":
                continue
            result[child_key] = merge_applied(current.get(child_key), value, False, child_key)
        return result
    if (
        isinstance(applied, list)
        and isinstance(current, list)
        and _keyed(applied, key)
        and (not current or _keyed(current, key))
    ):
        result = list(current)
        for item in applied:
            wanted = _item_id(key, item)
            index = next((i for i, e in enumerate(result) if _item_id(key, e) == wanted), None)
            if index is None:
                result.append(copy.deepcopy(item))
            else:
                result[index] = merge_applied(result[index], item, False)
        return result
    if isinstance(applied, list) and isinstance(current, list) and key in PRIMITIVE_MERGE_LISTS:
        return current + [item for item in applied if item not in current]
    return copy.deepcopy(applied)
