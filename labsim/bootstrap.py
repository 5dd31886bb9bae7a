"""The objects a freshly installed GPU cluster already has: namespaces, CRDs, nodes and their
leases, and (from system_components and sriov_objects) the system pods and SR-IOV state."""

from datetime import UTC, datetime

from labsim.meta import new_uid, now_rfc3339, object_metadata
from labsim.quantity import parse_quantity
from labsim.resources import IPPOOL_TYPE, NAD_TYPE, SRIOV_NODE_STATE_TYPE
from labsim.spec import GPU_RESOURCE, NodeSpec
from labsim.sriov_objects import SRIOV_OPERATOR_NAMESPACE, sriov_node_state, sriovdp_configmap
from labsim.system_components import (
    coredns_deployment,
    daemonset_object,
    system_components,
    system_pod,
)

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def namespace_object(name: str) -> dict:
    """A namespace as kube-apiserver (the system ones) or an admin's kubectl created it."""
    manager = "kube-apiserver" if name in SYSTEM_NAMESPACES else "kubectl-create"
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": object_metadata(
            name,
            labels={"kubernetes.io/metadata.name": name},
            managedFields=[
                {
                    "manager": manager,
                    "operation": "Update",
                    "apiVersion": "v1",
                    "time": now_rfc3339(),
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:status": {"f:phase": {}}},
                }
            ],
        ),
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def default_service_account(namespace: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": object_metadata("default", namespace),
    }


def kubernetes_service(port: int) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "labels": {"component": "apiserver", "provider": "kubernetes"},
        },
        "spec": {
            "ports": [{"name": "https", "protocol": "TCP", "port": 443, "targetPort": port}],
            "clusterIP": "10.96.0.1",
            "type": "ClusterIP",
            "sessionAffinity": "None",
        },
    }


def kube_dns_service() -> dict:
    """As kubeadm installs CoreDNS's Service."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "kube-dns",
            "namespace": "kube-system",
            "labels": {
                "k8s-app": "kube-dns",
                "kubernetes.io/cluster-service": "true",
                "kubernetes.io/name": "CoreDNS",
            },
            "annotations": {"prometheus.io/port": "9153", "prometheus.io/scrape": "true"},
        },
        "spec": {
            "ports": [
                {"name": "dns", "protocol": "UDP", "port": 53, "targetPort": 53},
                {"name": "dns-tcp", "protocol": "TCP", "port": 53, "targetPort": 53},
                {"name": "metrics", "protocol": "TCP", "port": 9153, "targetPort": 9153},
            ],
            "selector": {"k8s-app": "kube-dns"},
            "clusterIP": "10.96.0.10",
        },
    }


def root_ca_configmap(namespace: str, ca_pem: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": object_metadata(
            "kube-root-ca.crt",
            namespace,
            annotations={
                "kubernetes.io/description": "Contains a CA bundle that can be used to verify the "
                "kube-apiserver when using internal endpoints such as the internal service IP or "
                "kubernetes.default.svc. No other usage is guaranteed across distributions of "
                "Kubernetes clusters."
            },
        ),
        "data": {"ca.crt": ca_pem},
    }


def crd_object(resource) -> dict:
    names = {
        "plural": resource.plural,
        "singular": resource.singular,
        "kind": resource.kind,
        "listKind": resource.list_kind,
    }
    if resource.short_names:
        names["shortNames"] = list(resource.short_names)
    now = now_rfc3339()
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": object_metadata(f"{resource.plural}.{resource.group}", generation=1),
        "spec": {
            "group": resource.group,
            "names": names,
            "scope": "Namespaced" if resource.namespaced else "Cluster",
            "versions": [
                {
                    "name": resource.version,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": resource.schema},
                    **(
                        {"subresources": {"status": {}}}
                        if "status" in resource.subresources
                        else {}
                    ),
                }
            ],
            "conversion": {"strategy": "None"},
        },
        "status": {
            "conditions": [
                {
                    "type": "NamesAccepted",
                    "status": "True",
                    "lastTransitionTime": now,
                    "reason": "NoConflicts",
                    "message": "no conflicts found",
                },
                {
                    "type": "Established",
                    "status": "True",
                    "lastTransitionTime": now,
                    "reason": "InitialNamesAccepted",
                    "message": "the initial names have been accepted",
                },
            ],
            "acceptedNames": names,
            "storedVersions": [resource.version],
        },
    }


def _memory_ki(memory: str) -> int:
    return int(parse_quantity(memory) / 1024)


def node_resources(node: NodeSpec, unregistered: set[str]) -> tuple[dict, dict]:
    memory_ki = _memory_ki(node.memory)
    capacity = {
        "cpu": node.cpu,
        "ephemeral-storage": "1844244028Ki",
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
        "memory": f"{memory_ki}Ki",
        GPU_RESOURCE: "0" if GPU_RESOURCE in unregistered else str(len(node.gpus)),
        "pods": str(node.pods),
    }
    vf_counts: dict[str, int] = {}
    for rail in node.rails:
        vf_counts[rail.resource] = vf_counts.get(rail.resource, 0) + rail.vfs
    for resource, count in vf_counts.items():
        capacity[resource] = "0" if resource in unregistered else str(count)
    for resource in unregistered:
        capacity.setdefault(resource, "0")
    allocatable = dict(capacity)
    allocatable["memory"] = f"{max(memory_ki - 1048576, 0)}Ki"
    allocatable["ephemeral-storage"] = "1699648904135"
    return dict(sorted(capacity.items())), dict(sorted(allocatable.items()))


def node_object(node: NodeSpec, kubernetes_version: str, unregistered: set[str]) -> dict:
    capacity, allocatable = node_resources(node, unregistered)
    now = now_rfc3339()
    gpu_model = node.gpus[0].model if node.gpus else ""
    labels = {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": node.name,
        "kubernetes.io/os": "linux",
        "feature.node.kubernetes.io/network-sriov.capable": "true",
    }
    if node.gpus:
        labels.update(
            {
                "nvidia.com/gpu.present": "true",
                "nvidia.com/gpu.product": gpu_model,
                "nvidia.com/gpu.count": str(len(node.gpus)),
            }
        )
    labels.update(node.labels)
    conditions = [
        (
            "MemoryPressure",
            "False",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available",
        ),
        ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
    ]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": object_metadata(
            node.name,
            labels=labels,
            annotations={
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
        ),
        "spec": {"podCIDR": node.pod_cidr, "podCIDRs": [node.pod_cidr]},
        "status": {
            "capacity": capacity,
            "allocatable": allocatable,
            "conditions": [
                {
                    "type": kind,
                    "status": status,
                    "lastHeartbeatTime": now,
                    "lastTransitionTime": now,
                    "reason": reason,
                    "message": message,
                }
                for kind, status, reason, message in conditions
            ],
            "addresses": [
                {"type": "InternalIP", "address": node.internal_ip},
                {"type": "Hostname", "address": node.name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": new_uid().replace("-", ""),
                "systemUUID": new_uid(),
                "bootID": new_uid(),
                "kernelVersion": "5.15.0-105-generic",
                "osImage": "Ubuntu 22.04.4 LTS",
                "containerRuntimeVersion": "containerd://1.7.18",
                "kubeletVersion": kubernetes_version,
                "kubeProxyVersion": kubernetes_version,
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        },
    }


def node_lease(node: NodeSpec) -> dict:
    renew = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": object_metadata(node.name, "kube-node-lease"),
        "spec": {"holderIdentity": node.name, "leaseDurationSeconds": 40, "renewTime": renew},
    }


def populate(lab) -> None:
    """Create the initial objects directly in the store (no admission, no lifecycle)."""
    store = lab.store
    registry = lab.registry
    namespaces = list(SYSTEM_NAMESPACES)
    if lab.spec.components.sriov_device_plugin:
        namespaces.append(SRIOV_OPERATOR_NAMESPACE)
    namespaces += [ns for ns in lab.spec.namespaces if ns not in namespaces]
    ns_type = registry.by_key("", "namespaces")
    configmaps = registry.by_key("", "configmaps")
    accounts = registry.by_key("", "serviceaccounts")
    for name in namespaces:
        store.put(ns_type, namespace_object(name))
        store.put(accounts, default_service_account(name))
        if lab.ca_pem:
            store.put(configmaps, root_ca_configmap(name, lab.ca_pem))
    crd_type = registry.by_key("apiextensions.k8s.io", "customresourcedefinitions")
    for resource in (NAD_TYPE, IPPOOL_TYPE, SRIOV_NODE_STATE_TYPE):
        if resource in registry.custom_types:
            store.put(crd_type, crd_object(resource))
    nodes_type = registry.by_key("", "nodes")
    for node in lab.spec.nodes:
        store.put(
            nodes_type,
            node_object(node, lab.spec.kubernetes_version, lab.faults.unregistered_on(node.name)),
        )
    leases = registry.by_key("coordination.k8s.io", "leases")
    for node in lab.spec.nodes:
        store.put(leases, node_lease(node))
    if lab.spec.components.sriov_device_plugin:
        store.put(configmaps, sriovdp_configmap(lab))
        states = registry.by_key(SRIOV_NODE_STATE_TYPE.group, SRIOV_NODE_STATE_TYPE.plural)
        for node in lab.spec.nodes:
            store.put(states, sriov_node_state(lab, node))
    daemonsets = registry.by_key("apps", "daemonsets")
    pods = registry.by_key("", "pods")
    for name, app, container, image, cpu, memory in system_components(lab):
        daemonset = store.put(
            daemonsets,
            daemonset_object(name, app, container, image, cpu, memory, len(lab.spec.nodes)),
        ).obj
        for node in lab.spec.nodes:
            pod = system_pod(daemonset, node, node.internal_ip, host_network=True)
            lab.register_system_pod(store.put(pods, pod).obj, node)
    if lab.spec.nodes:
        lab.objects.create(
            registry.by_key("", "services"), "kube-system", kube_dns_service(), "kubeadm"
        )
        deployment = store.put(registry.by_key("apps", "deployments"), coredns_deployment()).obj
        for replica in range(2):
            node = lab.spec.nodes[replica % len(lab.spec.nodes)]
            pod = system_pod(deployment, node, "", host_network=False)
            address, _ = lab.pod_cidrs.allocate(node.name, f"kube-system/{pod['metadata']['name']}")
            pod["status"]["podIP"] = str(address)
            pod["status"]["podIPs"] = [{"ip": str(address)}]
            lab.register_system_pod(store.put(pods, pod).obj, node)
