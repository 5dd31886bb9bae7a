"""Inventory imports too big for a request run in a worker (planner.import_jobs): 202 and a URL
to poll on the API, a progress page in the studio, all or nothing as before."""

import time

import pytest

from planner import import_jobs, inventory, services
from planner.models import ImportState, InventoryImport, Node, NodeNIC

HEADER = "node,gpu_count,rail,pf_name,numa_node,vf_count,rdma_device,labels\n"


def inventory_csv(nodes: int, rails: int, bad_line: int | None = None) -> str:
    rows = []
    for n in range(nodes):
        for r in range(rails):
            rows.append(f"gpu-{n:05d},8,{r},ens{r}f0np0,{r // 4},8,mlx5_{r},rack=r{n // 32}")
    if bad_line is not None:
        rows[bad_line - 2] = rows[bad_line - 2].replace(",8,mlx5", ",many,mlx5")
    return HEADER + "\n".join(rows) + "\n"


@pytest.fixture
def big_plan(db):
    return services.create_plan(name="Big", slug="big", supernet="10.0.0.0/12", rail_count=8)


@pytest.mark.django_db(transaction=True)
def test_32768_rows_through_the_api_finish_in_a_worker_with_progress(
    big_plan, planner_api, celery_worker_thread
):
    text = inventory_csv(4096, 8)
    response = planner_api.post(
        f"/api/plans/{big_plan.slug}/import-nodes/", text, content_type="text/csv"
    )
    assert response.status_code == 202, response.content
    url = response.json()["url"]
    assert response["Location"] == url
    seen = []
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        status = planner_api.get(url).json()
        seen.append((status["state"], status["done"], status["total"]))
        if status["state"] in ("succeeded", "failed"):
            break
        time.sleep(0.05)
    assert status["state"] == "succeeded", status["errors"]
    assert status["result"] == {
        "nodes_created": 4096,
        "nodes_updated": 0,
        "nics_created": 32768,
        "nics_updated": 0,
    }
    assert (status["done"], status["total"]) == (32768, 32768)
    assert NodeNIC.objects.filter(node__plan=big_plan).count() == 32768
    running = [(done, total) for state, done, total in seen if state == "running"]
    assert running, seen[:5]
    assert any(total == 32768 for _, total in running), running[:5]
    assert [done for done, _ in running] == sorted(done for done, _ in running)
    assert InventoryImport.objects.get(pk=status["id"]).text == ""


def test_progress_is_reported_as_nics_are_written(big_plan):
    reports = []
    nodes = inventory.parse(inventory_csv(40, 8), "x.csv")
    inventory.import_nodes(
        big_plan, nodes, batch_size=100, progress=lambda done, total: reports.append((done, total))
    )
    assert reports == [(0, 320), (100, 320), (200, 320), (300, 320), (320, 320)]  # per batch
    reports.clear()
    again = inventory.parse(inventory_csv(41, 8), "x.csv")  # 40 nodes updated, 1 new
    inventory.import_nodes(
        big_plan, again, batch_size=100, progress=lambda done, total: reports.append((done, total))
    )
    assert reports == [(320, 328), (328, 328)]


def test_a_small_file_is_still_imported_in_the_request(big_plan, planner_api):
    response = planner_api.post(
        f"/api/plans/{big_plan.slug}/import-nodes/", inventory_csv(2, 8), content_type="text/csv"
    )
    assert response.status_code == 200, response.content
    assert response.json()["nics_created"] == 16


def test_a_failed_import_names_the_line_and_writes_nothing(big_plan, viewer_api):
    job = InventoryImport.objects.create(
        plan=big_plan, text=inventory_csv(300, 8, bad_line=1000), filename="x.csv"
    )
    assert import_jobs.run(job.pk) == ImportState.FAILED
    answer = viewer_api.get(f"/api/inventory-imports/{job.pk}/").json()
    assert answer["state"] == "failed"
    assert answer["errors"] == {"line 1000.vf_count": ["'many' is not a whole number."]}
    assert not Node.objects.filter(plan=big_plan).exists()
    assert import_jobs.run(job.pk) == ImportState.FAILED  # a redelivered task leaves it alone


def test_the_page_queues_a_big_file_and_shows_its_progress_then_its_result(
    big_plan, as_planner, celery_broker, settings
):
    settings.INVENTORY_SYNC_BYTES = 1024
    response = as_planner.post(
        f"/plans/{big_plan.slug}/nodes/import/", {"text": inventory_csv(20, 8)}
    )
    job = InventoryImport.objects.get(plan=big_plan)
    assert response.status_code == 302
    assert response["Location"] == f"/plans/{big_plan.slug}/nodes/imports/{job.pk}/"
    page = as_planner.get(response["Location"]).content.decode()
    assert "Waiting for a worker" in page
    assert 'hx-trigger="every 1s"' in page
    assert import_jobs.run(job.pk) == ImportState.SUCCEEDED
    partial = as_planner.get(response["Location"], HTTP_HX_REQUEST="true").content.decode()
    assert "20 nodes created, 0 updated, 160 NICs created, 0 updated" in partial
    assert "hx-trigger" not in partial
    assert "<html" not in partial


def test_the_status_shows_the_workers_progress_while_it_runs(big_plan, as_viewer):
    job = InventoryImport.objects.create(plan=big_plan, state="running", total=32768)
    import_jobs._Reporter(job)(12000, 32768)
    page = as_viewer.get(f"/plans/{big_plan.slug}/nodes/imports/{job.pk}/").content.decode()
    assert "12,000 of 32,768 NICs written (37 %)" in page
    assert '<progress max="32768" value="12000"' in page


@pytest.mark.django_db(transaction=True)
def test_a_finished_import_leaves_the_plans_first_pages_computed(big_plan, as_viewer, monkeypatch):
    from planner.models import Plan

    job = InventoryImport.objects.create(plan=big_plan, text=inventory_csv(10, 8), filename="x")
    assert import_jobs.run(job.pk) == ImportState.SUCCEEDED

    def boom(*args, **kwargs):
        raise AssertionError("computed again after the import")

    monkeypatch.setattr(Plan, "to_spec", boom)
    monkeypatch.setattr("planner.preflight.check_rendered", boom)
    page = as_viewer.get(f"/plans/{big_plan.slug}/manifests/")
    assert page.status_code == 200
    assert "sriov-rail-0" in page.content.decode()


def test_a_big_import_answers_503_when_the_broker_is_down_and_the_job_says_why(
    big_plan, planner_api
):
    from railstudio.celery import app
    from tests.clusters.test_broker_down import _use_broker
    from tests.conftest import _reset_connections

    saved = _use_broker(app, "redis://127.0.0.1:1/0", broker_transport_options={})
    try:
        response = planner_api.post(
            f"/api/plans/{big_plan.slug}/import-nodes/",
            inventory_csv(300, 8),
            content_type="text/csv",
        )
    finally:
        app.conf.update(saved)
        _reset_connections(app)
    assert response.status_code == 503, response.content
    job = InventoryImport.objects.get(plan=big_plan)
    assert job.state == ImportState.FAILED
    assert "cannot be reached" in job.errors["queue"][0]
    assert job.text == ""
    assert not Node.objects.filter(plan=big_plan).exists()
