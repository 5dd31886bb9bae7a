"""Events as components record them: repeats of the same event bump count and lastTimestamp."""

from labsim.meta import event_name, new_uid, now_rfc3339
from labsim.store import Store


class EventRecorder:
    def __init__(self, store: Store):
        self.store = store
        self.resource = store.registry.by_key("", "events")
        # involved uid -> (reason, message, component) -> (namespace, event name)
        self._latest: dict[str, dict[tuple, tuple[str, str]]] = {}
        # Stored objects are never mutated, so events share equal sub-objects.
        self._sources: dict[tuple, dict] = {}
        self._involved: dict[str, tuple[str, dict]] = {}

    def record(
        self,
        involved: dict,
        event_type: str,
        reason: str,
        message: str,
        component: str,
        host: str | None = None,
        field_path: str | None = None,
    ) -> None:
        metadata = involved["metadata"]
        namespace = metadata.get("namespace") or "default"
        key = (reason, message, component)
        now = now_rfc3339()
        known = self._latest.get(metadata.get("uid"), {}).get(key)
        existing = self.store.get(self.resource, *known) if known else None
        if existing is not None:
            event = {**existing.obj, "metadata": dict(existing.obj["metadata"])}
            event["count"] = existing.obj.get("count", 1) + 1
            event["lastTimestamp"] = now
            self.store.put(self.resource, event)
            return
        source = self._source(component, host)
        involved_ref = self._reference(involved)
        if field_path:
            involved_ref = {**involved_ref, "fieldPath": field_path}
        name = event_name(metadata["name"])
        event = {
            "kind": "Event",
            "apiVersion": "v1",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "uid": new_uid(),
                "creationTimestamp": now,
            },
            "involvedObject": involved_ref,
            "reason": reason,
            "message": message,
            "source": source,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "type": event_type,
            "eventTime": None,
            "reportingComponent": component,
            "reportingInstance": host or "",
        }
        self.store.put(self.resource, event)
        self._latest.setdefault(metadata.get("uid"), {})[key] = (namespace, name)

    def forget(self, uid: str) -> None:
        self._latest.pop(uid, None)
        self._involved.pop(uid, None)

    def _source(self, component: str, host: str | None) -> dict:
        source = self._sources.get((component, host))
        if source is None:
            source = {"component": component}
            if host:
                source["host"] = host
            self._sources[(component, host)] = source
        return source

    def _reference(self, involved: dict) -> dict:
        metadata = involved["metadata"]
        uid = metadata.get("uid") or ""
        version = metadata.get("resourceVersion") or ""
        cached = self._involved.get(uid)
        if cached is not None and cached[0] == version:
            return cached[1]
        reference = {
            "kind": involved.get("kind"),
            "namespace": metadata.get("namespace"),
            "name": metadata["name"],
            "uid": uid,
            "apiVersion": involved.get("apiVersion"),
            "resourceVersion": version,
        }
        if not reference["namespace"]:
            del reference["namespace"]
        self._involved[uid] = (version, reference)
        return reference
