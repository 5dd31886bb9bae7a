"""Every task ends: whatever goes wrong inside a connection test, discovery, drift check,
refresh, exec run or rollout (here: credentials encrypted with another key, and an old row whose
kubeconfig names a CA file), its record ends with a clear failure and the reason, and the page
that waits for it stops waiting. A real worker runs them."""

import re
import time

import pytest
import yaml
from cryptography.fernet import Fernet
from django.urls import reverse

from clusters import credentials, rollout, services, tasks
from clusters.models import Cluster, ExecRun, Rollout
from tests.helpers import wait_for

pytestmark = pytest.mark.django_db(transaction=True)
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def roles(db):
    from railstudio.roles import ensure_roles

    ensure_roles()


def _other_key(monkeypatch, cluster):
    text = cluster.kubeconfig_text()
    monkeypatch.setenv(credentials.ENV_VAR, Fernet.generate_key().decode())
    cluster.set_kubeconfig(text)
    cluster.save()
    monkeypatch.setenv(credentials.ENV_VAR, Fernet.generate_key().decode())  # the worker's key
    return "cannot be decrypted"


def _ca_file(monkeypatch, cluster):
    config = yaml.safe_load(cluster.kubeconfig_text())
    config["clusters"][0]["cluster"].pop("certificate-authority-data")
    config["clusters"][0]["cluster"]["certificate-authority"] = "/nonexistent/ca.crt"
    cluster.set_kubeconfig(yaml.safe_dump(config))  # a row stored before the rules existed
    cluster.save()
    return "certificate-authority: refused because it names a file"


def _in_cluster_outside_a_pod(monkeypatch, cluster):
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)  # never in a pod, even in CI's
    cluster.in_cluster = True
    cluster.save()
    return "Rail Studio is not running in a Kubernetes pod"


@pytest.mark.parametrize(
    "breakage",
    [_other_key, _ca_file, _in_cluster_outside_a_pod],
    ids=["other-key", "ca-file", "in-cluster-outside-a-pod"],
)
def test_every_task_ends_with_the_reason(
    breakage, lab, lab_cluster, seed_plan, celery_worker_thread, monkeypatch, operator_user
):
    Cluster.objects.filter(pk=lab_cluster.pk).update(reachable=True)  # a test passed once
    reason = breakage(monkeypatch, lab_cluster)
    Rollout.objects.create(  # an applied revision, so the drift check reads the cluster
        cluster=lab_cluster, plan=seed_plan, plan_slug=seed_plan.slug, revision=1,
        state="succeeded", bundle=rollout.render_for(seed_plan, lab_cluster),
    )  # fmt: skip
    pk = lab_cluster.pk

    tasks.test_connection.delay(pk)
    cluster = wait_for(lambda: Cluster.objects.filter(pk=pk, tested_at__isnull=False).first())
    assert cluster.reachable is False and cluster.last_error.startswith("connection test: ")
    assert reason in cluster.last_error

    for task, label in (
        (tasks.discover_nodes, "node discovery"),
        (tasks.check_drift, "drift check"),
    ):
        seen = Cluster.objects.get(pk=pk).last_error_at
        task.delay(pk)
        cluster = wait_for(
            lambda seen=seen: Cluster.objects.filter(pk=pk).exclude(last_error_at=seen).first()
        )
        assert cluster.last_error.startswith(f"{label}: ") and reason in cluster.last_error

    tasks.refresh_pods.delay(pk)
    cluster = wait_for(
        lambda: Cluster.objects.filter(pk=pk, inspect_attempted_at__isnull=False).first()
    )
    assert reason in cluster.inspect_error

    run = services.start_exec(cluster, "ai-training", "p", "env", operator_user)
    run = wait_for(lambda: ExecRun.objects.filter(pk=run.pk, finished_at__isnull=False).first())
    assert run.error.startswith("The exec call failed") and reason in run.error

    record = services.start_rollout(cluster, seed_plan, operator_user)
    record = wait_for(lambda: Rollout.objects.filter(pk=record.pk, state="failed").first())
    assert record.message.startswith("Not run: ") and reason in record.message
    assert not Rollout.objects.filter(state__in=["pending", "running"]).exists()


def test_the_drift_panel_stops_waiting_and_shows_why(
    lab, lab_cluster, seed_plan, celery_worker_thread, monkeypatch, client, operator_user
):
    client.force_login(operator_user)
    reason = _other_key(monkeypatch, lab_cluster)
    Rollout.objects.create(
        cluster=lab_cluster, plan=seed_plan, plan_slug=seed_plan.slug, revision=1,
        state="succeeded", bundle=rollout.render_for(seed_plan, lab_cluster),
    )  # fmt: skip
    html = client.post(reverse("cluster-drift-check", args=[lab_cluster.pk]), **HTMX)
    html = html.content.decode()
    start = time.monotonic()
    while (match := re.search(r'id="drift"[^>]*hx-get="([^"]+)"', html)) is not None:
        assert time.monotonic() - start < 20, "the drift panel kept polling"
        time.sleep(0.3)
        html = client.get(match.group(1).replace("&amp;", "&"), **HTMX).content.decode()
    assert 'id="drift-failed"' in html and reason in html
