"""`Table` responses (meta.k8s.io/v1), which kubectl asks for to print `get` output."""

from labsim.meta import age

_NAME_COLUMN = {
    "name": "Name",
    "type": "string",
    "format": "name",
    "description": "Name must be unique within a namespace. Is required when creating "
    "resources, although some resources may allow a client to request the generation of an "
    "appropriate name automatically. Name is primarily intended for creation idempotence and "
    "configuration definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
    "priority": 0,
}
_AGE_COLUMN = {
    "name": "Age",
    "type": "string",
    "format": "",
    "description": "CreationTimestamp is a timestamp representing the server time when this "
    "object was created.",
    "priority": 0,
}


def _column(name: str, kind: str = "string", priority: int = 0, description: str = "") -> dict:
    return {
        "name": name,
        "type": kind,
        "format": "",
        "description": description,
        "priority": priority,
    }


def _pod_row(pod: dict) -> list:
    status = pod.get("status") or {}
    statuses = status.get("containerStatuses") or []
    containers = (pod.get("spec") or {}).get("containers") or []
    ready = sum(1 for s in statuses if s.get("ready"))
    reason = status.get("reason") or status.get("phase", "Pending")
    for container_status in statuses:
        waiting = (container_status.get("state") or {}).get("waiting")
        if waiting and waiting.get("reason"):
            reason = waiting["reason"]
    if pod["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    restarts = sum(s.get("restartCount", 0) for s in statuses)
    nominated = status.get("nominatedNodeName") or "<none>"
    return [
        pod["metadata"]["name"],
        f"{ready}/{len(containers)}",
        reason,
        restarts,
        age(pod["metadata"].get("creationTimestamp")),
        status.get("podIP") or "<none>",
        (pod.get("spec") or {}).get("nodeName") or "<none>",
        nominated,
        "<none>",
    ]


def _node_row(node: dict) -> list:
    conditions = (node.get("status") or {}).get("conditions") or []
    ready = next((c for c in conditions if c.get("type") == "Ready"), {})
    state = "Ready" if ready.get("status") == "True" else "NotReady"
    if (node.get("spec") or {}).get("unschedulable"):
        state += ",SchedulingDisabled"
    labels = node["metadata"].get("labels") or {}
    roles = (
        ",".join(
            sorted(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/"))
        )
        or "<none>"
    )
    info = (node.get("status") or {}).get("nodeInfo") or {}
    addresses = {a["type"]: a["address"] for a in (node.get("status") or {}).get("addresses") or []}
    return [
        node["metadata"]["name"],
        state,
        roles,
        age(node["metadata"].get("creationTimestamp")),
        info.get("kubeletVersion", ""),
        addresses.get("InternalIP", "<none>"),
        "<none>",
        info.get("osImage", ""),
        info.get("kernelVersion", ""),
        info.get("containerRuntimeVersion", ""),
    ]


def _daemonset_row(ds: dict) -> list:
    status = ds.get("status") or {}
    selector = ((ds.get("spec") or {}).get("template") or {}).get("spec", {}).get("nodeSelector")
    return [
        ds["metadata"]["name"],
        status.get("desiredNumberScheduled", 0),
        status.get("currentNumberScheduled", 0),
        status.get("numberReady", 0),
        status.get("updatedNumberScheduled", 0),
        status.get("numberAvailable", 0),
        ",".join(f"{k}={v}" for k, v in (selector or {}).items()) or "<none>",
        age(ds["metadata"].get("creationTimestamp")),
    ]


def _deployment_row(deployment: dict) -> list:
    status = deployment.get("status") or {}
    replicas = (deployment.get("spec") or {}).get("replicas", 1)
    return [
        deployment["metadata"]["name"],
        f"{status.get('readyReplicas', 0)}/{replicas}",
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
        age(deployment["metadata"].get("creationTimestamp")),
    ]


def _event_row(event: dict) -> list:
    involved = event.get("involvedObject") or {}
    return [
        age(event.get("lastTimestamp")),
        event.get("type", ""),
        event.get("reason", ""),
        f"{(involved.get('kind') or '').lower()}/{involved.get('name', '')}",
        event.get("message", ""),
    ]


def _namespace_row(namespace: dict) -> list:
    return [
        namespace["metadata"]["name"],
        (namespace.get("status") or {}).get("phase", ""),
        age(namespace["metadata"].get("creationTimestamp")),
    ]


_LAYOUTS = {
    ("", "pods"): (
        [
            _NAME_COLUMN,
            _column("Ready"),
            _column("Status"),
            _column("Restarts", "string"),
            _AGE_COLUMN,
            _column("IP", priority=1),
            _column("Node", priority=1),
            _column("Nominated Node", priority=1),
            _column("Readiness Gates", priority=1),
        ],
        _pod_row,
    ),
    ("", "nodes"): (
        [
            _NAME_COLUMN,
            _column("Status"),
            _column("Roles"),
            _AGE_COLUMN,
            _column("Version"),
            _column("Internal-IP", priority=1),
            _column("External-IP", priority=1),
            _column("OS-Image", priority=1),
            _column("Kernel-Version", priority=1),
            _column("Container-Runtime", priority=1),
        ],
        _node_row,
    ),
    ("apps", "daemonsets"): (
        [
            _NAME_COLUMN,
            _column("Desired", "integer"),
            _column("Current", "integer"),
            _column("Ready", "integer"),
            _column("Up-to-date", "integer"),
            _column("Available", "integer"),
            _column("Node Selector"),
            _AGE_COLUMN,
        ],
        _daemonset_row,
    ),
    ("apps", "deployments"): (
        [
            _NAME_COLUMN,
            _column("Ready"),
            _column("Up-to-date", "integer"),
            _column("Available", "integer"),
            _AGE_COLUMN,
        ],
        _deployment_row,
    ),
    ("", "events"): (
        [
            _column("Last Seen"),
            _column("Type"),
            _column("Reason"),
            _column("Object"),
            _column("Message"),
        ],
        _event_row,
    ),
    ("", "namespaces"): ([_NAME_COLUMN, _column("Status"), _AGE_COLUMN], _namespace_row),
}


def _default_row(obj: dict) -> list:
    return [obj["metadata"]["name"], age(obj["metadata"].get("creationTimestamp"))]


def wants_table(accept: str) -> bool:
    return "as=Table" in accept


def table(
    resource,
    objects: list[dict],
    resource_version: str,
    include_object: str,
    continue_token: str = "",
) -> dict:
    columns, row_for = _LAYOUTS.get(resource.key, ([_NAME_COLUMN, _AGE_COLUMN], _default_row))
    rows = []
    for obj in objects:
        row = {"cells": row_for(obj)}
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj["metadata"],
            }
        rows.append(row)
    metadata = {"resourceVersion": resource_version}
    if continue_token:
        metadata["continue"] = continue_token
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": columns,
        "rows": rows,
    }
