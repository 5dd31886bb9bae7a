import pytest
import yaml
from django.db import connection
from django.test.utils import CaptureQueriesContext
from kubernetes import client as k8s

from clusters.models import Cluster, Rollout
from tests.helpers import wait_for

pytestmark = pytest.mark.django_db


def register(client, lab, **extra):
    return client.post(
        "/api/clusters/",
        {"name": "lab-a", "kubeconfig": lab.kubeconfig_path.read_text(), **extra},
        format="json",
    )


def test_register_a_cluster_keeps_credentials_encrypted_and_hidden(operator_api, lab, seed_plan):
    response = register(operator_api, lab, plans=[seed_plan.slug])
    assert response.status_code == 201, response.json()
    body = response.json()
    assert "kubeconfig" not in body and body["server"] == lab.url and body["plans"] == ["training"]
    cluster = Cluster.objects.get(pk=body["id"])
    plaintext = lab.kubeconfig_path.read_text()
    assert cluster.kubeconfig_encrypted and lab.token not in cluster.kubeconfig_encrypted
    assert cluster.kubeconfig_text() == plaintext
    listed = operator_api.get("/api/clusters/").json()["results"][0]
    assert "kubeconfig" not in listed and lab.token not in str(listed)


def test_bad_kubeconfigs_and_contexts_name_the_field(operator_api, lab):
    garbage = operator_api.post("/api/clusters/", {"name": "x", "kubeconfig": "{{{"}, format="json")
    assert garbage.status_code == 400 and "not valid YAML" in garbage.json()["kubeconfig"][0]
    no_ctx = register(operator_api, lab, context="nope")
    assert no_ctx.status_code == 400 and "no context 'nope'" in no_ctx.json()["context"][0]
    missing = operator_api.post("/api/clusters/", {"name": "x"}, format="json")
    assert "kubeconfig" in missing.json()
    assert not Cluster.objects.exists()


def test_only_operators_register_and_roll_out(viewer_api, planner_api, lab, lab_cluster, seed_plan):
    assert register(viewer_api, lab).status_code == 403
    assert register(planner_api, lab).status_code == 403
    url = f"/api/clusters/{lab_cluster.id}/rollouts/"
    assert viewer_api.post(url, {"plan": seed_plan.slug}, format="json").status_code == 403
    assert planner_api.post(url, {"plan": seed_plan.slug}, format="json").status_code == 403
    assert viewer_api.get(f"/api/clusters/{lab_cluster.id}/").status_code == 200
    assert viewer_api.get("/api/rollouts/").status_code == 200


def test_a_second_rollout_to_the_same_cluster_gets_409(operator_api, lab_cluster, seed_plan):
    url = f"/api/clusters/{lab_cluster.id}/rollouts/"
    first = operator_api.post(url, {"plan": seed_plan.slug}, format="json")
    assert first.status_code == 202 and first.json()["state"] == "pending"
    second = operator_api.post(url, {"plan": seed_plan.id, "dry_run": True}, format="json")
    assert second.status_code == 409
    assert (
        "already in progress" in second.json()["detail"]
        and f"#{first.json()['id']}" in second.json()["detail"]
    )
    assert Rollout.objects.count() == 1


def test_force_needs_a_reason_and_plans_must_exist(operator_api, lab_cluster, seed_plan):
    url = f"/api/clusters/{lab_cluster.id}/rollouts/"
    forced = operator_api.post(url, {"plan": seed_plan.slug, "force": True}, format="json")
    assert forced.status_code == 400 and "needs a reason" in forced.json()["force_reason"][0]
    unknown = operator_api.post(url, {"plan": "nope"}, format="json")
    assert unknown.status_code == 400 and "No plan" in unknown.json()["plan"][0]


def test_history_filters_by_cluster_and_plan(operator_api, lab_cluster, seed_plan, operator_user):
    from clusters import rollout

    record = rollout.request_rollout(lab_cluster, seed_plan, operator_user, dry_run=True)
    Rollout.objects.filter(pk=record.pk).update(state="succeeded")
    by_plan = operator_api.get(
        f"/api/rollouts/?cluster={lab_cluster.id}&plan={seed_plan.slug}"
    ).json()
    assert [r["id"] for r in by_plan["results"]] == [record.id]
    assert by_plan["results"][0]["created_by"] == operator_user.username
    assert operator_api.get("/api/rollouts/?plan=other").json()["results"] == []
    detail = operator_api.get(f"/api/rollouts/{record.id}/").json()
    assert [obj["kind"] for obj in detail["bundle"]].count("NetworkAttachmentDefinition") == 8
    assert operator_api.get("/api/rollouts/?cluster=abc").status_code == 400
    assert operator_api.get(f"/api/rollouts/?plan={seed_plan.id}").json()["count"] == 1
    assert operator_api.get("/api/rollouts/?state=failed").status_code == 400  # unknown filter


def test_cluster_lists_take_plans_by_id_or_slug_and_refuse_unknown_parameters(
    viewer_api, lab_cluster, seed_plan
):
    for key in (seed_plan.id, seed_plan.slug):
        assert [
            c["id"] for c in viewer_api.get(f"/api/clusters/?plan={key}").json()["results"]
        ] == [lab_cluster.id]
    assert viewer_api.get("/api/clusters/?plan=nope").status_code == 400
    assert viewer_api.get("/api/clusters/?team=a").status_code == 400
    pods = f"/api/clusters/{lab_cluster.id}/pods/"
    assert viewer_api.get(pods + "?problem=any&limit=5").status_code == 200
    assert viewer_api.get(pods + "?problems=any").status_code == 400
    assert viewer_api.get(f"/api/clusters/{lab_cluster.id}/rollouts/?plan=x").status_code == 400
    discovery = f"/api/clusters/{lab_cluster.id}/discovery/"
    assert viewer_api.get(f"{discovery}?plan={seed_plan.id}").status_code == 200
    assert viewer_api.get(f"{discovery}?plan=nope").status_code == 400
    assert viewer_api.get(f"{discovery}?pln={seed_plan.slug}").status_code == 400


@pytest.mark.django_db(transaction=True)
def test_a_drift_check_through_the_api(
    operator_api, viewer_api, lab, lab_cluster, seed_plan, celery_worker_thread
):
    from clusters import rollout

    record = rollout.request_rollout(lab_cluster, seed_plan, None)
    assert rollout.execute(record.pk) == "succeeded"
    url = f"/api/clusters/{lab_cluster.id}/drift-check/"
    assert viewer_api.post(url).status_code == 403  # operators act
    with CaptureQueriesContext(connection) as queries:
        queued = operator_api.post(url)
    assert len(queries) <= 6, [q["sql"] for q in queries]  # auth, roles, the cluster
    assert queued.status_code == 202 and queued.json()["queued"] == "drift-check"
    assert queued.json()["drift_checked_at"] is None

    def checked():
        body = operator_api.get(f"/api/clusters/{lab_cluster.id}/").json()
        return body if body["drift_checked_at"] else None

    body = wait_for(checked, timeout=30)
    assert (body["drifted"], body["drift_diff"]) == (False, "")
    k8s.CustomObjectsApi(lab.api_client()).delete_namespaced_custom_object(
        "k8s.cni.cncf.io", "v1", "ai-training", "network-attachment-definitions", "sriov-rail-4"
    )
    before = body["drift_checked_at"]
    assert operator_api.post(url).status_code == 202
    body = wait_for(
        lambda: (
            (b := operator_api.get(f"/api/clusters/{lab_cluster.id}/").json())
            and b["drift_checked_at"] != before
            and b
        ),
        timeout=30,
    )
    assert body["drifted"] and "sriov-rail-4: missing" in body["drift_diff"]


@pytest.mark.django_db(transaction=True)
def test_rollback_and_fan_out_through_the_api(
    operator_api, lab, lab_cluster, seed_plan, celery_worker_thread
):
    fan = operator_api.post(f"/api/plans/{seed_plan.slug}/rollouts/", {}, format="json")
    assert fan.status_code == 202 and len(fan.json()["rollouts"]) == 1
    first_id = fan.json()["rollouts"][0]["id"]
    wait_for(lambda: Rollout.objects.get(pk=first_id).state == "succeeded", timeout=60)
    preview = operator_api.get(f"/api/rollouts/{first_id}/rollback/").json()
    assert preview["allowed"] and preview["restores_revision"] == 1
    assert preview["current_revision"] == 1 and {c["action"] for c in preview["changes"]} == {
        "unchanged"
    }
    no_reason = operator_api.post(
        f"/api/rollouts/{first_id}/rollback/", {"prune": True}, format="json"
    )
    assert no_reason.status_code == 400 and "needs a reason" in no_reason.json()["reason"][0]
    back = operator_api.post(f"/api/rollouts/{first_id}/rollback/")
    assert back.status_code == 202 and back.json()["rollback_of"] == first_id
    assert back.json()["restores_revision"] == 1 and not back.json()["prune"]
    wait_for(lambda: Rollout.objects.get(pk=back.json()["id"]).state == "succeeded", timeout=60)
    done = Rollout.objects.get(pk=back.json()["id"])
    # The bundle was already there: no changes, so no revision number.
    assert done.revision is None and done.message.startswith("Restored revision 1: No changes")
    detail = operator_api.get(f"/api/rollouts/{done.id}/").json()
    assert (detail["revision"], detail["revision_label"]) == (None, "no changes")
    dry = operator_api.post(
        f"/api/clusters/{lab_cluster.pk}/rollouts/",
        {"plan": seed_plan.slug, "dry_run": True},
        format="json",
    ).json()["id"]
    wait_for(lambda: Rollout.objects.get(pk=dry).state == "succeeded", timeout=60)
    assert not operator_api.get(f"/api/rollouts/{dry}/rollback/").json()["allowed"]
    refused = operator_api.post(f"/api/rollouts/{dry}/rollback/")
    assert refused.status_code == 400 and "was a dry run" in refused.json()["rollback_of"][0]
    lab_cluster.plans.remove(seed_plan)
    unbound = operator_api.post(f"/api/rollouts/{first_id}/rollback/")
    assert unbound.status_code == 400 and "no longer bound" in unbound.json()["rollback_of"][0]


def test_kubeconfig_from_the_lab_has_ca_data_and_a_token(lab):
    config = yaml.safe_load(lab.kubeconfig_path.read_text())
    assert config["clusters"][0]["cluster"]["certificate-authority-data"]
    assert config["users"][0]["user"]["token"] == lab.token


def test_each_cluster_sets_its_own_refresh_interval(operator_api, lab_cluster):
    from django.utils import timezone

    from clusters import snapshots

    response = operator_api.patch(
        f"/api/clusters/{lab_cluster.id}/", {"inspect_interval_seconds": 15}, format="json"
    )
    assert response.status_code == 200 and response.json()["inspect_interval_seconds"] == 15
    Cluster.objects.filter(pk=lab_cluster.pk).update(inspect_attempted_at=timezone.now())
    assert lab_cluster.pk not in snapshots.due()
    later = timezone.now() + timezone.timedelta(seconds=16)
    assert lab_cluster.pk in snapshots.due(later)
    operator_api.patch(
        f"/api/clusters/{lab_cluster.id}/", {"inspect_interval_seconds": 0}, format="json"
    )
    assert lab_cluster.pk not in snapshots.due(later)  # 0 turns periodic refresh off


def test_exec_output_is_for_operators_only(operator_api, viewer_api, lab_cluster):
    from clusters.models import ExecRun

    run = ExecRun.objects.create(
        cluster=lab_cluster, namespace="ai-training", pod="p", command="env", stdout="TOKEN=secret"
    )
    assert viewer_api.get(f"/api/exec-runs/{run.id}/").status_code == 403
    assert operator_api.get(f"/api/exec-runs/{run.id}/").json()["stdout"] == "TOKEN=secret"


def test_the_connection_test_reports_the_cluster(lab, lab_cluster):
    from clusters import tasks

    assert tasks.test_connection(lab_cluster.pk) is True  # the task body, inline
    lab_cluster.refresh_from_db()
    assert lab_cluster.reachable and lab_cluster.server_version.startswith("v1.")
    assert lab_cluster.node_count == 4 and lab_cluster.multus_installed is True
    assert lab_cluster.sriov_operator is True  # the lab serves sriovnetwork.openshift.io
    assert sorted(lab_cluster.vf_resources) == [f"nvidia.com/rail{i}_vf" for i in range(8)]
    assert lab_cluster.vf_resources["nvidia.com/rail0_vf"]["gpu-node-0"] == "8"
    assert lab_cluster.is_lab  # fields the test does not own are left alone
    lab.stop()
    assert tasks.test_connection(lab_cluster.pk) is False
    lab_cluster.refresh_from_db()
    assert (
        lab_cluster.reachable is False and "Cannot reach the API server" in lab_cluster.last_error
    )
