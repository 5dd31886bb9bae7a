"""Objects, the cluster-wide resourceVersion, and watch fan-out.

Stored objects are never mutated after they are handed to the store: every write puts a new
dict in place. That lets lists, gets and watch events share one serialized copy.
"""

import asyncio
from collections import deque
from collections.abc import Callable

from labsim.meta import dumps, ordered_object
from labsim.resources import Registry, ResourceType
from labsim.status import expired

WATCH_QUEUE_LIMIT = 200_000


_PREFIXES: dict[tuple, bytes] = {}


def _kind_prefix(obj: dict) -> bytes:
    """The serialized start of an object, b'{"kind":"Pod","apiVersion":"v1",'."""
    key = (obj.get("kind"), obj.get("apiVersion"))
    prefix = _PREFIXES.get(key)
    if prefix is None:
        prefix = _PREFIXES[key] = dumps({"kind": key[0], "apiVersion": key[1]})[:-1] + b","
    return prefix


class Entry:
    """One stored version of an object, serialized on first use and kept in one form only:
    built-in types in their list-item form (without kind and apiVersion), others whole."""

    __slots__ = ("obj", "_json", "_builtin")

    def __init__(self, obj: dict, builtin: bool = False):
        self.obj = obj
        self._json: bytes | None = None
        self._builtin = builtin

    def _serialized(self) -> bytes:
        if self._json is None:
            full = dumps(self.obj)
            prefix = _kind_prefix(self.obj)
            if self._builtin and full.startswith(prefix):
                full = b"{" + full[len(prefix) :]
            self._json = full
        return self._json

    @property
    def body(self) -> bytes:
        serialized = self._serialized()
        if serialized.startswith(b'{"kind":'):
            return serialized
        return _kind_prefix(self.obj) + serialized[1:]

    def list_item(self, resource: ResourceType) -> bytes:
        """Lists of built-in types carry items without kind and apiVersion."""
        serialized = self._serialized()
        if not resource.builtin and not serialized.startswith(b'{"kind":'):
            return _kind_prefix(self.obj) + serialized[1:]
        return serialized

    @property
    def namespace(self) -> str:
        return self.obj["metadata"].get("namespace", "")

    @property
    def name(self) -> str:
        return self.obj["metadata"]["name"]

    @property
    def resource_version(self) -> int:
        return int(self.obj["metadata"]["resourceVersion"])


class WatchEvent:
    __slots__ = ("type", "entry", "old", "rv", "_line")

    def __init__(self, event_type: str, entry: Entry, old: Entry | None, rv: int):
        self.type = event_type
        self.entry = entry
        self.old = old
        self.rv = rv
        self._line: bytes | None = None

    def line(self) -> bytes:
        if self._line is None:
            self._line = (
                b'{"type":"' + self.type.encode() + b'","object":' + self.entry.body + b"}\n"
            )
        return self._line

    def retyped(self, event_type: str) -> "WatchEvent":
        return WatchEvent(event_type, self.entry, self.old, self.rv)


class Watcher:
    """One open watch: a queue of events that passed its namespace and selector filters."""

    def __init__(self, resource: ResourceType, namespace: str | None, matcher):
        self.resource = resource
        self.namespace = namespace
        self.matcher: Callable[[dict], bool] | None = matcher
        self.queue: asyncio.Queue = asyncio.Queue()
        self.closed = False

    def _matches(self, entry: Entry | None) -> bool:
        if entry is None:
            return False
        if self.namespace and entry.namespace != self.namespace:
            return False
        return self.matcher is None or self.matcher(entry.obj)

    def offer(self, event: WatchEvent) -> None:
        if self.closed:
            return
        now = self._matches(event.entry)
        if event.type != "MODIFIED":
            if now:
                self._put(event)
            return
        before = self._matches(event.old)
        if now and before:
            self._put(event)
        elif now:
            self._put(event.retyped("ADDED"))
        elif before:
            self._put(event.retyped("DELETED"))

    def _put(self, event: WatchEvent) -> None:
        if self.queue.qsize() >= WATCH_QUEUE_LIMIT:
            self.close()
            return
        self.queue.put_nowait(event)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.queue.put_nowait(None)


class Store:
    def __init__(self, registry: Registry, history_size: int = 1000):
        self.registry = registry
        self.rv = 0
        self._objects: dict[tuple, dict[str, dict[str, Entry]]] = {}
        self._history: dict[tuple, deque] = {}
        self._floor: dict[tuple, int] = {}
        self._watchers: dict[tuple, set[Watcher]] = {}
        self._listeners: list[Callable[[ResourceType, WatchEvent], None]] = []
        for resource in registry.types:
            self._objects[resource.key] = {}
            self._history[resource.key] = deque(maxlen=resource.watch_history or history_size)
            self._floor[resource.key] = 0
            self._watchers[resource.key] = set()

    # Reads -------------------------------------------------------------------------------

    def get(self, resource: ResourceType, namespace: str, name: str) -> Entry | None:
        return self._objects[resource.key].get(namespace, {}).get(name)

    def items(self, resource: ResourceType, namespace: str | None = None) -> list[Entry]:
        by_namespace = self._objects[resource.key]
        if namespace is not None:
            names = by_namespace.get(namespace, {})
            return [names[name] for name in sorted(names)]
        return [
            names[name]
            for ns in sorted(by_namespace)
            for names in (by_namespace[ns],)
            for name in sorted(names)
        ]

    def count(self, resource: ResourceType) -> int:
        return sum(len(names) for names in self._objects[resource.key].values())

    # Writes ------------------------------------------------------------------------------

    def put(self, resource: ResourceType, obj: dict) -> Entry:
        """Create or replace an object; the store takes ownership of `obj`."""
        metadata = obj.setdefault("metadata", {})
        namespace = metadata.get("namespace", "") if resource.namespaced else ""
        names = self._objects[resource.key].setdefault(namespace, {})
        old = names.get(metadata["name"])
        self.rv += 1
        metadata["resourceVersion"] = str(self.rv)
        entry = Entry(ordered_object(obj, resource.kind, resource.api_version), resource.builtin)
        names[metadata["name"]] = entry
        self._publish(resource, WatchEvent("MODIFIED" if old else "ADDED", entry, old, self.rv))
        return entry

    def remove(self, resource: ResourceType, namespace: str, name: str) -> Entry | None:
        names = self._objects[resource.key].get(namespace if resource.namespaced else "", {})
        old = names.pop(name, None)
        if old is None:
            return None
        self.rv += 1
        final = dict(old.obj)
        final["metadata"] = {**old.obj["metadata"], "resourceVersion": str(self.rv)}
        entry = Entry(final, resource.builtin)
        self._publish(resource, WatchEvent("DELETED", entry, old, self.rv))
        return entry

    def _publish(self, resource: ResourceType, event: WatchEvent) -> None:
        history = self._history[resource.key]
        if len(history) == history.maxlen:
            self._floor[resource.key] = history[0].rv
        history.append(event)
        for watcher in list(self._watchers[resource.key]):
            watcher.offer(event)
        for listener in self._listeners:
            listener(resource, event)

    # Watch -------------------------------------------------------------------------------

    def mark_history_floor(self) -> None:
        """Watches from a resourceVersion older than now will be answered 410 Expired."""
        for key in self._floor:
            self._history[key].clear()
            self._floor[key] = self.rv

    def subscribe(self, listener: Callable[[ResourceType, WatchEvent], None]) -> None:
        self._listeners.append(listener)

    def open_watch(
        self,
        resource: ResourceType,
        namespace: str | None,
        matcher,
        since: int | None,
    ) -> Watcher:
        """Register a watcher and queue what it must see first.

        since=None replays the current state as ADDED events; otherwise every event after
        `since` is replayed, or 410 Expired is raised when history no longer reaches back.
        """
        watcher = Watcher(resource, namespace, matcher)
        if since is None:
            for entry in self.items(resource, namespace or None):
                watcher.offer(WatchEvent("ADDED", entry, None, entry.resource_version))
        else:
            floor = self._floor[resource.key]
            if since < floor:
                raise expired(f"too old resource version: {since} ({floor})")
            for event in self._history[resource.key]:
                if event.rv > since:
                    watcher.offer(event)
        self._watchers[resource.key].add(watcher)
        return watcher

    def close_watch(self, watcher: Watcher) -> None:
        self._watchers[watcher.resource.key].discard(watcher)
        watcher.close()

    def close_all_watches(self) -> None:
        for watchers in self._watchers.values():
            for watcher in list(watchers):
                watcher.close()
            watchers.clear()
