"""What Rail Studio asks of a Kubernetes API server, as scripted requests, and how answers are
compared: recorded once against a real kube-apiserver (record.py; not run in CI) and replayed
against the lab in the suite (test_lab_vs_realk8s.py).

A scenario is a list of steps run in order on a fresh server. Answers are normalised before they
are compared: uids, timestamps and generated names become placeholders, and each distinct
resourceVersion becomes "rv1", "rv2", ... in order of appearance, so "the same resourceVersion as
before" (a no-op write) still shows. Where the lab (which reports Kubernetes 1.30) legitimately
differs from 1.20, the scenario's DIFFERENCES say which fields and why; the recorded fixture
carries the same notes.
"""

from __future__ import annotations

import copy
import json
import re
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

NS = "fixture"
APPLY = "application/apply-patch+yaml"
MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
SSA = [("fieldManager", "railstudio"), ("force", "true")]
DRY = [("dryRun", "All")]
NAD_PATH = f"/apis/k8s.cni.cncf.io/v1/namespaces/{NS}/network-attachment-definitions"


@dataclass
class Step:
    id: str
    method: str
    path: str
    query: list = field(default_factory=list)
    body: object = None
    content_type: str = "application/json"
    accept: str = "application/json"
    watch_seconds: int = 0  # a watch: read events for this long (timeoutSeconds)
    since: str = ""  # a watch from the resourceVersion of this earlier step's answer

    def to_dict(self) -> dict:
        data = {
            "id": self.id,
            "method": self.method,
            "path": self.path,
            "query": [list(pair) for pair in self.query],
        }
        if self.body is not None:
            data["body"] = self.body
            data["content_type"] = self.content_type
        if self.accept != "application/json":
            data["accept"] = self.accept
        if self.watch_seconds:
            data["watch_seconds"] = self.watch_seconds
            data["since"] = self.since
        return data


def nad(config: dict | str, name: str = "sriov-rail-0", labels: dict | None = None) -> dict:
    metadata = {
        "name": name,
        "namespace": NS,
        "labels": labels
        or {"app.kubernetes.io/managed-by": "railstudio", "railstudio.io/plan": "fixture"},
        "annotations": {"k8s.v1.cni.cncf.io/resourceName": "nvidia.com/rail0_vf"},
    }
    text = config if isinstance(config, str) else json.dumps(config, indent=2)
    return {
        "apiVersion": "k8s.cni.cncf.io/v1",
        "kind": "NetworkAttachmentDefinition",
        "metadata": metadata,
        "spec": {"config": text},
    }


NAD_CONFIG = {
    "cniVersion": "0.3.1",
    "name": "sriov-rail-0",
    "type": "sriov",
    "ipam": {"type": "whereabouts", "range": "10.50.0.0/16", "exclude": ["10.50.0.0/24"]},
}
CHANGED_CONFIG = {**NAD_CONFIG, "ipam": {**NAD_CONFIG["ipam"], "range": "10.60.0.0/16"}}


def container(name: str = "trainer", **extra) -> dict:
    return {
        "name": name,
        "image": "nvcr.io/nvidia/pytorch:24.04-py3",
        "command": ["sleep", "infinity"],
        "securityContext": {"capabilities": {"add": ["IPC_LOCK"]}},
        "resources": {"limits": {"nvidia.com/gpu": "8", "nvidia.com/rail0_vf": "1"}},
        **extra,
    }


def pod_template(name: str = "training-worker", image: str | None = None) -> dict:
    spec_container = container()
    if image:
        spec_container["image"] = image
    return {
        "apiVersion": "v1",
        "kind": "PodTemplate",
        "metadata": {
            "name": name,
            "namespace": NS,
            "labels": {"app.kubernetes.io/managed-by": "railstudio"},
        },
        "template": {
            "metadata": {
                "annotations": {
                    "k8s.v1.cni.cncf.io/networks": '[{"name":"sriov-rail-0","interface":"net1"}]'
                }
            },
            "spec": {"containers": [spec_container]},
        },
    }


def pod(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "containers": [
                container(
                    resources={"limits": {"cpu": "2", "memory": "1Gi", "nvidia.com/gpu": "8"}}
                ),
                {"name": "sidecar", "image": "busybox", "resources": {"requests": {"cpu": "100m"}}},
            ],
            "initContainers": [{"name": "init", "image": "busybox:1.36"}],
        },
    }


def deployment() -> dict:
    labels = {"app": "trainer"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "trainer", "namespace": NS},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container()]}},
        },
    }


def daemonset() -> dict:
    labels = {"app": "agent"}
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "agent", "namespace": NS},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"hostNetwork": True, "containers": [{"name": "agent", "image": "a:1"}]},
            },
        },
    }


def event() -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "trainer.1", "namespace": NS},
        "involvedObject": {"kind": "Pod", "namespace": NS, "name": "trainer", "apiVersion": "v1"},
        "reason": "FailedCreatePodSandBox",
        "message": "no VF",
        "type": "Warning",
        "source": {"component": "kubelet", "host": "gpu-node-0"},
        "firstTimestamp": "2024-01-01T00:00:00Z",
        "lastTimestamp": "2024-01-01T00:00:05Z",
        "count": 2,
    }


def service() -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "trainer", "namespace": NS},
        "spec": {"selector": {"app": "trainer"}, "ports": [{"port": 29500}]},
    }


def namespaced(plural: str, name: str = "", group: str = "") -> str:
    prefix = f"/apis/{group}" if group else "/api/v1"
    return f"{prefix}/namespaces/{NS}/{plural}" + (f"/{name}" if name else "")


def _apply(step_id, path, body, *, dry=False, query=None) -> Step:
    return Step(step_id, "PATCH", path, (query or SSA) + (DRY if dry else []), body, APPLY)


NAMESPACE_BODY = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}

SCENARIOS: dict[str, list[Step]] = {
    # Server-side apply as a rollout does it: create, no-op, change, with and without dryRun.
    "apply": [
        _apply("namespace-dry-run", f"/api/v1/namespaces/{NS}", NAMESPACE_BODY, dry=True),
        _apply("namespace", f"/api/v1/namespaces/{NS}", NAMESPACE_BODY),
        _apply("namespace-again", f"/api/v1/namespaces/{NS}", NAMESPACE_BODY),
        _apply("nad-create-dry-run", f"{NAD_PATH}/sriov-rail-0", nad(NAD_CONFIG), dry=True),
        _apply("nad-create", f"{NAD_PATH}/sriov-rail-0", nad(NAD_CONFIG)),
        _apply("nad-noop-dry-run", f"{NAD_PATH}/sriov-rail-0", nad(NAD_CONFIG), dry=True),
        _apply("nad-noop", f"{NAD_PATH}/sriov-rail-0", nad(NAD_CONFIG)),
        _apply("nad-change-dry-run", f"{NAD_PATH}/sriov-rail-0", nad(CHANGED_CONFIG), dry=True),
        Step("nad-after-dry-run", "GET", f"{NAD_PATH}/sriov-rail-0"),
        _apply("nad-change", f"{NAD_PATH}/sriov-rail-0", nad(CHANGED_CONFIG)),
        # Someone rewrites the config as compact JSON (same data), as `kubectl edit` might.
        Step(
            "nad-rewrite",
            "PATCH",
            f"{NAD_PATH}/sriov-rail-0",
            [("fieldManager", "kubectl-edit")],
            {"spec": {"config": json.dumps(CHANGED_CONFIG, separators=(",", ":"))}},
            MERGE,
        ),
        _apply("nad-reapply-dry-run", f"{NAD_PATH}/sriov-rail-0", nad(CHANGED_CONFIG), dry=True),
        _apply(
            "nad-conflict",
            f"{NAD_PATH}/sriov-rail-0",
            nad(NAD_CONFIG),
            query=[("fieldManager", "someone-else")],
        ),
        _apply("template-create", namespaced("podtemplates", "training-worker"), pod_template()),
        _apply(
            "template-noop-dry-run",
            namespaced("podtemplates", "training-worker"),
            pod_template(),
            dry=True,
        ),
        _apply("template-noop", namespaced("podtemplates", "training-worker"), pod_template()),
        _apply(
            "template-change",
            namespaced("podtemplates", "training-worker"),
            pod_template(image="nvcr.io/nvidia/pytorch:24.05-py3"),
        ),
        Step("nad-delete-dry-run", "DELETE", f"{NAD_PATH}/sriov-rail-0", DRY),
        Step("nad-delete", "DELETE", f"{NAD_PATH}/sriov-rail-0"),
        Step("nad-gone", "GET", f"{NAD_PATH}/sriov-rail-0"),
    ],
    # The defaults the server fills in for each built-in kind the product or the lab writes.
    "defaults": [
        _apply("namespace", f"/api/v1/namespaces/{NS}", NAMESPACE_BODY),
        Step("pod-dry-run", "POST", namespaced("pods"), DRY, pod("trainer")),
        Step(
            "configmap",
            "POST",
            namespaced("configmaps"),
            [],
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "settings", "namespace": NS},
                "data": {"a": "1"},
            },
        ),  # fmt: skip
        Step("deployment", "POST", namespaced("deployments", group="apps/v1"), [], deployment()),
        Step("daemonset", "POST", namespaced("daemonsets", group="apps/v1"), [], daemonset()),
        Step("event", "POST", namespaced("events"), [], event()),
        Step("service", "POST", namespaced("services"), [], service()),
        Step(
            "serviceaccount",
            "POST",
            namespaced("serviceaccounts"),
            [],
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": "trainer", "namespace": NS},
            },
        ),  # fmt: skip
        Step("kubernetes-service", "GET", "/api/v1/namespaces/default/services/kubernetes"),
        Step(
            "access-review",
            "POST",
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            [],
            {
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SelfSubjectAccessReview",
                "spec": {
                    "resourceAttributes": {"namespace": NS, "verb": "list", "resource": "pods"}
                },
            },
        ),
    ],
    # Status bodies of the error paths the product meets.
    "errors": [
        _apply("namespace", f"/api/v1/namespaces/{NS}", NAMESPACE_BODY),
        Step("get-missing", "GET", f"{NAD_PATH}/missing"),
        Step("get-missing-builtin", "GET", namespaced("podtemplates", "missing")),
        Step(
            "create-in-missing-namespace",
            "POST",
            "/api/v1/namespaces/nowhere/configmaps",
            [],
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}},
        ),
        _apply(
            "apply-in-missing-namespace",
            "/apis/k8s.cni.cncf.io/v1/namespaces/nowhere/network-attachment-definitions/x",
            {**nad(NAD_CONFIG, "x"), "metadata": {"name": "x", "namespace": "nowhere"}},
        ),
        Step(
            "create-configmap",
            "POST",
            namespaced("configmaps"),
            [],
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "x"},
            },
        ),  # fmt: skip
        Step(
            "create-again",
            "POST",
            namespaced("configmaps"),
            [],
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "x"},
            },
        ),  # fmt: skip
        Step(
            "update-stale",
            "PUT",
            namespaced("configmaps", "x"),
            [],
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "x", "resourceVersion": "1"},
                "data": {"a": "b"},
            },
        ),  # fmt: skip
        _apply("invalid-name", f"{NAD_PATH}/Bad_Name", nad(NAD_CONFIG, "Bad_Name")),
        _apply(
            "bad-dry-run",
            f"{NAD_PATH}/sriov-rail-0",
            nad(NAD_CONFIG),
            query=SSA
            + [
                ("dryRun", "Some"),
            ],
        ),  # fmt: skip
        _apply("apply-without-manager", f"{NAD_PATH}/sriov-rail-0", nad(NAD_CONFIG), query=[]),
        _apply("apply-name-mismatch", f"{NAD_PATH}/other", nad(NAD_CONFIG)),
        Step(
            "strategic-patch-on-custom-resource",
            "PATCH",
            f"{NAD_PATH}/sriov-rail-0",
            [],
            {"metadata": {"labels": {"a": "b"}}},
            STRATEGIC,
        ),
        Step(
            "delete-precondition",
            "DELETE",
            namespaced("configmaps", "x"),
            [],
            {"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {"uid": "0000"}},
        ),
        Step("delete-namespace", "DELETE", f"/api/v1/namespaces/{NS}"),
        Step(
            "create-in-terminating-namespace",
            "POST",
            namespaced("configmaps"),
            [],
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "late"},
            },
        ),  # fmt: skip
    ],
    # Lists, paging, watches, events and the tables kubectl prints.
    "lists": [
        _apply("namespace", f"/api/v1/namespaces/{NS}", NAMESPACE_BODY),
        _apply("nad-0", f"{NAD_PATH}/sriov-rail-0", nad(NAD_CONFIG)),
        _apply("nad-1", f"{NAD_PATH}/sriov-rail-1", nad(NAD_CONFIG, "sriov-rail-1")),
        _apply("template", namespaced("podtemplates", "training-worker"), pod_template()),
        Step("list-nads", "GET", NAD_PATH),
        Step(
            "list-nads-by-label",
            "GET",
            "/apis/k8s.cni.cncf.io/v1/network-attachment-definitions",
            [
                (
                    "labelSelector",
                    "app.kubernetes.io/managed-by=railstudio,railstudio.io/plan=fixture",
                )
            ],
        ),
        Step("list-nads-page", "GET", NAD_PATH, [("limit", "1")]),
        Step("list-templates", "GET", namespaced("podtemplates")),
        Step("event", "POST", namespaced("events"), [], event()),
        Step(
            "list-warnings",
            "GET",
            namespaced("events"),
            [("fieldSelector", "type=Warning,involvedObject.name=trainer")],
        ),
        _apply("nad-1-change", f"{NAD_PATH}/sriov-rail-1", nad(CHANGED_CONFIG, "sriov-rail-1")),
        Step("nad-1-delete", "DELETE", f"{NAD_PATH}/sriov-rail-1"),
        Step(
            "watch-nads",
            "GET",
            NAD_PATH,
            [("watch", "true")],
            watch_seconds=1,
            since="list-nads",
        ),
        Step("table-events", "GET", namespaced("events"), accept=TABLE),
        Step("table-templates", "GET", namespaced("podtemplates"), accept=TABLE),
        Step("table-nads", "GET", NAD_PATH, accept=TABLE),
        Step("table-namespaces", "GET", "/api/v1/namespaces", [("limit", "1")], accept=TABLE),
        Step("table-services", "GET", "/api/v1/namespaces/default/services", accept=TABLE),
        Step(
            "configmap",
            "POST",
            namespaced("configmaps"),
            [],
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "settings", "namespace": NS},
                "data": {"a": "1", "b": "2"},
            },
        ),  # fmt: skip
        Step(
            "table-configmaps",
            "GET",
            namespaced("configmaps"),
            [("fieldSelector", "metadata.name=settings")],
            accept=TABLE,
        ),
        Step("table-pods", "GET", namespaced("pods"), accept=TABLE),
        Step("table-deployments", "GET", namespaced("deployments", group="apps/v1"), accept=TABLE),
        Step("table-daemonsets", "GET", namespaced("daemonsets", group="apps/v1"), accept=TABLE),
        Step("table-serviceaccounts", "GET", namespaced("serviceaccounts"), accept=TABLE),
        Step("table-nodes", "GET", "/api/v1/nodes", accept=TABLE),
    ],
    # Discovery of the groups the lab serves (compared resource by resource).
    "discovery": [
        Step("core", "GET", "/api/v1"),
        Step("apps", "GET", "/apis/apps/v1"),
        Step("authorization", "GET", "/apis/authorization.k8s.io/v1"),
        Step("coordination", "GET", "/apis/coordination.k8s.io/v1"),
        Step("network-attachment-definitions", "GET", "/apis/k8s.cni.cncf.io/v1"),
    ],
}


def steps(scenario: str) -> list[Step]:
    """A scenario's steps in a namespace of its own (rs-<scenario>), so scenarios can run one
    after another on one server: a deleted namespace stays Terminating there."""
    namespace = f"rs-{scenario}"
    result = []
    for step in SCENARIOS[scenario]:
        text = json.dumps(step.to_dict())
        text = text.replace('"fixture"', f'"{namespace}"').replace("/fixture/", f"/{namespace}/")
        text = text.replace('/fixture"', f'/{namespace}"').replace('=fixture"', f'={namespace}"')
        data = json.loads(text)
        result.append(
            Step(
                data["id"],
                data["method"],
                data["path"],
                [tuple(pair) for pair in data["query"]],
                data.get("body"),
                data.get("content_type", "application/json"),
                data.get("accept", "application/json"),
                data.get("watch_seconds", 0),
                data.get("since", ""),
            )
        )
    return result


# Where the lab may answer otherwise than 1.20, by scenario and step: {"fields": [paths], "why"}.
# A path is dotted; "*" matches any key or list index.
DIFFERENCES: dict[str, dict[str, dict]] = {
    "apply": {
        "namespace-dry-run": {
            "fields": ["metadata.labels"],
            "why": "since 1.21 every namespace carries the label kubernetes.io/metadata.name",
        },
        "namespace": {
            "fields": ["metadata.labels"],
            "why": "since 1.21 every namespace carries the label kubernetes.io/metadata.name",
        },
        "namespace-again": {
            "fields": ["metadata.labels", "metadata.managedFields.*.fieldsV1.f:metadata"],
            "why": "since 1.21 every namespace carries the label kubernetes.io/metadata.name "
            "(owned by before-first-apply here)",
        },
    },
    "defaults": {
        "namespace": {
            "fields": ["metadata.labels"],
            "why": "since 1.21 every namespace carries the label kubernetes.io/metadata.name",
        },
        "pod-dry-run": {
            "fields": ["spec.serviceAccountName", "spec.serviceAccount"],
            "why": "the reference server runs without the ServiceAccount admission plugin; a "
            "normal cluster (and the lab) sets serviceAccountName: default",
        },
        "service": {
            "fields": [
                "spec.ipFamilies",
                "spec.ipFamilyPolicy",
                "spec.internalTrafficPolicy",
                "metadata.managedFields.*.fieldsV1",
            ],
            "why": "1.20 leaves ipFamilies, ipFamilyPolicy and internalTrafficPolicy unset; "
            "1.23+ default them (IPv4, SingleStack, Cluster)",
        },
        "kubernetes-service": {
            "fields": [
                "spec.ipFamilies",
                "spec.ipFamilyPolicy",
                "spec.internalTrafficPolicy",
                "spec.ports.*.targetPort",
                "metadata.managedFields.*.fieldsV1",
            ],
            "why": "the target port is the server's own port; 1.23+ default the IP family "
            "fields and internalTrafficPolicy",
        },
    },
    "errors": {
        "namespace": {
            "fields": ["metadata.labels"],
            "why": "since 1.21 every namespace carries the label kubernetes.io/metadata.name",
        },
        "delete-namespace": {
            "fields": ["metadata.labels"],
            "why": "since 1.21 every namespace carries the label kubernetes.io/metadata.name",
        },
        "apply-without-manager": {
            "skip": True,
            "why": "1.20 takes an apply's field manager from the User-Agent; later servers "
            "answer 422 (fieldManager: Required value), as the lab does",
        },
    },
    "lists": {
        "namespace": {
            "fields": ["metadata.labels"],
            "why": "since 1.21 every namespace carries the label kubernetes.io/metadata.name",
        },
        "table-namespaces": {
            "fields": ["rows", "metadata.continue", "metadata.remainingItemCount"],
            "why": "the lab has more namespaces (ai-training, sriov-network-operator) than a "
            "bare apiserver; the columns are compared",
        },
        "table-services": {
            "fields": ["rows.*.cells.4", "rows.*.object"],
            "why": "the kubernetes Service's port is the server's own",
        },
        "table-serviceaccounts": {
            "fields": ["rows"],
            "why": "the reference server runs no controller manager, which creates each "
            "namespace's default ServiceAccount (the lab does)",
        },
        "table-nodes": {
            "fields": ["rows", "metadata.resourceVersion"],
            "why": "the reference server has no nodes (no kubelet); the columns are compared",
        },
    },
    "discovery": {
        step: {
            "fields": ["*.singularName", "nodes.verbs"],
            "why": "1.27+ fill singularName for built-in resources; the lab's nodes come from "
            "its spec and cannot be created or deleted",
        }
        for step in ("core", "apps", "authorization", "coordination")
    },
}


# ---------------------------------------------------------------------------------------------
# Talking to a server


class Server:
    """A bearer-token HTTPS client for one API server (real or lab)."""

    def __init__(self, url: str, token: str, ca_path: str | None):
        self.url = url.rstrip("/")
        self.token = token
        self.context = ssl.create_default_context(cafile=ca_path) if ca_path else None

    def send(self, step: Step, answers: dict[str, dict]) -> dict:
        query = list(step.query)
        if step.watch_seconds:
            since = answers[step.since]["body"]["metadata"]["resourceVersion"]
            query += [("resourceVersion", since), ("timeoutSeconds", str(step.watch_seconds))]
        url = self.url + step.path + ("?" + urllib.parse.urlencode(query) if query else "")
        data = None if step.body is None else json.dumps(step.body).encode()
        headers = {"Authorization": f"Bearer {self.token}", "Accept": step.accept}
        if data is not None:
            headers["Content-Type"] = step.content_type
        request = urllib.request.Request(url, data=data, method=step.method, headers=headers)
        try:
            with urllib.request.urlopen(request, context=self.context, timeout=30) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        if step.watch_seconds:
            events = [json.loads(line) for line in raw.decode().splitlines() if line.strip()]
            return {"status": status, "events": events}
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
        return {"status": status, "body": body}


def run(server: Server, steps: list[Step]) -> dict[str, dict]:
    answers: dict[str, dict] = {}
    for step in steps:
        answers[step.id] = server.send(step, answers)
    return answers


# ---------------------------------------------------------------------------------------------
# Normalising answers


_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
_UID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class Normaliser:
    """Placeholders for what differs between any two runs; resourceVersions numbered in order
    of first appearance within one scenario."""

    def __init__(self):
        self.versions: dict[str, str] = {}

    def version(self, value: str) -> str:
        if not value:
            return value
        return self.versions.setdefault(value, f"rv{len(self.versions) + 1}")

    def __call__(self, value, key: str = ""):
        if isinstance(value, dict):
            return {k: self(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self(v, key) for v in value]
        if not isinstance(value, str):
            return value
        if key == "resourceVersion":
            return self.version(value)
        if key == "continue":
            return "<continue>"
        if key == "uid" or _UID.fullmatch(value):
            return "<uid>"
        value = _UID.sub("<uid>", value)
        if _TIME.match(value):
            return "<time>"
        if key in ("clusterIP", "clusterIPs"):
            return "<cluster-ip>"
        return value


def normalise(answers: dict[str, dict]) -> dict[str, dict]:
    normaliser = Normaliser()
    result = {}
    for step_id, answer in answers.items():
        answer = copy.deepcopy(answer)
        for key in ("body", "events"):
            if key in answer:
                answer[key] = normaliser(answer[key])
        _ages(answer)
        result[step_id] = answer
    return result


def _ages(answer: dict) -> None:
    """Table cells holding an age ("5s", "<unknown>") or a clusterIP vary between runs."""
    body = answer.get("body")
    if not isinstance(body, dict) or body.get("kind") != "Table":
        return
    columns = [c["name"] for c in body.get("columnDefinitions") or []]
    for row in body.get("rows") or []:
        for index, name in enumerate(columns):
            if name in ("Age", "Last Seen", "First Seen") and index < len(row["cells"]):
                row["cells"][index] = "<age>"
            if name == "Cluster-IP" and index < len(row["cells"]):
                row["cells"][index] = "<cluster-ip>"


def without(value, paths: list[str]):
    """`value` with the dotted paths removed ("*" matches any key or index)."""
    value = copy.deepcopy(value)
    for path in paths:
        _drop(value, path.split("."))
    return value


def _drop(value, parts: list[str]) -> None:
    if not parts:
        return
    head, rest = parts[0], parts[1:]
    if isinstance(value, dict):
        keys = list(value) if head == "*" else [head] if head in value else []
        for key in keys:
            if rest:
                _drop(value[key], rest)
            else:
                del value[key]
    elif isinstance(value, list):
        if head == "*":
            indexes = range(len(value))
        elif head.isdigit() and int(head) < len(value):
            indexes = [int(head)]
        else:
            indexes = []
        for index in reversed(list(indexes)):
            if rest:
                _drop(value[index], rest)
            else:
                del value[index]


def comparable(answer: dict, difference: dict | None) -> dict:
    """An answer without the fields the lab may legitimately answer otherwise."""
    fields = (difference or {}).get("fields") or []
    if not fields:
        return answer
    result = dict(answer)
    if "body" in result:
        result["body"] = without(result["body"], fields)
    if "events" in result:
        result["events"] = [
            {**event, "object": without(event.get("object"), fields)} for event in result["events"]
        ]
    return result
