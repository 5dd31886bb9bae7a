"""With the broker down (a real refused connection, port 1 on loopback), queueing gives a clear
503 and a rollout that cannot be queued fails with the reason instead of locking its cluster."""

import pytest

from clusters.models import Rollout

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker_down():
    from railstudio.celery import app
    from tests.conftest import _reset_connections

    saved = {
        key: app.conf[key]
        for key in ("broker_url", "task_publish_retry", "broker_connection_timeout")
    }
    app.conf.update(
        broker_url="redis://127.0.0.1:1/0", task_publish_retry=False, broker_connection_timeout=1
    )
    _reset_connections(app)
    yield app
    app.conf.update(saved)
    _reset_connections(app)


def test_queueing_with_the_broker_down_is_a_503_not_a_500(
    operator_api, as_operator, lab_cluster, broker_down
):
    response = operator_api.post(f"/api/clusters/{lab_cluster.id}/test-connection/")
    assert response.status_code == 503 and "cannot be reached" in response.json()["detail"]
    page = as_operator.post(f"/clusters/{lab_cluster.id}/test/", HTTP_HX_REQUEST="true")
    assert page.status_code == 503 and "Is the broker running?" in page.content.decode()


def test_a_rollout_that_cannot_be_queued_fails_with_the_reason(
    operator_api, lab_cluster, seed_plan, broker_down, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        started = operator_api.post(
            f"/api/clusters/{lab_cluster.id}/rollouts/", {"plan": seed_plan.slug}, format="json"
        )
    assert started.status_code == 202
    record = Rollout.objects.get(pk=started.json()["id"])
    assert record.state == "failed" and "cannot be reached" in record.message
    with django_capture_on_commit_callbacks(execute=True):
        again = operator_api.post(
            f"/api/clusters/{lab_cluster.id}/rollouts/", {"plan": seed_plan.slug}, format="json"
        )
    assert again.status_code == 202  # the cluster is not left locked by the failed one
