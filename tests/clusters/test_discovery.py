import pytest

from clusters import tasks
from planner.models import NodeNIC

pytestmark = pytest.mark.django_db


def test_discovery_reads_nodes_and_sriov_node_states_and_diffs_the_plan(
    operator_api, lab_cluster, seed_plan
):
    assert tasks.discover_nodes(lab_cluster.pk) == 4  # run inline: the task body, no broker needed
    body = operator_api.get(
        f"/api/clusters/{lab_cluster.id}/discovery/?plan={seed_plan.slug}"
    ).json()
    node = body["nodes"][0]
    assert node["name"] == "gpu-node-0" and node["gpus"] == 8
    assert node["vf_resources"]["nvidia.com/rail0_vf"] == 8
    assert {nic["resource_names"][0] for nic in node["nics"]} == {f"rail{i}_vf" for i in range(8)}
    assert node["nics"][0]["link_speed"]
    diff = body["diff"]
    by_field = {(r["node"], r["rail"], r["field"]): r for r in diff}
    assert by_field[("gpu-node-0", None, "gpu_count")]["status"] == "match"
    assert by_field[("gpu-node-0", 0, "vf_count")]["status"] == "match"
    pf = by_field[("gpu-node-0", 0, "pf_name")]
    assert (
        pf["status"] == "differs"
        and pf["planned"] == "ens1f0np0"
        and pf["discovered"].startswith("enp")
    )


def test_importing_discovery_updates_the_inventory(
    operator_api, viewer_api, lab_cluster, seed_plan
):
    tasks.discover_nodes(lab_cluster.pk)
    url = f"/api/clusters/{lab_cluster.id}/discovery/import/"
    assert viewer_api.post(url, {"plan": seed_plan.slug}, format="json").status_code == 403
    response = operator_api.post(url, {"plan": seed_plan.slug}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["nics_updated"] == 32
    nic = NodeNIC.objects.get(node__name="gpu-node-0", rail__index=0)
    assert nic.pf_name.startswith("enp") and nic.pci_address.startswith("0000:")
    after = operator_api.get(
        f"/api/clusters/{lab_cluster.id}/discovery/?plan={seed_plan.slug}"
    ).json()["diff"]
    assert {r["status"] for r in after if r["field"] in ("pf_name", "pci_address")} == {"match"}
