"""The DaemonSet controller: one pod per node that the template's nodeSelector, required node
affinity and tolerations admit, each pinned to its node through node affinity on
`metadata.name` (as kube-controller-manager does, so the scheduler binds it and reports
FailedScheduling when the node lacks resources); pods on nodes that no longer match, or of an
old template generation, are deleted; the status counts scheduled, ready and updated pods.
Deleting a DaemonSet deletes its pods (background cascading deletion)."""

from __future__ import annotations

import copy
import hashlib
import json

from labsim.scheduler import required_node_terms, term_matches, tolerated
from labsim.status import ApiError

MANAGER = "kube-controller-manager"
RECONCILE_DELAY_SECONDS = 0.005
# Its pods' changes only move a DaemonSet's status: batch them (hundreds of pods start at once).
STATUS_DELAY_SECONDS = 0.1
# Added to every DaemonSet pod, as the controller does (util.AddOrUpdateDaemonPodTolerations).
_DAEMON_TOLERATIONS = [
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
]


def _owner_uid(pod: dict) -> str | None:
    for reference in pod["metadata"].get("ownerReferences") or ():
        if reference.get("kind") == "DaemonSet" and reference.get("controller"):
            return reference.get("uid")
    return None


def _ready(pod: dict) -> bool:
    status = pod.get("status") or {}
    return status.get("phase") == "Running" and any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or ()
    )


def node_admits(template_spec: dict, node: dict) -> bool:
    """Would a daemon pod of this template run on this node (labels, affinity, taints)?"""
    labels = node["metadata"].get("labels") or {}
    selector = template_spec.get("nodeSelector") or {}
    if any(labels.get(key) != value for key, value in selector.items()):
        return False
    terms = required_node_terms(template_spec)
    if terms and not any(term_matches(term, node) for term in terms):
        return False
    tolerations = template_spec.get("tolerations") or []
    return all(
        tolerated(taint, tolerations)
        for taint in (node.get("spec") or {}).get("taints") or ()
        if taint.get("effect") in ("NoSchedule", "NoExecute")
    )


def _revision_hash(template: dict) -> str:
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()
    return str(int(digest[:8], 16) % 10**10)


class DaemonSetController:
    def __init__(self, lab):
        self.lab = lab
        self.store = lab.store
        self.daemonsets = lab.registry.by_key("apps", "daemonsets")
        self.pods = lab.registry.by_key("", "pods")
        self.nodes = lab.registry.by_key("", "nodes")
        self._owned: dict[str, set[tuple[str, str]]] = {}  # DaemonSet uid -> its pods
        self._keys: dict[str, tuple[str, str]] = {}  # DaemonSet uid -> (namespace, name)
        self._dirty: set[tuple[str, str]] = set()
        self._pending = False
        self._nodes_version = 0
        self._wanted: dict[str, tuple[tuple, set[str]]] = {}  # uid -> (key, node names)
        self.store.subscribe(self._on_change)

    # Events ------------------------------------------------------------------------------

    def _on_change(self, resource, event) -> None:
        obj = event.entry.obj
        if resource is self.daemonsets:
            uid = obj["metadata"]["uid"]
            key = (obj["metadata"]["namespace"], obj["metadata"]["name"])
            self._keys[uid] = key
            if event.type == "DELETED":
                self.lab.work.call_later(0, self._collect_garbage, uid)
            else:
                self._mark(key)
        elif resource is self.pods:
            owner = _owner_uid(obj)
            if owner is None:
                return
            pod_key = (obj["metadata"]["namespace"], obj["metadata"]["name"])
            if event.type == "DELETED":
                self._owned.get(owner, set()).discard(pod_key)
            else:
                self._owned.setdefault(owner, set()).add(pod_key)
            if owner in self._keys:
                self._mark(self._keys[owner], STATUS_DELAY_SECONDS)
        elif resource is self.nodes:
            self._nodes_version += 1
            for key in self._keys.values():
                self._mark(key)

    def _mark(self, key: tuple[str, str], delay: float = RECONCILE_DELAY_SECONDS) -> None:
        self._dirty.add(key)
        if not self._pending:
            self._pending = True
            self.lab.work.call_later(delay, self._reconcile_dirty)

    def _reconcile_dirty(self) -> None:
        self._pending = False
        dirty, self._dirty = self._dirty, set()
        for namespace, name in sorted(dirty):
            self.reconcile(namespace, name)

    # Reconcile ---------------------------------------------------------------------------

    def _owned_pods(self, uid: str) -> list[dict]:
        pods = []
        for namespace, name in sorted(self._owned.get(uid, ())):
            entry = self.store.get(self.pods, namespace, name)
            if entry is not None:
                pods.append(entry.obj)
        return pods

    def reconcile(self, namespace: str, name: str) -> None:
        entry = self.store.get(self.daemonsets, namespace, name)
        if entry is None:
            return
        daemonset = entry.obj
        if daemonset["metadata"].get("deletionTimestamp"):
            return
        uid = daemonset["metadata"]["uid"]
        generation = str(daemonset["metadata"].get("generation", 1))
        template = (daemonset.get("spec") or {}).get("template") or {}
        key = (generation, self._nodes_version)
        cached = self._wanted.get(uid)
        if cached is not None and cached[0] == key:
            wanted = cached[1]
        else:
            wanted = {
                node.obj["metadata"]["name"]
                for node in self.store.items(self.nodes)
                if node_admits(template.get("spec") or {}, node.obj)
            }
            self._wanted[uid] = (key, wanted)
        by_node: dict[str, list[dict]] = {}
        for pod in self._owned_pods(uid):
            node = _pinned_node(pod)
            by_node.setdefault(node, []).append(pod)
        for node, pods in by_node.items():
            keep = node in wanted
            for pod in pods:
                labels = pod["metadata"].get("labels") or {}
                stale = labels.get("pod-template-generation", generation) != generation
                if (not keep or stale or pod is not pods[0]) and not pod["metadata"].get(
                    "deletionTimestamp"
                ):
                    self._delete_pod(pod)
        for node in sorted(wanted - set(by_node)):
            self._create_pod(daemonset, node, generation)
        self._write_status(daemonset, wanted, generation)

    def _create_pod(self, daemonset: dict, node: str, generation: str) -> None:
        metadata = daemonset["metadata"]
        template = copy.deepcopy(daemonset["spec"]["template"])
        pod_meta = template.get("metadata") or {}
        labels = {
            **(pod_meta.get("labels") or {}),
            "controller-revision-hash": _revision_hash(daemonset["spec"]["template"]),
            "pod-template-generation": generation,
        }
        spec = template.get("spec") or {}
        affinity = spec.setdefault("affinity", {}).setdefault("nodeAffinity", {})
        affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {
            "nodeSelectorTerms": [
                {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}
            ]
        }
        tolerations = spec.setdefault("tolerations", [])
        extra = list(_DAEMON_TOLERATIONS)
        if spec.get("hostNetwork"):
            extra.append(("node.kubernetes.io/network-unavailable", "NoSchedule"))
        for key, effect in extra:
            if not any(t.get("key") == key and t.get("effect") == effect for t in tolerations):
                tolerations.append({"key": key, "operator": "Exists", "effect": effect})
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "generateName": f"{metadata['name']}-",
                "namespace": metadata["namespace"],
                "labels": labels,
                "annotations": dict(pod_meta.get("annotations") or {}),
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "DaemonSet",
                        "name": metadata["name"],
                        "uid": metadata["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": spec,
        }
        try:
            created = self.lab.objects.create(self.pods, metadata["namespace"], pod, MANAGER)
        except ApiError as error:
            self.lab.events.record(
                daemonset,
                "Warning",
                "FailedCreate",
                f"Error creating: {error}",
                "daemonset-controller",
            )
            return
        self.lab.events.record(
            daemonset,
            "Normal",
            "SuccessfulCreate",
            f"Created pod: {created.obj['metadata']['name']}",
            "daemonset-controller",
        )

    def _delete_pod(self, pod: dict) -> None:
        metadata = pod["metadata"]
        try:
            self.lab.objects.delete(self.pods, metadata["namespace"], metadata["name"])
        except ApiError:
            return

    def _write_status(self, daemonset: dict, wanted: set[str], generation: str) -> None:
        pods = [
            pod
            for pod in self._owned_pods(daemonset["metadata"]["uid"])
            if not pod["metadata"].get("deletionTimestamp")
        ]
        on_wanted = [pod for pod in pods if _pinned_node(pod) in wanted]
        ready = [pod for pod in on_wanted if _ready(pod)]
        updated = [
            pod
            for pod in on_wanted
            if (pod["metadata"].get("labels") or {}).get("pod-template-generation") == generation
        ]
        status = {
            "currentNumberScheduled": len({_pinned_node(p) for p in on_wanted}),
            "numberMisscheduled": len({_pinned_node(p) for p in pods} - wanted),
            "desiredNumberScheduled": len(wanted),
            "numberReady": len(ready),
            "observedGeneration": int(generation),
            "updatedNumberScheduled": len(updated),
            "numberAvailable": len(ready),
        }
        if len(wanted) > len(ready):
            status["numberUnavailable"] = len(wanted) - len(ready)
        if (daemonset.get("status") or {}) == status:
            return
        updated_ds = {**daemonset, "metadata": dict(daemonset["metadata"]), "status": status}
        self.lab.objects.write(self.daemonsets, updated_ds, MANAGER)

    def _collect_garbage(self, uid: str) -> None:
        """The garbage collector: a deleted DaemonSet's pods go too."""
        self._keys.pop(uid, None)
        self._wanted.pop(uid, None)
        for pod in self._owned_pods(uid):
            if not pod["metadata"].get("deletionTimestamp"):
                self._delete_pod(pod)


def _pinned_node(pod: dict) -> str | None:
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return spec["nodeName"]
    for term in required_node_terms(spec):
        for requirement in term.get("matchFields") or ():
            if requirement.get("key") == "metadata.name" and requirement.get("values"):
                return requirement["values"][0]
    return None
