"""What schemathesis found while the API description was made true, each as a plain test; and
the description itself: valid, without generator warnings, one operationId per operation."""

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

from clusters.models import Cluster

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent.parent


def test_the_schema_is_valid_without_warnings_and_operation_ids_are_unique(tmp_path):
    out = tmp_path / "schema.yaml"
    result = subprocess.run(
        [sys.executable, "manage.py", "spectacular", "--validate", "--fail-on-warn", "--file", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    schema = yaml.safe_load(out.read_text())
    ids = Counter(
        operation["operationId"]
        for methods in schema["paths"].values()
        for operation in methods.values()
    )
    assert len(ids) >= 60 and max(ids.values()) == 1
    assert "clusters_pods_list" in ids and "clusters_pod_retrieve" in ids
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            codes = set(operation["responses"])
            assert {"401", "403"} <= codes, (method, path)
            if "{" in path:
                assert "404" in codes, (method, path)
            if "requestBody" in operation:
                assert {"400", "413", "415"} <= codes, (method, path)


def test_export_refuses_an_unknown_format(viewer_api, seed_plan):
    response = viewer_api.get("/api/plans/training/export/?format=xml")
    assert response.status_code == 400 and "format" in response.json()


def test_discovery_import_with_a_list_body_is_400(operator_api, seed_plan):
    cluster = Cluster.objects.create(name="c", in_cluster=True, server="in-cluster")
    url = f"/api/clusters/{cluster.pk}/discovery/import/"
    response = operator_api.post(url, [None, None], format="json")
    assert response.status_code == 400


def test_import_nodes_with_a_filename_that_is_not_text_is_400(planner_api, seed_plan):
    url = "/api/plans/training/import-nodes/"
    response = planner_api.post(url, {"text": "node,rail\nx,0\n", "filename": {}}, format="json")
    assert response.status_code == 400 and "filename" in response.json()


def test_a_boolean_filter_with_a_percent_sign_is_400(viewer_api):
    response = viewer_api.get("/api/clusters/?drifted=%25s%25&is_lab=0.3")
    assert response.status_code == 400 and "drifted" in response.json()


def test_preflight_of_yaml_without_objects_is_400(viewer_api):
    response = viewer_api.generic(
        "POST", "/api/preflight/", "null\n", content_type="application/yaml"
    )
    assert response.status_code == 400 and "no Kubernetes object" in response.json()["yaml"][0]


@pytest.mark.parametrize("plans", [{}, [0], "training", [None]])
def test_cluster_plans_must_be_a_list_of_slugs(operator_api, seed_plan, plans):
    response = operator_api.post(
        "/api/clusters/", {"name": "c", "in_cluster": True, "plans": plans}, format="json"
    )
    assert response.status_code == 400 and "plans" in response.json()
    assert not Cluster.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": 5}, "name"),
        ({"name": "p", "rail_count": "8"}, "rail_count"),
        ({"name": "p", "cni_options": None}, "cni_options"),
        ({"name": "p", "pod_options": []}, "pod_options"),
    ],
)
def test_values_of_another_json_type_are_400(planner_api, body, field):
    response = planner_api.post("/api/plans/", body, format="json")
    assert response.status_code == 400 and field in response.json()


def test_plan_ids_in_bodies_may_be_numbers_or_text(viewer_api, seed_plan):
    pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c}]}\n"
    for key in (seed_plan.id, str(seed_plan.id), seed_plan.slug):
        response = viewer_api.post("/api/preflight/", {"yaml": pod, "plan": key}, format="json")
        assert response.status_code == 200, response.json()
