"""What every renderer shares: API versions, annotations, labels, defaults, and ManifestError."""

from __future__ import annotations

from planner.seed import SEED_IMAGE

NAD_API_VERSION = "k8s.cni.cncf.io/v1"


NAD_KIND = "NetworkAttachmentDefinition"


SRIOV_API_VERSION = "sriovnetwork.openshift.io/v1"


RESOURCE_NAME_ANNOTATION = "k8s.v1.cni.cncf.io/resourceName"


NETWORKS_ANNOTATION = "k8s.v1.cni.cncf.io/networks"


MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"


MANAGED_BY = "railstudio"


PLAN_LABEL = "railstudio.io/plan"


HOSTNAME_LABEL = "kubernetes.io/hostname"


DEFAULT_IMAGE = SEED_IMAGE


DEFAULT_GPU_RESOURCE = "nvidia.com/gpu"


DEFAULT_GPUS = 8


RDMA_CAPABILITIES = ("IPC_LOCK", "SYS_NICE")


DEFAULT_OPERATOR_NAMESPACE = "sriov-network-operator"


DEFAULT_SRIOV_NODE_SELECTOR = {"feature.node.kubernetes.io/network-sriov.capable": "true"}


MAX_IP_PREVIEW = 10_000


CNI_TYPES = ("sriov", "ib-sriov", "host-device", "macvlan")


MODES = ("nad", "sriov-operator")


LAYOUTS = ("per-node", "per-numa")


class ManifestError(ValueError):
    """The plan or the options cannot be rendered; `errors` lists every reason."""

    def __init__(self, errors: list[str] | str):
        self.errors = [errors] if isinstance(errors, str) else list(errors)
        super().__init__("; ".join(self.errors))
