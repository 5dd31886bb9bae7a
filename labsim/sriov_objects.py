"""What the SR-IOV device plugin and operator publish: the device plugin's resource list
and one SriovNetworkNodeState per node."""

import json

from labsim.meta import object_metadata
from labsim.resources import SRIOV_NODE_STATE_TYPE
from labsim.spec import NodeSpec

SRIOV_OPERATOR_NAMESPACE = "sriov-network-operator"


def sriovdp_configmap(lab) -> dict:
    resources: dict[str, dict] = {}
    for node in lab.spec.nodes:
        for rail in node.rails:
            prefix, _, name = rail.resource.partition("/")
            entry = resources.setdefault(
                rail.resource,
                {
                    "resourceName": name,
                    "resourcePrefix": prefix,
                    "selectors": {
                        "vendors": ["15b3"],
                        "devices": ["101e"],
                        "pfNames": [],
                        "isRdma": True,
                    },
                },
            )
            pf = f"{rail.pf}#0-{max(rail.vfs - 1, 0)}"
            if pf not in entry["selectors"]["pfNames"]:
                entry["selectors"]["pfNames"].append(pf)
    config = {"resourceList": list(resources.values())}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": object_metadata("sriovdp-config", "kube-system"),
        "data": {"config.json": json.dumps(config, indent=2)},
    }


def sriov_node_state(lab, node: NodeSpec) -> dict:
    inventory = lab.inventory.nodes[node.name]
    interfaces_spec, interfaces_status = [], []
    for rail in node.rails:
        vfs = [vf for vf in inventory.vfs_by_resource.get(rail.resource, []) if vf.rail == rail]
        resource_name = rail.resource.partition("/")[2] or rail.resource
        interfaces_spec.append(
            {
                "pciAddress": rail.pci,
                "numVfs": rail.vfs,
                "name": rail.pf,
                "mtu": rail.mtu,
                "linkType": rail.link_type,
                "vfGroups": [
                    {
                        "resourceName": resource_name,
                        "deviceType": "netdevice",
                        "vfRange": f"0-{max(rail.vfs - 1, 0)}",
                        "policyName": f"rail{rail.index}",
                        "isRdma": True,
                        "mtu": rail.mtu,
                    }
                ],
            }
        )
        interfaces_status.append(
            {
                "name": rail.pf,
                "mac": f"b8:3f:d2:{node.index & 0xFF:02x}:{rail.index:02x}:00",
                "driver": "mlx5_core",
                "pciAddress": rail.pci,
                "vendor": "15b3",
                "deviceID": "1021",
                "mtu": rail.mtu,
                "numVfs": rail.vfs,
                "linkSpeed": rail.link_speed,
                "linkType": rail.link_type,
                "linkAdminState": "up",
                "eSwitchMode": "legacy",
                "totalvfs": max(rail.vfs, 16),
                "Vfs": [
                    {
                        "name": vf.host_netdev,
                        "mac": vf.mac,
                        "driver": "mlx5_core",
                        "pciAddress": vf.pci,
                        "vendor": "15b3",
                        "deviceID": "101e",
                        "Vlan": 0,
                        "mtu": rail.mtu,
                        "vfID": vf.vf_index,
                    }
                    for vf in vfs
                ],
            }
        )
    return {
        "apiVersion": SRIOV_NODE_STATE_TYPE.api_version,
        "kind": SRIOV_NODE_STATE_TYPE.kind,
        "metadata": object_metadata(node.name, SRIOV_OPERATOR_NAMESPACE, generation=1),
        "spec": {"interfaces": interfaces_spec},
        "status": {"interfaces": interfaces_status, "syncStatus": "Succeeded"},
    }
