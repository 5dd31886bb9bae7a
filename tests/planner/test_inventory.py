import pytest

from planner.models import Node, NodeNIC

pytestmark = pytest.mark.django_db

CSV = """node,gpu_count,rail,pf_name,pci_address,numa_node,vf_count,rdma_device,labels
gpu-a,8,0,ens1f0np0,0000:0c:00.0,0,8,mlx5_0,zone=a;rack=r1
gpu-a,8,1,ens2f0np0,0000:2a:00.0,0,8,mlx5_1,
gpu-b,8,0,ens1f0np0,0000:0c:00.0,0,8,mlx5_0,
"""

YAML = """
nodes:
  - name: gpu-c
    gpu_count: 4
    labels: {zone: b}
    nics:
      - {rail: 0, pf_name: ens1f0np0, pci_address: "0000:0c:00.0", numa_node: 1, vf_count: 4, rdma_device: mlx5_0}
"""


def test_csv_and_yaml_inventory_import(planner_api, seed_plan):
    url = f"/api/plans/{seed_plan.id}/import-nodes/"
    response = planner_api.post(url, {"text": CSV, "filename": "nodes.csv"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json() == {
        "nodes_created": 2,
        "nodes_updated": 0,
        "nics_created": 3,
        "nics_updated": 0,
    }
    gpu_a = Node.objects.get(plan=seed_plan, name="gpu-a")
    assert gpu_a.labels == {"zone": "a", "rack": "r1"}
    assert gpu_a.nics.get(rail__index=1).rdma_device == "mlx5_1"
    response = planner_api.post(url, YAML, content_type="application/yaml")
    assert response.status_code == 200, response.json()
    assert NodeNIC.objects.get(node__name="gpu-c").numa_node == 1


def test_bad_inventory_names_the_line_and_field_and_writes_nothing(planner_api, seed_plan):
    bad = CSV + "gpu-d,8,9,ens1,0000:0c:00.0,x,8,mlx5_0,\ngpu-e,8,0,ens1,zz:0c,0,8,mlx5_0,\n"
    response = planner_api.post(
        f"/api/plans/{seed_plan.id}/import-nodes/",
        {"text": bad, "filename": "n.csv"},
        format="json",
    )
    assert response.status_code == 400
    errors = response.json()
    assert "not a whole number" in errors["line 5.numa_node"][0]
    assert "No rail with index 9" in errors["line 5.rail"][0]  # every problem at once
    assert "not a PCI address" in errors["line 6.pci_address"][0]
    assert not Node.objects.filter(name="gpu-a").exists()


def test_unknown_rail_in_yaml_is_reported(planner_api, seed_plan):
    text = "- name: n1\n  nics:\n    - {rail: 12}\n"
    response = planner_api.post(
        f"/api/plans/{seed_plan.id}/import-nodes/", {"text": text}, format="json"
    )
    assert response.status_code == 400
    assert "No rail with index 12" in response.json()["nodes.0.nics.0.rail"][0]


def test_host_ips_are_checked_against_the_rail_and_each_other(planner_api, seed_plan):
    text = (
        "node,rail,host_ip\n"
        "n1,0,10.50.0.9\n"  # inside the 10.50.0.0/24 exclusion
        "n2,0,10.50.255.255\n"  # broadcast
        "n3,0,10.50.9.9\n"
        "n4,0,10.50.9.9\n"  # the same as n3
    )
    response = planner_api.post(
        f"/api/plans/{seed_plan.id}/import-nodes/",
        {"text": text, "filename": "h.csv"},
        format="json",
    )
    errors = response.json()
    assert response.status_code == 400
    assert "inside an exclusion" in errors["line 2.host_ip"][0]
    assert "outside the usable pod range" in errors["line 3.host_ip"][0]
    assert "already the host IP of n3" in errors["line 5.host_ip"][0]
    assert "line 4.host_ip" not in errors


def test_a_second_import_updates_nodes_and_nics_in_bulk(planner_api, seed_plan):
    url = f"/api/plans/{seed_plan.id}/import-nodes/"
    assert (
        planner_api.post(url, {"text": CSV, "filename": "nodes.csv"}, format="json").status_code
        == 200
    )
    again = """
nodes:
  - name: gpu-a
    gpu_count: 4
    nics:
      - {rail: 0, vf_count: 2, host_ip: 10.50.1.9}
      - {rail: 2, pf_name: ens3f0np0}
  - name: gpu-d
    nics: [{rail: 0}]
  - name: gpu-d
    nics: [{rail: 0, numa_node: 1}]
"""
    response = planner_api.post(url, again, content_type="application/yaml")
    assert response.status_code == 200, response.json()
    assert response.json() == {
        "nodes_created": 1,
        "nodes_updated": 2,
        "nics_created": 2,
        "nics_updated": 2,
    }
    gpu_a = Node.objects.get(plan=seed_plan, name="gpu-a")
    assert gpu_a.gpu_count == 4 and gpu_a.labels == {"zone": "a", "rack": "r1"}
    rail0 = gpu_a.nics.get(rail__index=0)
    assert (rail0.vf_count, rail0.pf_name, rail0.host_ip) == (2, "ens1f0np0", "10.50.1.9")
    assert rail0.host_int == 0x0A320109
    assert gpu_a.nics.get(rail__index=2).pf_name == "ens3f0np0"
    gpu_d = NodeNIC.objects.get(node__name="gpu-d")
    assert (gpu_d.numa_node, gpu_d.vf_count, gpu_d.pf_name, gpu_d.host_ip) == (1, 1, "", None)


def test_importing_the_same_inventory_again_writes_nothing(planner_api, seed_plan):
    """Only rows whose values change are written: an unchanged re-import sends no UPDATE, and a
    change of one field writes the rows it changes."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    url = f"/api/plans/{seed_plan.id}/import-nodes/"
    body = {"text": CSV, "filename": "nodes.csv"}
    assert planner_api.post(url, body, format="json").status_code == 200
    with CaptureQueriesContext(connection) as queries:
        response = planner_api.post(url, body, format="json")
    assert response.json() == {
        "nodes_created": 0,
        "nodes_updated": 2,
        "nics_created": 0,
        "nics_updated": 3,
    }
    assert not [q["sql"] for q in queries if q["sql"].startswith("UPDATE")]
    changed = CSV.replace("gpu-b,8,0,ens1f0np0", "gpu-b,2,0,ens1f1np1")
    with CaptureQueriesContext(connection) as queries:
        assert planner_api.post(url, {"text": changed}, format="json").status_code == 200
    updates = [q["sql"] for q in queries if q["sql"].startswith("UPDATE")]
    assert len(updates) == 2, updates  # one for the node, one for its NIC
    gpu_b = Node.objects.get(plan=seed_plan, name="gpu-b")
    assert (gpu_b.gpu_count, gpu_b.labels) == (2, {})
    assert gpu_b.nics.get().pf_name == "ens1f1np1"
    assert Node.objects.get(plan=seed_plan, name="gpu-a").labels == {"zone": "a", "rack": "r1"}
