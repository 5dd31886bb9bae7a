"""One pod dict read once: its containers' requests and capabilities, the networks it asks for,
what Multus says it got, and why it is not running."""

from __future__ import annotations

from dataclasses import dataclass

from clusters.inspect.network_status import (
    LEGACY_NETWORK_STATUS_ANNOTATION,
    NETWORK_STATUS_ANNOTATION,
    NETWORKS_ANNOTATION,
    TERMINAL_PHASES,
    read_network_status,
    text_or_none,
)
from planner import podfacts
from planner.podfacts import parse_networks_annotation


@dataclass(slots=True)
class ContainerView:
    name: str
    requests: dict[str, float]
    capabilities: frozenset[str]
    privileged: bool


@dataclass(slots=True)
class PodView:
    """What one pod dict says, read once."""

    namespace: str
    name: str
    uid: str | None
    node: str | None
    phase: str
    reason: str | None
    message: str | None
    containers: list[ContainerView]
    container_states: list[dict]
    networks_value: str | None
    networks: list[dict]  # {name, namespace, interface, interface_given, position}
    networks_error: str | None
    status_present: bool
    status_value: str | None
    status_entries: list[dict]
    status_error: str | None
    requests: dict[str, float]
    scheduling_message: str | None  # PodScheduled=False
    pod_ip: str | None = None  # status.podIP: the default network's address

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def ref(self) -> str:
        return f"Pod {self.key}"

    @property
    def asks_for_networks(self) -> bool:
        return self.networks_value is not None and bool(self.networks_value.strip())

    @property
    def running(self) -> bool:
        return self.phase == "Running"

    @property
    def terminal(self) -> bool:
        return self.phase in TERMINAL_PHASES

    def capabilities(self) -> list[str]:
        return sorted({cap for container in self.containers for cap in container.capabilities})


def read_pod(pod: dict, annotation_cache: dict | None = None) -> PodView:
    metadata = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    annotations = metadata.get("annotations") or {}
    namespace = metadata.get("namespace") or "default"
    networks_value = annotations.get(NETWORKS_ANNOTATION)
    networks, networks_error = _requested_networks(networks_value, namespace, annotation_cache)
    status_value = annotations.get(NETWORK_STATUS_ANNOTATION)
    if status_value is None:
        status_value = annotations.get(LEGACY_NETWORK_STATUS_ANNOTATION)
    entries, status_error = read_network_status(status_value, namespace)
    containers = [_container(item) for item in spec.get("containers") or [] if is_dict(item)]
    return PodView(
        namespace=namespace,
        name=metadata.get("name") or "",
        uid=metadata.get("uid"),
        node=spec.get("nodeName") or None,
        phase=status.get("phase") or "Unknown",
        reason=status.get("reason") or None,
        message=status.get("message") or None,
        containers=containers,
        container_states=[_container_state(item) for item in status.get("containerStatuses") or []],
        networks_value=networks_value if isinstance(networks_value, str) else None,
        networks=networks,
        networks_error=networks_error,
        status_present=status_value is not None,
        status_value=status_value if isinstance(status_value, str) else None,
        status_entries=entries,
        status_error=status_error,
        requests=podfacts.pod_requests(
            (container.requests for container in containers),
            (
                podfacts.container_requests(item)
                for item in spec.get("initContainers") or []
                if is_dict(item)
            ),
        ),
        scheduling_message=_unschedulable(status),
        pod_ip=text_or_none(status.get("podIP")),
    )


def is_dict(value) -> bool:
    return isinstance(value, dict)


def _requested_networks(value, namespace: str, cache: dict | None) -> tuple[list[dict], str | None]:
    if not isinstance(value, str) or not value.strip():
        return [], None
    parsed = cache.get(value) if cache is not None else None
    if parsed is None:
        try:
            parsed = (parse_networks_annotation(value), None)
        except ValueError as error:
            parsed = ([], str(error))
        if cache is not None:
            cache[value] = parsed
    attachments, problem = parsed
    networks = [
        {
            "name": item["name"],
            "namespace": item["namespace"] or namespace,
            "interface": item["interface"] or f"net{item['position'] + 1}",
            "interface_given": bool(item["interface"]),
            "position": item["position"],
        }
        for item in attachments
    ]
    return networks, problem


def _container(container: dict) -> ContainerView:
    capabilities, privileged = podfacts.capabilities(container)
    return ContainerView(
        name=container.get("name") or "",
        requests=podfacts.container_requests(container),
        capabilities=capabilities,
        privileged=privileged,
    )


def _container_state(status: dict) -> dict:
    states = status.get("state") or {}
    state = next((name for name in ("running", "waiting", "terminated") if states.get(name)), None)
    details = states.get(state) or {} if state else {}
    return {
        "name": status.get("name"),
        "state": state or "unknown",
        "reason": details.get("reason"),
        "message": details.get("message"),
        "ready": bool(status.get("ready")),
        "restarts": status.get("restartCount") or 0,
    }


def _unschedulable(status: dict) -> str | None:
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
            return condition.get("message") or condition.get("reason") or "Unschedulable"
    return None


def pod_reason(view: PodView) -> str | None:
    """The pod's reason in one word: its status reason, else a waiting container's, else
    Unschedulable."""
    if view.reason:
        return view.reason
    for state in view.container_states:
        if state["state"] != "running" and state["reason"]:
            return state["reason"]
    return "Unschedulable" if view.scheduling_message else None
