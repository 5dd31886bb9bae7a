"""Two plans, one cluster: binding a plan whose objects another bound plan writes is refused
(page and API, naming both); a rollout never changes another plan's object (even forced) nor
takes over one Rail Studio did not make unless adopted with a reason (recorded); inspection
judges each interface by the plan that owns the NAD it attaches, not by plan name order."""

import json
from dataclasses import replace

import pytest
from django.urls import reverse
from kubernetes import client as k8s

from clusters import inspect, ownership, services
from clusters.models import Rollout
from planner import documents, manifests
from planner.seed import seed_plan_spec
from tests.clusters.test_inspect import make_pod, rail_entry
from tests.helpers import wait_for

NS = "ai-training"
NAD_GROUP = ("k8s.cni.cncf.io", "v1")


def second_plan_spec(**changes):
    """Another team's plan with the New-plan form's defaults: the same namespace and NAD names."""
    fields = {"name": "Second team", "slug": "second-team", **changes}
    return replace(seed_plan_spec(), **fields)


@pytest.fixture
def second_plan(db):
    return documents.import_plan(documents.document_from_spec(second_plan_spec()))


def finished(record_id: int) -> Rollout:
    return wait_for(
        lambda: (r := Rollout.objects.get(pk=record_id)).state not in ("pending", "running") and r,
        timeout=60,
    )


def live_nads(lab) -> dict[str, dict]:
    api = k8s.CustomObjectsApi(lab.api_client())
    items = api.list_namespaced_custom_object(*NAD_GROUP, NS, "network-attachment-definitions")
    return {item["metadata"]["name"]: item for item in items["items"]}


# ---------------------------------------------------------------------------------------------
# Pure


def nad(name: str, labels: dict | None = None, managers=("kubectl-client-side-apply",)) -> dict:
    return {
        "apiVersion": "k8s.cni.cncf.io/v1",
        "kind": "NetworkAttachmentDefinition",
        "metadata": {
            "name": name,
            "namespace": NS,
            "labels": labels or {},
            "managedFields": [{"manager": m, "operation": "Apply"} for m in managers],
        },
        "spec": {"config": "{}"},
    }


def test_findings_name_the_owner_and_force_cannot_pass_them():
    bundle = manifests.render_nads(seed_plan_spec())[:3]
    keys = [ownership.key_of(obj) for obj in bundle]
    live = {
        keys[0]: nad("sriov-rail-0", {manifests.PLAN_LABEL: "second-team"}, ["railstudio"]),
        keys[1]: nad("sriov-rail-1"),
        keys[2]: nad("sriov-rail-2", {manifests.PLAN_LABEL: "training"}, ["railstudio"]),
    }
    found = ownership.findings(bundle, live, "training")
    assert [item["code"] for item in found] == ["OWNED_BY_OTHER_PLAN", "UNMANAGED_OBJECT"]
    assert "belongs to plan 'second-team'" in found[0]["message"]
    assert "field managers: kubectl-client-side-apply" in found[1]["message"]
    assert ownership.blocking(found, forced=True) == found  # force does not pass ownership
    adopted = ownership.findings(bundle, live, "training", adopt_reason="hand-made in 2023")
    assert [item["code"] for item in adopted] == ["OWNED_BY_OTHER_PLAN", "OBJECT_ADOPTED"]
    assert adopted[1]["severity"] == "info" and "hand-made in 2023" in adopted[1]["message"]


def test_interfaces_are_judged_by_the_plan_that_owns_their_nad():
    """Both plans bound, same namespace and NAD names (bound before the bind check existed);
    the NADs are the second team's (its rollout wrote them), with its subnets. Name order
    puts the seed plan first: judged by it, the healthy pod was INTERFACE_WRONG_SUBNET."""
    seed = seed_plan_spec()
    second = second_plan_spec(
        name="Zeta team",
        rails=tuple(
            replace(rail, subnet=f"10.{150 + rail.index}.0.0/16", exclusions=())
            for rail in seed.rails
        ),
    )
    nads = [
        {**obj, "metadata": {**obj["metadata"], "labels": manifests.plan_labels(second)}}
        for obj in manifests.render_nads(second)
    ]
    pod = make_pod(
        "healthy", rails=(0, 1), entries=[rail_entry(r, f"10.{150 + r}.3.7") for r in (0, 1)]
    )
    by_namespace = {NS: seed}  # what name order gave before

    def statuses(**extra):
        (report,) = inspect.inspect_cluster([pod], [], by_namespace, nads=nads, **extra)
        return [item.status for item in report.interfaces], report

    assert statuses()[0] == ["wrong_subnet", "wrong_subnet"]
    judged, report = statuses(owners={"training": seed, "second-team": second})
    assert judged == ["ok", "ok"]
    assert [item.subnet for item in report.interfaces] == ["10.150.0.0/16", "10.151.0.0/16"]


# ---------------------------------------------------------------------------------------------
# Bind


@pytest.mark.django_db
def test_binding_a_plan_whose_nads_another_bound_plan_writes_is_refused(
    operator_api, as_operator, lab_cluster, seed_plan, second_plan
):
    response = operator_api.patch(
        f"/api/clusters/{lab_cluster.pk}/",
        {"plans": [seed_plan.slug, second_plan.slug]},
        format="json",
    )
    assert response.status_code == 400
    (message,) = response.json()["plans"]
    assert "Plan 'Second team' and plan 'Seed: 8-rail training cluster'" in message
    assert "sriov-rail-0" in message and "namespace ai-training" in message
    page = as_operator.post(reverse("cluster-bind", args=[lab_cluster.pk]), {"plan": "second-team"})
    assert page.status_code == 422 and "would both write" in page.content.decode()
    registered = operator_api.post(
        "/api/clusters/",
        {
            "name": "x",
            "kubeconfig": lab_cluster.kubeconfig_text(),
            "plans": ["training", "second-team"],
        },
        format="json",
    )
    assert registered.status_code == 400 and "would both write" in registered.json()["plans"][0]
    assert list(lab_cluster.plans.all()) == [seed_plan]
    other = documents.import_plan(
        documents.document_from_spec(
            second_plan_spec(name="Team B", slug="elsewhere", namespace="team-b")
        )
    )
    services.bind(lab_cluster, [other])  # another namespace: no conflict
    assert lab_cluster.plans.count() == 2


# ---------------------------------------------------------------------------------------------
# Rollouts against the lab


@pytest.mark.django_db(transaction=True)
def test_another_plans_objects_block_the_rollout_even_forced(
    lab, lab_cluster, seed_plan, second_plan, celery_worker_thread, operator_api
):
    from railstudio.roles import ensure_roles

    ensure_roles()
    first = finished(services.start_rollout(lab_cluster, seed_plan, None).pk)
    assert first.state == "succeeded", first.message
    before = live_nads(lab)
    lab_cluster.plans.remove(seed_plan)
    services.bind(lab_cluster, [second_plan])
    started = operator_api.post(
        f"/api/clusters/{lab_cluster.pk}/rollouts/",
        {"plan": "second-team", "force": True, "force_reason": "overwrite it"},
        format="json",
    )
    record = finished(started.json()["id"])
    assert record.state == "blocked" and "never changed" in record.message
    body = operator_api.get(f"/api/rollouts/{record.pk}/").json()
    owned = [f for f in body["findings"] if f["code"] == "OWNED_BY_OTHER_PLAN"]
    assert len(owned) == 8  # the NADs; the PodTemplates are named after each plan
    assert all("belongs to plan 'training'" in f["message"] for f in owned)
    assert not body["objects"]
    after = live_nads(lab)
    assert {n: o["metadata"]["resourceVersion"] for n, o in after.items()} == {
        n: o["metadata"]["resourceVersion"] for n, o in before.items()
    }


@pytest.mark.django_db(transaction=True)
def test_an_unmanaged_object_blocks_until_adopted_with_a_reason(
    lab, lab_cluster, seed_plan, celery_worker_thread, operator_api, client, operator_user
):
    from railstudio.roles import ensure_roles

    ensure_roles()
    by_hand = manifests.render_nads(seed_plan.to_spec())[0]
    by_hand["metadata"] = {"name": "sriov-rail-0", "namespace": NS}  # no labels: made by hand
    k8s.CustomObjectsApi(lab.api_client()).create_namespaced_custom_object(
        *NAD_GROUP, NS, "network-attachment-definitions", by_hand
    )
    url = f"/api/clusters/{lab_cluster.pk}/rollouts/"
    dry = finished(
        operator_api.post(url, {"plan": seed_plan.slug, "dry_run": True}, format="json").json()[
            "id"
        ]
    )
    assert dry.state == "blocked"
    (unmanaged,) = [f for f in dry.findings if f["code"] == "UNMANAGED_OBJECT"]
    assert unmanaged["object"] == "NetworkAttachmentDefinition/ai-training/sriov-rail-0"
    assert "Rail Studio did not make it (field managers:" in unmanaged["message"]
    client.force_login(operator_user)
    page = client.get(dry.get_absolute_url()).content.decode()
    assert "UNMANAGED_OBJECT" in page and "sriov-rail-0" in page

    no_reason = operator_api.post(url, {"plan": seed_plan.slug, "adopt": True}, format="json")
    assert no_reason.status_code == 400 and "needs a reason" in no_reason.json()["adopt_reason"][0]
    adopted = finished(
        operator_api.post(
            url,
            {"plan": seed_plan.slug, "adopt": True, "adopt_reason": "made by hand during bring-up"},
            format="json",
        ).json()["id"]
    )
    assert adopted.state == "succeeded", adopted.message
    assert adopted.adopt and adopted.adopt_reason == "made by hand during bring-up"
    (note,) = [f for f in adopted.findings if f["code"] == "OBJECT_ADOPTED"]
    assert note["severity"] == "info" and "made by hand during bring-up" in note["message"]
    labels = live_nads(lab)["sriov-rail-0"]["metadata"]["labels"]
    assert labels[manifests.PLAN_LABEL] == "training"
    assert json.loads(live_nads(lab)["sriov-rail-0"]["spec"]["config"])["name"] == "sriov-rail-0"
