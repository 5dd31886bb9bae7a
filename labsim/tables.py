"""`Table` responses (meta.k8s.io/v1), which kubectl asks for to print `get` output: the
columns kube-apiserver defines for each kind, and its rows."""

import functools
import json
from pathlib import Path

from labsim.meta import age

COLUMNS = Path(__file__).parent / "data" / "table-columns.json"


@functools.lru_cache(maxsize=1)
def _recorded_columns() -> dict:
    """Column definitions as kube-apiserver serves them (recorded by
    tests/labsim/realk8s/record.py)."""
    return json.loads(COLUMNS.read_text())


def _list(values) -> str:
    return ",".join(values) or "<none>"


def _labels(labels: dict | None) -> str:
    return ",".join(f"{k}={v}" for k, v in (labels or {}).items()) or "<none>"


def _selector(selector: dict | None) -> str:
    selector = selector or {}
    parts = [f"{k}={v}" for k, v in (selector.get("matchLabels") or {}).items()]
    for expression in selector.get("matchExpressions") or []:
        values = ",".join(expression.get("values") or [])
        parts.append(f"{expression.get('key')} {expression.get('operator', '').lower()} ({values})")
    return ",".join(parts) or "<none>"


def _containers(template: dict) -> list[dict]:
    return ((template or {}).get("spec") or {}).get("containers") or []


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
    spec = ds.get("spec") or {}
    template = spec.get("template") or {}
    containers = _containers(template)
    return [
        ds["metadata"]["name"],
        status.get("desiredNumberScheduled", 0),
        status.get("currentNumberScheduled", 0),
        status.get("numberReady", 0),
        status.get("updatedNumberScheduled", 0),
        status.get("numberAvailable", 0),
        _labels((template.get("spec") or {}).get("nodeSelector")),
        age(ds["metadata"].get("creationTimestamp")),
        _list(c.get("name", "") for c in containers),
        _list(c.get("image", "") for c in containers),
        _selector(spec.get("selector")),
    ]


def _deployment_row(deployment: dict) -> list:
    status = deployment.get("status") or {}
    spec = deployment.get("spec") or {}
    containers = _containers(spec.get("template"))
    return [
        deployment["metadata"]["name"],
        f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
        age(deployment["metadata"].get("creationTimestamp")),
        _list(c.get("name", "") for c in containers),
        _list(c.get("image", "") for c in containers),
        _selector(spec.get("selector")),
    ]


def _event_row(event: dict) -> list:
    involved = event.get("involvedObject") or {}
    source = event.get("source") or {}
    origin = source.get("component") or event.get("reportingComponent") or ""
    if source.get("host"):
        origin = f"{origin}, {source['host']}"
    last = event.get("lastTimestamp") or event.get("eventTime")
    first = event.get("firstTimestamp") or event.get("eventTime")
    return [
        age(last),
        event.get("type", ""),
        event.get("reason", ""),
        f"{(involved.get('kind') or '').lower()}/{involved.get('name', '')}",
        involved.get("fieldPath", ""),
        origin,
        event.get("message", ""),
        age(first),
        event.get("count", 1),
        event["metadata"]["name"],
    ]


def _podtemplate_row(template: dict) -> list:
    inner = template.get("template") or {}
    containers = _containers(inner)
    return [
        template["metadata"]["name"],
        _list(c.get("name", "") for c in containers),
        _list(c.get("image", "") for c in containers),
        _labels((inner.get("metadata") or {}).get("labels")),
    ]


def _configmap_row(configmap: dict) -> list:
    count = len(configmap.get("data") or {}) + len(configmap.get("binaryData") or {})
    return [
        configmap["metadata"]["name"],
        count,
        age(configmap["metadata"].get("creationTimestamp")),
    ]


def _service_port(port: dict) -> str:
    text = str(port.get("port"))
    if port.get("nodePort"):
        text += f":{port['nodePort']}"
    return f"{text}/{port.get('protocol', 'TCP')}"


def _service_row(service: dict) -> list:
    spec = service.get("spec") or {}
    external = ",".join(spec.get("externalIPs") or []) or "<none>"
    return [
        service["metadata"]["name"],
        spec.get("type", "ClusterIP"),
        spec.get("clusterIP") or "<none>",
        external,
        ",".join(_service_port(p) for p in spec.get("ports") or []) or "<none>",
        age(service["metadata"].get("creationTimestamp")),
        _labels(spec.get("selector")),
    ]


def _serviceaccount_row(account: dict) -> list:
    return [
        account["metadata"]["name"],
        len(account.get("secrets") or []),
        age(account["metadata"].get("creationTimestamp")),
    ]


def _namespace_row(namespace: dict) -> list:
    return [
        namespace["metadata"]["name"],
        (namespace.get("status") or {}).get("phase", ""),
        age(namespace["metadata"].get("creationTimestamp")),
    ]


_ROWS = {
    ("", "pods"): _pod_row,
    ("", "nodes"): _node_row,
    ("", "events"): _event_row,
    ("", "namespaces"): _namespace_row,
    ("", "podtemplates"): _podtemplate_row,
    ("", "configmaps"): _configmap_row,
    ("", "services"): _service_row,
    ("", "serviceaccounts"): _serviceaccount_row,
    ("apps", "daemonsets"): _daemonset_row,
    ("apps", "deployments"): _deployment_row,
}
# Kinds without a printer of their own get name and creation time.
_DEFAULT_COLUMNS = [
    {"name": "Name", "type": "string", "format": "name", "description": "", "priority": 0},
    {"name": "Created At", "type": "date", "format": "", "description": "", "priority": 0},
]


def _layout(resource):
    columns = _recorded_columns()
    if not resource.builtin:
        return columns["custom"], _default_row
    key = f"{resource.group}/{resource.plural}" if resource.group else resource.plural
    if key in columns and resource.key in _ROWS:
        return columns[key], _ROWS[resource.key]
    return _DEFAULT_COLUMNS, _default_row


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
    columns, row_for = _layout(resource)
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
