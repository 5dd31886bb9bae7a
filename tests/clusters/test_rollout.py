"""Rollouts through a real Celery worker to the lab cluster over HTTPS."""

import json
import threading
import time

import pytest
from kubernetes import client as k8s

from clusters import rollout, services
from clusters.models import Rollout
from planner.models import Exclusion
from tests.helpers import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

NS = "ai-training"


def finished(record_id: int) -> Rollout:
    def done():
        record = Rollout.objects.get(pk=record_id)
        return record if not record.is_active else None

    return wait_for(done, timeout=60)


def roll(cluster, plan, user=None, **options) -> Rollout:
    return finished(services.start_rollout(cluster, plan, user, **options).pk)


def actions(record: Rollout) -> dict[str, str]:
    return {f"{row.kind}/{row.name}": row.action for row in record.items.all()}


def lab_nads(lab) -> dict[str, dict]:
    api = k8s.CustomObjectsApi(lab.api_client())
    items = api.list_namespaced_custom_object(
        "k8s.cni.cncf.io", "v1", NS, "network-attachment-definitions"
    )["items"]
    return {item["metadata"]["name"]: item for item in items}


def test_roll_out_the_seed_plan_then_again_then_one_change(
    lab, lab_cluster, seed_plan, celery_worker_thread
):
    first = roll(lab_cluster, seed_plan)
    assert first.state == "succeeded", first.message
    assert list(actions(first).values()).count("create") == 9  # 8 NADs + the PodTemplate
    nads = lab_nads(lab)
    assert sorted(nads) == [f"sriov-rail-{i}" for i in range(8)]
    assert json.loads(nads["sriov-rail-0"]["spec"]["config"]) == {
        "cniVersion": "0.3.1",
        "type": "sriov",
        "name": "sriov-rail-0",
        "ipam": {"type": "whereabouts", "range": "10.50.0.0/16", "exclude": ["10.50.0.0/24"]},
    }
    assert (
        nads["sriov-rail-3"]["metadata"]["annotations"]["k8s.v1.cni.cncf.io/resourceName"]
        == "nvidia.com/rail3_vf"
    )

    assert first.revision == 1 and first.revision_label == "r1"

    again = roll(lab_cluster, seed_plan)  # nothing to change: kept as "no changes", no number
    assert again.state == "succeeded" and again.revision is None
    assert again.revision_label == "no changes"
    assert set(actions(again).values()) == {"unchanged"}

    rail = seed_plan.rails.get(index=5)
    Exclusion.objects.create(rail=rail, cidr="10.55.1.0/24", purpose="reserved")
    third = roll(lab_cluster, seed_plan)
    changed = [name for name, action in actions(third).items() if action == "change"]
    assert changed == ["NetworkAttachmentDefinition/sriov-rail-5"]
    row = third.items.get(name="sriov-rail-5")
    assert "10.55.1.0/24" in row.diff and row.outcome == "applied"
    assert "10.55.1.0/24" in lab_nads(lab)["sriov-rail-5"]["spec"]["config"]
    assert third.revision == 2  # the next number: the no-op rollout did not use one
    dry = roll(lab_cluster, seed_plan, dry_run=True, prune=True)
    assert dry.revision is None and dry.revision_label == "dry run"


def test_prune_and_rollback(lab, lab_cluster, seed_plan, celery_worker_thread):
    first = roll(lab_cluster, seed_plan)
    assert first.state == "succeeded"
    seed_plan.rails.get(index=7).delete()
    kept = roll(lab_cluster, seed_plan)  # without prune the orphan stays
    assert "sriov-rail-7" in lab_nads(lab) and "prune" not in actions(kept).values()
    pruned = roll(lab_cluster, seed_plan, prune=True)
    assert actions(pruned)["NetworkAttachmentDefinition/sriov-rail-7"] == "prune"
    assert "sriov-rail-7" not in lab_nads(lab)

    back = finished(services.start_rollback(first, None).pk)
    assert back.state == "succeeded" and back.rollback_of_id == first.id
    assert actions(back)["NetworkAttachmentDefinition/sriov-rail-7"] == "create"
    assert "sriov-rail-7" in lab_nads(lab)


def test_an_invalid_object_records_the_api_message_while_the_rest_apply(
    lab, lab_cluster, seed_plan, celery_worker_thread
):
    bundle = rollout.render_for(seed_plan, lab_cluster)
    broken = json.loads(json.dumps(bundle[1]))
    broken["metadata"]["name"] = "broken-nad"
    broken["spec"]["config"] = {"type": "sriov"}  # must be a string
    record = services.start_rollout(
        lab_cluster, seed_plan, None, bundle=[*bundle, broken], force=True, force_reason="test"
    )
    record = finished(record.pk)
    assert record.state == "partial"
    row = record.items.get(name="broken-nad")
    assert row.outcome == "failed"
    assert "spec.config in body must be of type string" in row.message
    assert record.items.filter(outcome="applied").count() == 9


def test_one_call_at_a_time_gives_the_same_outcomes(lab, lab_cluster, seed_plan):
    """`parallel=1` (the bench's sequential loop) must do exactly what the workers do."""
    bundle = rollout.render_for(seed_plan, lab_cluster)
    broken = json.loads(json.dumps(bundle[1]))
    broken["metadata"]["name"] = "broken-nad"
    broken["spec"]["config"] = {"type": "sriov"}
    record = rollout.request_rollout(
        lab_cluster, seed_plan, None, bundle=[*bundle, broken], force=True, force_reason="test"
    )
    assert rollout.execute(record.pk, parallel=1) == "partial"
    outcomes = dict(record.items.values_list("name", "outcome"))
    assert outcomes.pop("broken-nad") == "failed"
    assert set(outcomes.values()) == {"applied"} and len(outcomes) == 9
    assert sorted(lab_nads(lab)) == [f"sriov-rail-{i}" for i in range(8)]


def test_prune_stays_in_the_plans_namespace(lab, lab_cluster, seed_plan, celery_worker_thread):
    """NADs are listed cluster-wide (preflight needs them all), but a prune only deletes the
    plan's objects in the namespace it rolls out to."""
    assert roll(lab_cluster, seed_plan).state == "succeeded"
    elsewhere = json.loads(json.dumps(lab_nads(lab)["sriov-rail-0"]))
    elsewhere["metadata"] = {
        "name": "sriov-rail-0",
        "namespace": "other-team",
        "labels": elsewhere["metadata"]["labels"],
    }
    k8s.CoreV1Api(lab.api_client()).create_namespace({"metadata": {"name": "other-team"}})
    k8s.CustomObjectsApi(lab.api_client()).create_namespaced_custom_object(
        "k8s.cni.cncf.io", "v1", "other-team", "network-attachment-definitions", elsewhere
    )
    seed_plan.rails.get(index=7).delete()
    pruned = roll(lab_cluster, seed_plan, prune=True)
    assert pruned.state == "succeeded", pruned.message
    assert [k for k, a in actions(pruned).items() if a == "prune"] == [
        "NetworkAttachmentDefinition/sriov-rail-7"
    ]
    still = k8s.CustomObjectsApi(lab.api_client()).get_namespaced_custom_object(
        "k8s.cni.cncf.io", "v1", "other-team", "network-attachment-definitions", "sriov-rail-0"
    )
    assert still["metadata"]["namespace"] == "other-team"


def test_api_down_mid_rollout_is_retried_and_the_rollout_finishes(
    lab, lab_cluster, seed_plan, celery_worker_thread
):
    # A rollout is ~3 round trips (reads, dry-run pass, apply pass, each at once):
    # 500 ms each puts the outage in the middle of it.
    lab.set_fault(latency_ms=500)
    outage = threading.Timer(1.0, lambda: lab.set_fault(unavailable={"seconds": 3, "mode": "503"}))
    outage.start()
    started = time.monotonic()
    record = roll(lab_cluster, seed_plan)
    outage.join()
    assert record.state == "succeeded", record.message
    assert time.monotonic() - started > 3  # it did wait through the outage
    assert len(lab_nads(lab)) == 8


def test_preflight_errors_block_unless_forced_with_a_reason(
    lab, lab_cluster, seed_plan, celery_worker_thread
):
    lab.set_fault(unregister_resource={"resource": "nvidia.com/rail3_vf", "nodes": "all"})
    blocked = roll(lab_cluster, seed_plan)
    assert blocked.state == "blocked"
    assert "RESOURCE_NOT_ADVERTISED" in blocked.message and not lab_nads(lab)
    forced = roll(lab_cluster, seed_plan, force=True, force_reason="device plugin restarting")
    assert forced.state == "succeeded" and forced.force_reason == "device plugin restarting"


def test_dry_run_changes_nothing(lab, lab_cluster, seed_plan, celery_worker_thread):
    record = roll(lab_cluster, seed_plan, dry_run=True)
    assert record.state == "succeeded"
    assert set(record.items.values_list("outcome", flat=True)) == {"dry-run"}
    assert lab_nads(lab) == {}


def test_drift_is_detected_and_reconciled(lab, lab_cluster, seed_plan, celery_worker_thread):
    roll(lab_cluster, seed_plan)
    assert rollout.check_drift(lab_cluster) == (False, "")
    api = k8s.CustomObjectsApi(lab.api_client())
    api.delete_namespaced_custom_object(
        "k8s.cni.cncf.io", "v1", NS, "network-attachment-definitions", "sriov-rail-2"
    )
    drifted, diff = rollout.check_drift(lab_cluster)
    assert drifted and "sriov-rail-2: missing" in diff
    roll(lab_cluster, seed_plan)
    assert rollout.check_drift(lab_cluster)[0] is False


def live_versions(lab) -> dict[str, str]:
    """resourceVersion of the namespace, each NAD and the PodTemplate."""
    versions = {
        f"nad/{name}": nad["metadata"]["resourceVersion"] for name, nad in lab_nads(lab).items()
    }
    core = k8s.CoreV1Api(lab.api_client())
    versions["namespace"] = core.read_namespace(NS).metadata.resource_version
    for template in core.list_namespaced_pod_template(NS).items:
        versions[f"podtemplate/{template.metadata.name}"] = template.metadata.resource_version
    return versions


def test_an_unchanged_plan_rolled_out_again_writes_nothing(
    lab, lab_cluster, seed_plan, celery_worker_thread
):
    """The server fills in defaults (the PodTemplate's terminationMessagePath, imagePullPolicy,
    ...): the second rollout compares with what the server would store, not with our request."""
    first = roll(lab_cluster, seed_plan)
    assert first.state == "succeeded", first.message
    template = k8s.CoreV1Api(lab.api_client()).list_namespaced_pod_template(NS).items[0]
    container = template.template.spec.containers[0]
    assert (container.termination_message_path, container.image_pull_policy) == (
        "/dev/termination-log",
        "IfNotPresent",
    )  # the lab defaults PodTemplates as kube-apiserver does
    before = live_versions(lab)
    for _ in range(2):
        again = roll(lab_cluster, seed_plan)
        # Nothing changed: no revision number is used (r1 stays the cluster's revision).
        assert (again.state, again.revision) == ("succeeded", None), again.message
        assert set(actions(again).values()) == {"unchanged"}
        assert set(again.items.values_list("outcome", flat=True)) == {"skipped"}
        assert again.message == "No changes: 9 object(s) unchanged."
        assert live_versions(lab) == before  # nothing written, not even the namespace


def test_a_reserialised_config_is_not_drift_and_a_changed_range_is(
    lab, lab_cluster, seed_plan, celery_worker_thread
):
    roll(lab_cluster, seed_plan)
    api = k8s.CustomObjectsApi(lab.api_client())
    nad_path = ("k8s.cni.cncf.io", "v1", NS, "network-attachment-definitions")
    config = json.loads(lab_nads(lab)["sriov-rail-1"]["spec"]["config"])
    compact = json.dumps(config, separators=(",", ":"), sort_keys=True)
    api.patch_namespaced_custom_object(
        *nad_path, "sriov-rail-1", {"spec": {"config": compact}}, field_manager="kubectl-edit"
    )
    assert lab_nads(lab)["sriov-rail-1"]["spec"]["config"] == compact
    assert rollout.check_drift(lab_cluster) == (False, "")
    versions = live_versions(lab)
    assert set(actions(roll(lab_cluster, seed_plan)).values()) == {"unchanged"}
    assert live_versions(lab) == versions

    config["ipam"]["range"] = "10.61.0.0/16"
    api.patch_namespaced_custom_object(
        *nad_path,
        "sriov-rail-1",
        {"spec": {"config": json.dumps(config)}},
        field_manager="kubectl-edit",
    )
    drifted, diff = rollout.check_drift(lab_cluster)
    assert drifted and "NetworkAttachmentDefinition/ai-training/sriov-rail-1: changed" in diff
    assert "-  config:" in diff and "10.61.0.0/16" in diff and "+  config:" in diff
    assert "sriov-rail-0" not in diff  # only the changed NAD
    repaired = roll(lab_cluster, seed_plan)
    assert [k for k, a in actions(repaired).items() if a == "change"] == [
        "NetworkAttachmentDefinition/sriov-rail-1"
    ]
    assert rollout.check_drift(lab_cluster) == (False, "")
