"""The resource types the lab serves, and the discovery documents that describe them."""

import base64
import hashlib
from dataclasses import dataclass, field

from labsim.spec import Components

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
# The order the apiserver lists a custom resource's verbs in.
CUSTOM_VERBS = ("delete", "deletecollection", "get", "list", "patch", "create", "update", "watch")
READ_VERBS = ("get", "list", "watch")

# Field selectors each built-in type supports besides metadata.name and metadata.namespace.
POD_FIELDS = (
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
)
EVENT_FIELDS = (
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
)


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    builtin: bool = True
    field_selectors: tuple[str, ...] = ()
    schema: dict | None = field(default=None, compare=False, hash=False)
    has_generation: bool = False
    watch_history: int | None = None
    virtual: bool = False  # answered but never stored (reviews)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> tuple[str, str]:
        return (self.group, self.plural)

    @property
    def qualified_name(self) -> str:
        """`pods`, or `network-attachment-definitions.k8s.cni.cncf.io`, as errors print it."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def kind_qualified(self) -> str:
        return f"{self.kind}.{self.group}" if self.group else self.kind

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def writable(self) -> bool:
        return "create" in self.verbs or "update" in self.verbs

    def allows(self, verb: str) -> bool:
        return verb in self.verbs


_API_VERSION_DOC = (
    "APIVersion defines the versioned schema of this representation of an object. Servers "
    "should convert recognized schemas to the latest internal value, and may reject "
    "unrecognized values. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources"
)
_KIND_DOC = (
    "Kind is a string value representing the REST resource this object represents. Servers may "
    "infer this from the endpoint the client submits requests to. Cannot be updated. In "
    "CamelCase. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds"
)
# As in upstream multus-cni's deployments/multus-daemonset.yml.
NAD_SCHEMA = {
    "description": "NetworkAttachmentDefinition is a CRD schema specified by the Network "
    "Plumbing Working Group to express the intent for attaching pods to one or more logical "
    "or physical networks. More information available at: "
    "https://github.com/k8snetworkplumbingwg/multi-net-spec",
    "type": "object",
    "properties": {
        "apiVersion": {"description": _API_VERSION_DOC, "type": "string"},
        "kind": {"description": _KIND_DOC, "type": "string"},
        "metadata": {"type": "object"},
        "spec": {
            "description": "NetworkAttachmentDefinition spec defines the desired state of a "
            "network attachment",
            "type": "object",
            "properties": {
                "config": {
                    "description": "NetworkAttachmentDefinition config is a JSON-formatted CNI "
                    "configuration",
                    "type": "string",
                }
            },
        },
    },
}

IPPOOL_SCHEMA = {
    "type": "object",
    "description": "IPPool is the Schema for the ippools API",
    "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "description": "IPPoolSpec defines the desired state of IPPool",
            "required": ["allocations", "range"],
            "properties": {
                "allocations": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "required": ["id", "podref"],
                        "properties": {
                            "id": {"type": "string"},
                            "ifname": {"type": "string"},
                            "podref": {"type": "string"},
                        },
                    },
                },
                "range": {"type": "string"},
            },
        },
    },
}

SRIOV_NODE_STATE_SCHEMA = {
    "type": "object",
    "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
    },
}

CORE = [
    ResourceType(
        "",
        "v1",
        "namespaces",
        "namespace",
        "Namespace",
        False,
        ("ns",),
        ("create", "delete", "get", "list", "patch", "update", "watch"),
        subresources=("status",),
    ),
    ResourceType(
        "",
        "v1",
        "nodes",
        "node",
        "Node",
        False,
        ("no",),
        ("get", "list", "patch", "update", "watch"),
        subresources=("status",),
    ),
    ResourceType(
        "",
        "v1",
        "pods",
        "pod",
        "Pod",
        True,
        ("po",),
        categories=("all",),
        subresources=("status", "exec", "log"),
        field_selectors=POD_FIELDS,
    ),
    ResourceType("", "v1", "events", "event", "Event", True, ("ev",), field_selectors=EVENT_FIELDS),
    ResourceType("", "v1", "podtemplates", "podtemplate", "PodTemplate", True),
    ResourceType("", "v1", "configmaps", "configmap", "ConfigMap", True, ("cm",)),
    ResourceType(
        "",
        "v1",
        "services",
        "service",
        "Service",
        True,
        ("svc",),
        ("create", "delete", "get", "list", "patch", "update", "watch"),
        categories=("all",),
        subresources=("status",),
    ),
    ResourceType("", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", True, ("sa",)),
]
APPS = [
    ResourceType(
        "apps",
        "v1",
        "daemonsets",
        "daemonset",
        "DaemonSet",
        True,
        ("ds",),
        categories=("all",),
        subresources=("status",),
        has_generation=True,
    ),
    ResourceType(
        "apps",
        "v1",
        "deployments",
        "deployment",
        "Deployment",
        True,
        ("deploy",),
        categories=("all",),
        subresources=("status",),
        has_generation=True,
    ),
]
LEASE_TYPE = ResourceType("coordination.k8s.io", "v1", "leases", "lease", "Lease", True)
ACCESS_REVIEW_TYPE = ResourceType(
    "authorization.k8s.io",
    "v1",
    "selfsubjectaccessreviews",
    "selfsubjectaccessreview",
    "SelfSubjectAccessReview",
    False,
    verbs=("create",),
    virtual=True,
)
CRD_TYPE = ResourceType(
    "apiextensions.k8s.io",
    "v1",
    "customresourcedefinitions",
    "customresourcedefinition",
    "CustomResourceDefinition",
    False,
    ("crd", "crds"),
    READ_VERBS,
    categories=("api-extensions",),
)
NAD_TYPE = ResourceType(
    "k8s.cni.cncf.io",
    "v1",
    "network-attachment-definitions",
    "network-attachment-definition",
    "NetworkAttachmentDefinition",
    True,
    ("net-attach-def",),
    CUSTOM_VERBS,
    builtin=False,
    schema=NAD_SCHEMA,
    has_generation=True,
)
IPPOOL_TYPE = ResourceType(
    "whereabouts.cni.cncf.io",
    "v1alpha1",
    "ippools",
    "ippool",
    "IPPool",
    True,
    verbs=CUSTOM_VERBS,
    builtin=False,
    schema=IPPOOL_SCHEMA,
    has_generation=True,
    watch_history=100,
)
SRIOV_NODE_STATE_TYPE = ResourceType(
    "sriovnetwork.openshift.io",
    "v1",
    "sriovnetworknodestates",
    "sriovnetworknodestate",
    "SriovNetworkNodeState",
    True,
    verbs=READ_VERBS,
    builtin=False,
    schema=SRIOV_NODE_STATE_SCHEMA,
    subresources=("status",),
    has_generation=True,
)


class Registry:
    """The resource types served, looked up by URL parts or by apiVersion and kind."""

    def __init__(self, components: Components):
        custom = []
        if components.multus:
            custom.append(NAD_TYPE)
        if components.whereabouts:
            custom.append(IPPOOL_TYPE)
        if components.sriov_device_plugin:
            custom.append(SRIOV_NODE_STATE_TYPE)
        self.custom_types = custom
        self.types = [*CORE, *APPS, LEASE_TYPE, ACCESS_REVIEW_TYPE, CRD_TYPE, *custom]
        self._by_path = {(t.group, t.version, t.plural): t for t in self.types}
        self._by_kind = {(t.api_version, t.kind): t for t in self.types}
        self.group_versions: dict[str, list[str]] = {}
        for t in self.types:
            versions = self.group_versions.setdefault(t.group, [])
            if t.version not in versions:
                versions.append(t.version)

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_path.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        return self._by_kind.get((api_version, kind))

    def by_key(self, group: str, plural: str) -> ResourceType:
        return next(t for t in self.types if t.group == group and t.plural == plural)

    def serves(self, group: str, version: str) -> bool:
        return version in self.group_versions.get(group, [])

    # Discovery documents -------------------------------------------------------------

    def api_versions(self, server_address: str) -> dict:
        return {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
            ],
        }

    def api_group(self, group: str) -> dict:
        versions = [
            {"groupVersion": f"{group}/{v}", "version": v} for v in self.group_versions[group]
        ]
        return {
            "kind": "APIGroup",
            "apiVersion": "v1",
            "name": group,
            "versions": versions,
            "preferredVersion": versions[0],
        }

    def api_group_list(self) -> dict:
        groups = []
        for group in self.group_versions:
            if not group:
                continue
            entry = self.api_group(group)
            del entry["kind"], entry["apiVersion"]
            groups.append(entry)
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    def resource_list(self, group: str, version: str) -> dict:
        resources = []
        for t in self.types:
            if t.group != group or t.version != version:
                continue
            entry = {
                "name": t.plural,
                "singularName": t.singular,
                "namespaced": t.namespaced,
                "kind": t.kind,
                "verbs": list(t.verbs),
            }
            if t.short_names:
                entry["shortNames"] = list(t.short_names)
            if t.categories:
                entry["categories"] = list(t.categories)
            if not t.virtual:
                entry["storageVersionHash"] = _storage_hash(t)
            resources.append(entry)
            resources.extend(_subresource_entries(t))
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version,
            "resources": resources,
        }


def _storage_hash(t: ResourceType) -> str:
    digest = hashlib.sha256(f"{t.api_version}/{t.kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def _subresource_entries(t: ResourceType) -> list[dict]:
    entries = []
    for sub in t.subresources:
        if sub == "status":
            verbs = ["get", "patch", "update"] if t.writable else ["get"]
            kind = t.kind
        elif sub == "exec":
            verbs, kind = ["create", "get"], "PodExecOptions"
        else:
            verbs, kind = ["get"], t.kind
        entries.append(
            {
                "name": f"{t.plural}/{sub}",
                "singularName": "",
                "namespaced": t.namespaced,
                "kind": kind,
                "verbs": verbs,
            }
        )
    return entries
