"""What the apiserver fills in on the objects it stores, in two steps, as a real one does:

- `apply_defaults`: the built-in kinds' defaulting (before the field manager records who set
  what, so the writer owns the defaults);
- `admit`: the mutating admission plugins of a standard cluster (ServiceAccount,
  DefaultTolerationSeconds, Priority) and the registry's own settings (a pod's phase and QoS
  class), which nobody owns.

`zero_object` is a kind's empty object as the apiserver serialises it (fields without
omitempty); a create's managedFields are what differs from it. Checked against kube-apiserver
1.20 by tests/labsim/test_lab_vs_realk8s.py.
"""

from __future__ import annotations

import copy

from labsim.quantity import parse_quantity

_DEFAULT_TOLERATIONS = [
    {
        "key": "node.kubernetes.io/not-ready",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 300,
    },
    {
        "key": "node.kubernetes.io/unreachable",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 300,
    },
]
_TEMPLATE_ZERO = {"metadata": {"creationTimestamp": None}, "spec": {"containers": None}}
_ZERO = {
    ("", "pods"): {"spec": {"containers": None}, "status": {}},
    ("", "podtemplates"): {"template": _TEMPLATE_ZERO},
    ("", "namespaces"): {"spec": {}, "status": {}},
    ("", "services"): {"spec": {}, "status": {"loadBalancer": {}}},
    ("", "events"): {
        "involvedObject": {},
        "source": {},
        "firstTimestamp": None,
        "lastTimestamp": None,
        "eventTime": None,
        "reportingComponent": "",
        "reportingInstance": "",
    },
    ("apps", "deployments"): {
        "spec": {"selector": None, "template": _TEMPLATE_ZERO, "strategy": {}},
        "status": {},
    },
    ("apps", "daemonsets"): {
        "spec": {"selector": None, "template": _TEMPLATE_ZERO, "updateStrategy": {}},
        "status": {
            "currentNumberScheduled": 0,
            "numberMisscheduled": 0,
            "desiredNumberScheduled": 0,
            "numberReady": 0,
        },
    },
    ("coordination.k8s.io", "leases"): {"spec": {}},
    ("authorization.k8s.io", "selfsubjectaccessreviews"): {"spec": {}},
}


def zero_object(resource) -> dict:
    return {"metadata": {}, **copy.deepcopy(_ZERO.get(resource.key, {}))}


def apply_defaults(resource, obj: dict) -> dict:
    defaulting = _DEFAULTING.get(resource.key)
    return defaulting(obj) if defaulting else obj


def admit(resource, obj: dict) -> dict:
    """Mutating admission of a new object (after its fields were recorded)."""
    if resource.key == ("", "pods"):
        return admit_pod(obj)
    if resource.key == ("", "services"):
        return admit_service(obj)
    return obj


# Kinds -----------------------------------------------------------------------------------------


def default_namespace(namespace: dict) -> dict:
    metadata = namespace.setdefault("metadata", {})
    if metadata.get("name"):
        labels = metadata.get("labels") or {}
        metadata["labels"] = {**labels, "kubernetes.io/metadata.name": metadata["name"]}
    namespace.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    namespace.setdefault("status", {}).setdefault("phase", "Active")
    return namespace


def default_pod(pod: dict) -> dict:
    spec = pod.setdefault("spec", {})
    for container in spec.get("containers") or []:
        # Pods only (not templates): requests default to limits.
        resources = container.setdefault("resources", {})
        limits = resources.get("limits") or {}
        if limits:
            requests = resources.setdefault("requests", {})
            for name, amount in limits.items():
                requests.setdefault(name, amount)
    _default_pod_spec(spec)
    spec.setdefault("enableServiceLinks", True)
    return pod


def admit_pod(pod: dict) -> dict:
    spec = pod.setdefault("spec", {})
    spec.setdefault("serviceAccountName", "default")
    spec.setdefault("serviceAccount", spec["serviceAccountName"])
    tolerations = spec.setdefault("tolerations", [])
    for toleration in _DEFAULT_TOLERATIONS:
        if not any(t.get("key") == toleration["key"] for t in tolerations):
            tolerations.append(copy.deepcopy(toleration))
    spec.setdefault("priority", 0)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    status = pod.setdefault("status", {})
    status.setdefault("phase", "Pending")
    status["qosClass"] = qos_class(spec)
    return pod


def default_pod_template(template: dict) -> dict:
    _default_template(template.setdefault("template", {}))
    return template


def default_deployment(deployment: dict) -> dict:
    spec = deployment.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    strategy = spec.setdefault("strategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.setdefault("rollingUpdate", {})
        rolling.setdefault("maxUnavailable", "25%")
        rolling.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    _default_template(spec.setdefault("template", {}))
    deployment.setdefault("status", {})
    return deployment


def default_daemonset(daemonset: dict) -> dict:
    metadata = daemonset.setdefault("metadata", {})
    if not (metadata.get("annotations") or {}).get("deprecated.daemonset.template.generation"):
        metadata["annotations"] = {
            **(metadata.get("annotations") or {}),
            "deprecated.daemonset.template.generation": str(metadata.get("generation", 1)),
        }
    spec = daemonset.setdefault("spec", {})
    _default_template(spec.setdefault("template", {}))
    strategy = spec.setdefault("updateStrategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.setdefault("rollingUpdate", {})
        rolling.setdefault("maxUnavailable", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    status = daemonset.setdefault("status", {})
    for key in _ZERO[("apps", "daemonsets")]["status"]:
        status.setdefault(key, 0)
    return daemonset


def default_event(event: dict) -> dict:
    event.setdefault("eventTime", None)
    event.setdefault("reportingComponent", "")
    event.setdefault("reportingInstance", "")
    return event


def default_service(service: dict) -> dict:
    spec = service.setdefault("spec", {})
    for port in spec.get("ports") or []:
        port.setdefault("protocol", "TCP")
        port.setdefault("targetPort", port.get("port"))
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    service.setdefault("status", {}).setdefault("loadBalancer", {})
    return service


def admit_service(service: dict) -> dict:
    """What the service registry sets besides the cluster IP (1.23+: IP family fields)."""
    spec = service.setdefault("spec", {})
    if spec.get("type", "ClusterIP") != "ExternalName":
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
    return service


_DEFAULTING = {
    ("", "namespaces"): default_namespace,
    ("", "pods"): default_pod,
    ("", "podtemplates"): default_pod_template,
    ("", "events"): default_event,
    ("", "services"): default_service,
    ("apps", "deployments"): default_deployment,
    ("apps", "daemonsets"): default_daemonset,
}


# Pod specs -------------------------------------------------------------------------------------


def _default_template(template: dict) -> None:
    metadata = template.setdefault("metadata", {})
    metadata.setdefault("creationTimestamp", None)
    _default_pod_spec(template.setdefault("spec", {}))


def _default_pod_spec(spec: dict) -> None:
    for container in spec.get("initContainers") or []:
        _default_container(container, spec)
    for container in spec.get("containers") or []:
        _default_container(container, spec)
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")


def _default_container(container: dict, spec: dict) -> None:
    container.setdefault("resources", {})
    for port in container.get("ports") or []:
        port.setdefault("protocol", "TCP")
        if spec.get("hostNetwork"):
            port.setdefault("hostPort", port.get("containerPort"))
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    image = container.get("image") or ""
    tag = image.rsplit("/", 1)[-1]
    always = ":" not in tag or tag.endswith(":latest")
    if "@" not in image:
        container.setdefault("imagePullPolicy", "Always" if always else "IfNotPresent")
    else:
        container.setdefault("imagePullPolicy", "IfNotPresent")


def qos_class(spec: dict) -> str:
    containers = spec.get("containers") or []
    any_set = False
    guaranteed = True
    for container in containers:
        resources = container.get("resources") or {}
        limits = resources.get("limits") or {}
        requests = resources.get("requests") or {}
        for name in ("cpu", "memory"):
            if name in limits or name in requests:
                any_set = True
            if (
                name not in limits
                or name not in requests
                or parse_quantity(limits[name]) != parse_quantity(requests[name])
            ):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"
