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
    # One seed: the seed plan describes the lab's seed hardware, so nothing differs.
    assert {r["status"] for r in body["diff"]} == {"match"}
    assert len(body["diff"]) == 4 * (1 + 8 * 4)  # gpu_count, then 4 fields per rail and node

    NodeNIC.objects.filter(node__name="gpu-node-0", rail__index=0).update(pf_name="ens1f0np0")
    diff = operator_api.get(
        f"/api/clusters/{lab_cluster.id}/discovery/?plan={seed_plan.slug}"
    ).json()["diff"]
    by_field = {(r["node"], r["rail"], r["field"]): r for r in diff}
    assert by_field[("gpu-node-0", None, "gpu_count")]["status"] == "match"
    assert by_field[("gpu-node-0", 0, "vf_count")]["status"] == "match"
    pf = by_field[("gpu-node-0", 0, "pf_name")]
    assert (pf["status"], pf["planned"], pf["discovered"]) == ("differs", "ens1f0np0", "enp24s0np0")
    assert [r for r in diff if r["status"] != "match"] == [pf]


def test_importing_discovery_updates_the_inventory(
    operator_api, viewer_api, lab_cluster, seed_plan
):
    tasks.discover_nodes(lab_cluster.pk)
    NodeNIC.objects.filter(rail__index=0).update(pf_name="ens1f0np0", pci_address="0000:0c:00.0")
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


@pytest.mark.django_db
def test_the_cluster_page_shows_the_planned_vs_discovered_diff_and_imports_it(
    client, operator_user, viewer, lab_cluster, seed_plan
):
    tasks.discover_nodes(lab_cluster.pk)
    NodeNIC.objects.filter(node__name="gpu-node-1", rail__index=2).update(pf_name="ens1f0np0")
    client.force_login(viewer)
    page = client.get(f"/clusters/{lab_cluster.pk}/").content.decode()
    assert "planned vs discovered" in page and "ens1f0np0" in page and "differs" in page
    assert "Import into the plan" not in page  # viewers see, operators act
    assert (
        client.post(f"/clusters/{lab_cluster.pk}/discovery/{seed_plan.slug}/import/").status_code
        == 403
    )
    client.force_login(operator_user)
    done = client.post(
        f"/clusters/{lab_cluster.pk}/discovery/{seed_plan.slug}/import/", HTTP_HX_REQUEST="true"
    )
    assert done.status_code == 200 and "32 NICs written" in done.content.decode()
    assert NodeNIC.objects.get(node__name="gpu-node-1", rail__index=2).pci_address.startswith(
        "0000:"
    )
