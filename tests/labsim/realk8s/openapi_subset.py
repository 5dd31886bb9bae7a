"""The part of a real server's /openapi/v2 that covers the built-in kinds the lab serves, and the
part that covers the NAD custom resource (which the lab builds itself from its CRDs)."""

from __future__ import annotations

# (API prefix, plural) of the built-in resources the lab serves, with the subresources it serves.
BUILT_IN = {
    ("/api/v1", "namespaces"): ("status",),
    ("/api/v1", "nodes"): ("status",),
    ("/api/v1", "pods"): ("status", "exec", "log"),
    ("/api/v1", "events"): (),
    ("/api/v1", "podtemplates"): (),
    ("/api/v1", "configmaps"): (),
    ("/api/v1", "services"): ("status",),
    ("/api/v1", "serviceaccounts"): (),
    ("/apis/apps/v1", "daemonsets"): ("status",),
    ("/apis/apps/v1", "deployments"): ("status",),
    ("/apis/coordination.k8s.io/v1", "leases"): (),
    ("/apis/apiextensions.k8s.io/v1", "customresourcedefinitions"): ("status",),
    ("/apis/authorization.k8s.io/v1", "selfsubjectaccessreviews"): (),
}
NAD_PREFIX = "/apis/k8s.cni.cncf.io/"


def _served(path: str) -> bool:
    for (prefix, plural), subresources in BUILT_IN.items():
        if not path.startswith(prefix + "/"):
            continue
        parts = path[len(prefix) + 1 :].split("/")
        if parts[0] == "watch":
            return False
        if parts[0] == "namespaces" and len(parts) >= 3 and plural != "namespaces":
            parts = parts[2:]
        if parts[0] != plural:
            continue
        rest = parts[1:]
        if not rest or rest == ["{name}"]:
            return True
        if len(rest) == 2 and rest[0] == "{name}" and rest[1] in subresources:
            return True
    return False


def _references(value, definitions: dict, found: set) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            if key == "$ref" and isinstance(child, str):
                name = child.rsplit("/", 1)[-1]
                if name not in found:
                    found.add(name)
                    _references(definitions[name], definitions, found)
            else:
                _references(child, definitions, found)
    elif isinstance(value, list):
        for child in value:
            _references(child, definitions, found)


def _closure(paths: dict, definitions: dict, extra: tuple = ()) -> dict:
    found: set = set(extra)
    for name in extra:
        _references(definitions[name], definitions, found)
    _references(paths, definitions, found)
    return {name: definitions[name] for name in sorted(found)}


def subset(document: dict) -> tuple[dict, dict]:
    """(the built-in part, the NAD part) of a full /openapi/v2 document."""
    definitions = document["definitions"]
    paths = {path: item for path, item in document["paths"].items() if _served(path)}
    # Kinds kubectl explains without a path of their own (list kinds, Status, WatchEvent).
    extra = tuple(
        name
        for name in definitions
        if name.endswith(("v1.Status", "v1.WatchEvent", "v1.DeleteOptions"))
        and name.startswith("io.k8s.apimachinery.pkg.apis.meta.")
    )
    served = {
        "swagger": document["swagger"],
        "info": document["info"],
        "paths": paths,
        "definitions": _closure(paths, definitions, extra),
    }
    nad_paths = {
        path: item for path, item in document["paths"].items() if path.startswith(NAD_PREFIX)
    }
    nad_definitions = {
        name: definitions[name] for name in definitions if name.startswith("io.cncf.cni.k8s.")
    }
    return served, {"paths": nad_paths, "definitions": nad_definitions}
