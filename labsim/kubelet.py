"""The pod lifecycle: scheduling, admission and device allocation, sandbox networking,
container start, graceful termination, and releasing devices and addresses afterwards.

Each step runs a short while after the previous one, like a real scheduler and kubelet,
so watchers see Pending -> ContainerCreating -> Running. All writes go through the store.
"""

import asyncio
import hashlib
from dataclasses import dataclass, field

from labsim.cni import NETWORK_STATUS_ANNOTATION, PodInterface, render_network_status
from labsim.inventory import AdmissionError, PodDevices
from labsim.meta import container_id, now_rfc3339
from labsim.resources import IPPOOL_TYPE, NAD_TYPE
from labsim.scheduler import pod_requests, whole_requests

TERMINAL_PHASES = ("Succeeded", "Failed")


@dataclass
class PodRuntime:
    key: str
    uid: str
    node: str
    sandbox_id: str
    devices: PodDevices | None = None
    interfaces: list[PodInterface] = field(default_factory=list)
    host_network: bool = False
    running: bool = False
    containers: dict[str, str] = field(default_factory=dict)  # name -> container id
    capabilities: dict[str, set[str]] = field(default_factory=dict)
    env: dict[str, list[tuple[str, str]]] = field(default_factory=dict)


def pod_key(obj: dict) -> str:
    return f"{obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}"


def _copy_pod(obj: dict) -> dict:
    pod = {**obj, "metadata": dict(obj["metadata"]), "status": dict(obj.get("status") or {})}
    pod["metadata"]["annotations"] = dict(obj["metadata"].get("annotations") or {})
    return pod


def _condition(kind: str, status: bool, now: str, reason: str = "", message: str = "") -> dict:
    condition = {
        "type": kind,
        "status": "True" if status else "False",
        "lastProbeTime": None,
        "lastTransitionTime": now,
    }
    if reason:
        condition["reason"] = reason
    if message:
        condition["message"] = message
    return condition


class Kubelet:
    def __init__(self, lab):
        self.lab = lab
        self.store = lab.store
        self.pods = lab.registry.by_key("", "pods")
        self.nodes = lab.registry.by_key("", "nodes")
        self.runtimes: dict[str, PodRuntime] = {}
        self.unschedulable: set[str] = set()
        self.sandbox_waiting: set[str] = set()
        self._retry_timers: dict[str, asyncio.TimerHandle] = {}
        self._terminating: set[str] = set()
        self._retry_soon = False
        self._closed = False
        self.store.subscribe(self._on_change)

    # Event routing ---------------------------------------------------------------------

    def _later(self, delay_ms: float, callback, *args) -> None:
        if not self._closed:
            self.lab.work.call_later(delay_ms / 1000, callback, *args)

    def _on_change(self, resource, event) -> None:
        if self._closed:
            return
        if resource is self.pods:
            self._on_pod(event)
        elif self._may_unblock(resource):
            self.request_retry()

    def _may_unblock(self, resource) -> bool:
        """NAD and node changes may unblock pods; so may IPPool edits other than our own."""
        if resource is NAD_TYPE or resource is self.nodes:
            return True
        return resource is IPPOOL_TYPE and not self.lab.whereabouts_busy

    def _on_pod(self, event) -> None:
        pod = event.entry.obj
        key = pod_key(pod)
        spec = pod.get("spec") or {}
        if event.type == "DELETED":
            self._forget(key, pod)
            return
        if pod["metadata"].get("deletionTimestamp"):
            if key not in self._terminating:
                self._terminating.add(key)
                self._later(
                    self.lab.spec.timing.termination_delay_ms,
                    self._finish_termination,
                    key,
                    pod["metadata"]["uid"],
                )
            return
        if event.type == "ADDED" and key not in self.runtimes:
            if (pod.get("status") or {}).get("phase") in TERMINAL_PHASES:
                return
            if spec.get("nodeName"):
                self._later(self.lab.spec.timing.sandbox_delay_ms, self._start_pod, key)
            else:
                self._later(self.lab.spec.timing.schedule_delay_ms, self._schedule, key)

    def request_retry(self) -> None:
        """Something changed that may let waiting pods proceed; retry them once, soon."""
        if self._retry_soon or self._closed:
            return
        if not self.unschedulable and not self.sandbox_waiting:
            return
        self._retry_soon = True
        self._later(1, self._retry_waiting)

    def _retry_waiting(self) -> None:
        self._retry_soon = False
        for key in sorted(self.unschedulable):
            self._schedule(key)
        for key in sorted(self.sandbox_waiting):
            self._start_pod(key)

    def close(self) -> None:
        self._closed = True
        for timer in self._retry_timers.values():
            timer.cancel()
        self._retry_timers.clear()

    # Scheduling ------------------------------------------------------------------------

    def _current(self, key: str):
        namespace, _, name = key.partition("/")
        return self.store.get(self.pods, namespace, name)

    def _schedule(self, key: str) -> None:
        entry = self._current(key)
        if entry is None or entry.obj["metadata"].get("deletionTimestamp"):
            self.unschedulable.discard(key)
            return
        pod = entry.obj
        if (pod.get("spec") or {}).get("nodeName"):
            self.unschedulable.discard(key)
            return
        nodes = [node.obj for node in self.store.items(self.nodes)]
        chosen, message = self.lab.scheduler.choose(pod, nodes)
        now = now_rfc3339()
        updated = _copy_pod(pod)
        conditions = [
            c for c in updated["status"].get("conditions") or [] if c.get("type") != "PodScheduled"
        ]
        if chosen is None:
            self.unschedulable.add(key)
            old = next(
                (
                    c
                    for c in pod["status"].get("conditions") or []
                    if c.get("type") == "PodScheduled"
                ),
                None,
            )
            condition = _condition("PodScheduled", False, now, "Unschedulable", message)
            if old and old.get("message") == message:
                condition["lastTransitionTime"] = old["lastTransitionTime"]
            updated["status"]["conditions"] = [*conditions, condition]
            stored = self.lab.objects.write(self.pods, updated, "kube-scheduler")
            self.lab.events.record(
                stored.obj, "Warning", "FailedScheduling", message, "default-scheduler"
            )
            return
        self.unschedulable.discard(key)
        updated["spec"] = {**pod["spec"], "nodeName": chosen}
        updated["status"]["conditions"] = [*conditions, _condition("PodScheduled", True, now)]
        self.lab.scheduler.account(key, chosen, pod_requests(pod))
        stored = self.lab.objects.write(self.pods, updated, "kube-scheduler")
        self.lab.events.record(
            stored.obj,
            "Normal",
            "Scheduled",
            f"Successfully assigned {key} to {chosen}",
            "default-scheduler",
        )
        self._later(self.lab.spec.timing.sandbox_delay_ms, self._start_pod, key)

    # Kubelet ---------------------------------------------------------------------------

    def _start_pod(self, key: str) -> None:
        entry = self._current(key)
        if entry is None or entry.obj["metadata"].get("deletionTimestamp"):
            self.sandbox_waiting.discard(key)
            return
        pod = entry.obj
        spec = pod.get("spec") or {}
        node_name = spec.get("nodeName")
        node_spec = self.lab.spec.node(node_name)
        if node_spec is None or (pod.get("status") or {}).get("phase") in TERMINAL_PHASES:
            return
        runtime = self.runtimes.get(key)
        if runtime is None:
            runtime = self._admit(key, pod, node_name)
            if runtime is None:
                return
            entry = self._write_creating(pod, node_spec)
            pod = entry.obj
        if runtime.running:
            return
        if runtime.host_network:
            runtime.interfaces = self.lab.host_interfaces(node_spec)
        else:
            result = self.lab.multus.setup(pod, node_spec, runtime.devices, runtime.sandbox_id)
            for event_type, reason, message, component in result.events:
                self.lab.events.record(pod, event_type, reason, message, component)
            if not result.ok:
                self.lab.events.record(
                    pod, "Warning", "FailedCreatePodSandBox", result.error, "kubelet", node_name
                )
                self.sandbox_waiting.add(key)
                self._schedule_sandbox_retry(key)
                return
            runtime.interfaces = result.interfaces
            if result.network_status:
                updated = _copy_pod(pod)
                updated["metadata"]["annotations"][NETWORK_STATUS_ANNOTATION] = (
                    render_network_status(result.network_status)
                )
                pod = self.lab.objects.write(self.pods, updated, "multus-daemon").obj
        self.sandbox_waiting.discard(key)
        timer = self._retry_timers.pop(key, None)
        if timer:
            timer.cancel()
        self._later(self.lab.spec.timing.container_start_delay_ms, self._run_containers, key)

    def _schedule_sandbox_retry(self, key: str) -> None:
        if key in self._retry_timers or self._closed:
            return
        loop = asyncio.get_running_loop()

        def retry():
            self._retry_timers.pop(key, None)
            if key in self.sandbox_waiting:
                self._later(0, self._start_pod, key)

        self._retry_timers[key] = loop.call_later(self.lab.spec.timing.sandbox_retry_seconds, retry)

    def _admit(self, key: str, pod: dict, node_name: str) -> PodRuntime | None:
        requests = pod_requests(pod)
        scheduler = self.lab.scheduler
        if not scheduler.is_accounted(key):
            node_entry = self.store.get(self.nodes, "", node_name)
            failures = scheduler.failures(pod, node_entry.obj, requests) if node_entry else []
            insufficient = [
                f.removeprefix("Insufficient ") for f in failures if f.startswith("Insufficient ")
            ]
            if insufficient:
                resource = insufficient[0]
                allocatable = scheduler.allocatable(node_entry.obj).get(resource, 0) // 1000
                used = scheduler.usage.get(node_name, {}).get(resource, 0) // 1000
                self._fail(
                    pod,
                    f"OutOf{resource}",
                    f"Node didn't have enough resource: {resource}, requested: "
                    f"{requests[resource] // 1000}, used: {used}, capacity: {allocatable}",
                )
                return None
            scheduler.account(key, node_name, requests)
        faults = self.lab.faults
        inventory = self.lab.inventory.nodes[node_name]
        wanted = whole_requests(requests)
        numa = None
        if faults.topology_policy_on(node_name) in ("single-numa-node", "restricted"):
            numa = inventory.numa_fit(wanted, faults.unregistered_on(node_name))
            if numa is None:
                scheduler.release(key)
                self._fail(
                    pod,
                    "TopologyAffinityError",
                    "Pod was rejected: Resources cannot be allocated with Topology locality",
                    event="Resources cannot be allocated with Topology locality",
                )
                return None
        try:
            devices = inventory.allocate(
                key,
                wanted,
                faults.unregistered_on(node_name),
                faults.numa_mismatch,
                numa,
            )
        except AdmissionError as error:
            scheduler.release(key)
            self._fail(pod, "UnexpectedAdmissionError", str(error))
            return None
        spec = pod.get("spec") or {}
        runtime = PodRuntime(
            key=key,
            uid=pod["metadata"]["uid"],
            node=node_name,
            sandbox_id=container_id(),
            devices=devices,
            host_network=bool(spec.get("hostNetwork")),
        )
        for container in spec.get("containers") or []:
            added = ((container.get("securityContext") or {}).get("capabilities") or {}).get(
                "add"
            ) or []
            runtime.capabilities[container["name"]] = {
                str(c).upper().removeprefix("CAP_") for c in added
            }
            runtime.containers[container["name"]] = container_id()
        self.runtimes[key] = runtime
        return runtime

    def _fail(self, pod: dict, reason: str, message: str, event: str | None = None) -> None:
        updated = _copy_pod(pod)
        updated["status"].update(
            {"phase": "Failed", "reason": reason, "message": message, "startTime": now_rfc3339()}
        )
        stored = self.lab.objects.write(self.pods, updated, "kubelet")
        self.lab.events.record(
            stored.obj, "Warning", reason, event or message, "kubelet", pod["spec"].get("nodeName")
        )

    def _write_creating(self, pod: dict, node_spec):
        now = now_rfc3339()
        updated = _copy_pod(pod)
        names = [c["name"] for c in pod["spec"].get("containers") or []]
        unready = f"containers with unready status: [{' '.join(names)}]"
        status = updated["status"]
        scheduled = next(
            (c for c in status.get("conditions") or [] if c.get("type") == "PodScheduled"),
            _condition("PodScheduled", True, now),
        )
        status["conditions"] = [
            _condition("PodReadyToStartContainers", False, now),
            _condition("Initialized", True, now),
            _condition("Ready", False, now, "ContainersNotReady", unready),
            _condition("ContainersReady", False, now, "ContainersNotReady", unready),
            scheduled,
        ]
        status["hostIP"] = node_spec.internal_ip
        status["hostIPs"] = [{"ip": node_spec.internal_ip}]
        status["startTime"] = now
        status["containerStatuses"] = [
            {
                "name": c["name"],
                "state": {"waiting": {"reason": "ContainerCreating"}},
                "lastState": {},
                "ready": False,
                "restartCount": 0,
                "image": c.get("image", ""),
                "imageID": "",
                "started": False,
            }
            for c in pod["spec"].get("containers") or []
        ]
        return self.lab.objects.write(self.pods, updated, "kubelet")

    def _run_containers(self, key: str) -> None:
        entry = self._current(key)
        runtime = self.runtimes.get(key)
        if entry is None or runtime is None or entry.obj["metadata"].get("deletionTimestamp"):
            return
        pod = entry.obj
        node = runtime.node
        for container in pod["spec"].get("containers") or []:
            name = container["name"]
            path = f"spec.containers{{{name}}}"
            for reason, message in [
                *_pull_events(container),
                ("Created", f"Created container {name}"),
                ("Started", f"Started container {name}"),
            ]:
                self.lab.events.record(pod, "Normal", reason, message, "kubelet", node, path)
        now = now_rfc3339()
        updated = _copy_pod(pod)
        status = updated["status"]
        scheduled = next(
            (c for c in status.get("conditions") or [] if c.get("type") == "PodScheduled"),
            _condition("PodScheduled", True, now),
        )
        status["phase"] = "Running"
        status["conditions"] = [
            _condition("PodReadyToStartContainers", True, now),
            _condition("Initialized", True, now),
            _condition("Ready", True, now),
            _condition("ContainersReady", True, now),
            scheduled,
        ]
        pod_ip = str(runtime.interfaces[0].addresses[0].ip)
        status["podIP"] = pod_ip
        status["podIPs"] = [{"ip": pod_ip}]
        status["containerStatuses"] = [
            {
                "name": c["name"],
                "state": {"running": {"startedAt": now}},
                "lastState": {},
                "ready": True,
                "restartCount": 0,
                "image": c.get("image", ""),
                "imageID": _image_id(c.get("image", "")),
                "containerID": f"containerd://{runtime.containers[c['name']]}",
                "started": True,
            }
            for c in pod["spec"].get("containers") or []
        ]
        runtime.running = True
        self.lab.objects.write(self.pods, updated, "kubelet")

    # Termination -----------------------------------------------------------------------

    def _finish_termination(self, key: str, uid: str) -> None:
        self._terminating.discard(key)
        entry = self._current(key)
        if entry is None or entry.obj["metadata"]["uid"] != uid:
            return
        runtime = self.runtimes.get(key)
        if runtime is not None and runtime.running:
            for container in entry.obj["spec"].get("containers") or []:
                name = container["name"]
                self.lab.events.record(
                    entry.obj,
                    "Normal",
                    "Killing",
                    f"Stopping container {name}",
                    "kubelet",
                    runtime.node,
                    f"spec.containers{{{name}}}",
                )
        namespace, _, name = key.partition("/")
        self.store.remove(self.pods, namespace, name)

    def _forget(self, key: str, pod: dict) -> None:
        self.unschedulable.discard(key)
        self.sandbox_waiting.discard(key)
        self._terminating.discard(key)
        timer = self._retry_timers.pop(key, None)
        if timer:
            timer.cancel()
        runtime = self.runtimes.pop(key, None)
        node = (pod.get("spec") or {}).get("nodeName")
        if node in self.lab.inventory.nodes:
            self.lab.inventory.nodes[node].release(key)
        self.lab.multus.teardown(key, node)
        self.lab.scheduler.release(key)
        self.lab.events.forget(pod["metadata"].get("uid", ""))
        if runtime is not None or node:
            self.request_retry()

    def delete_pod(self, resource, current, grace_seconds: int | None) -> dict:
        """DELETE on a pod: graceful when it runs on a node, immediate otherwise."""
        pod = current.obj
        spec = pod.get("spec") or {}
        grace = (
            spec.get("terminationGracePeriodSeconds", 30)
            if grace_seconds is None
            else (grace_seconds)
        )
        phase = (pod.get("status") or {}).get("phase")
        if not spec.get("nodeName") or grace == 0 or phase in TERMINAL_PHASES:
            removed = self.store.remove(resource, current.namespace, current.name)
            return removed.obj
        if pod["metadata"].get("deletionTimestamp"):
            return pod
        updated = _copy_pod(pod)
        updated["metadata"]["deletionTimestamp"] = now_rfc3339()
        updated["metadata"]["deletionGracePeriodSeconds"] = grace
        return self.store.put(resource, updated).obj


def _pull_events(container: dict) -> list[tuple[str, str]]:
    image = container.get("image", "")
    if container.get("imagePullPolicy") != "Always":
        return [("Pulled", f'Container image "{image}" already present on machine')]
    return [
        ("Pulling", f'Pulling image "{image}"'),
        (
            "Pulled",
            f'Successfully pulled image "{image}" in 512ms (512ms including waiting). '
            "Image size: 2166802 bytes.",
        ),
    ]


def _image_id(image: str) -> str:
    repository = (
        image.split("@")[0].rsplit(":", 1)[0]
        if ":" in image.rsplit("/", 1)[-1]
        else (image.split("@")[0])
    )
    return f"{repository}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"
