"""The pod pages and the home dashboard through Django's test client, against the lab: the
seed's training pod and one with a NAD typo, the pods list with its badges and filters, the pod
page's diagram and diagnosis, the stale warning, exec (a real worker) and its rules."""

import re
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clusters import kube as kube_module
from clusters import snapshots, tasks
from clusters.models import Cluster, ExecRun, PodStatus, PodStatusCode, Rollout
from railstudio.roles import ensure_roles
from tests.helpers import deploy_seed_scene, wait_for

NS = "ai-training"
WORKER = "training-worker-0"
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def roles(db):
    ensure_roles()  # a transactional test's flush removes the groups migrate made


@pytest.fixture
def pods(lab, lab_cluster, seed_plan):
    """The seed plan's NADs in the lab, its training pod and a pod with a NAD typo, and a
    snapshot of both."""
    deploy_seed_scene(lab, seed_plan, NS, typo_rails=(0, 1))
    assert snapshots.refresh(lab_cluster)
    return lab_cluster


def text_of(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def pods_url(cluster, query: str = "") -> str:
    return reverse("cluster-pods", args=[cluster.pk]) + (f"?{query}" if query else "")


def listed(response) -> list[str]:
    return re.findall(r'data-pod="([^"]+)"', response.content.decode())


# ---------------------------------------------------------------------------------------------
# The pods of a cluster


def test_the_pods_page_lists_both_pods_with_their_badges_and_filters_them(as_viewer, pods):
    page = as_viewer.get(pods_url(pods))
    assert page.status_code == 200
    html = text_of(page)
    assert listed(page) == [f"{NS}/{WORKER}", f"{NS}/typo"]
    worker_row = re.search(rf'data-pod="{NS}/{WORKER}".*?</tr>', html).group(0)
    typo_row = re.search(rf'data-pod="{NS}/typo".*?</tr>', html).group(0)
    assert "all rails ok" in worker_row and 'data-badge="ok"' in worker_row
    typo_problems = PodStatus.objects.get(name="typo").problems
    assert typo_problems >= 1 and f"{typo_problems} problem" in typo_row
    assert "NAD_NOT_FOUND" in typo_row
    assert reverse("cluster-pod", args=[pods.pk, NS, WORKER]) in worker_row
    assert 'hx-trigger="every 10s"' in html and "refreshed" in html
    assert "Stale data" not in html
    assert '<option value="NAD_NOT_FOUND"' in html  # the problem filter offers the codes seen

    def names(query):
        return [key.split("/")[1] for key in listed(as_viewer.get(pods_url(pods, query)))]

    assert names("problem=any") == ["typo"]
    assert names("problem=NAD_NOT_FOUND") == ["typo"]
    assert names("problem=IPC_LOCK_MISSING") == []
    assert names("problem=none") == [WORKER]
    assert names(f"namespace={NS}") == [WORKER, "typo"]
    assert names("namespace=default") == []
    node = PodStatus.objects.get(name=WORKER).node
    on_node = set(PodStatus.objects.filter(node=node).values_list("name", flat=True))
    assert node and set(names(f"node={node}")) == on_node and WORKER in on_node
    assert "No pod matches these filters" in text_of(as_viewer.get(pods_url(pods, "node=nope")))

    # the filter form and the 10 s poll get the table alone
    partial = as_viewer.get(pods_url(pods, "problem=any"), **HTMX)
    assert "<html" not in partial.content.decode() and listed(partial) == [f"{NS}/typo"]
    table = as_viewer.get(reverse("cluster-pods-table", args=[pods.pk]) + "?problem=any")
    assert listed(table) == [f"{NS}/typo"] and "problem=any" in text_of(table)


def test_refresh_queues_a_snapshot_and_polls_until_the_worker_has_tried(
    as_viewer, pods, monkeypatch
):
    queued = []
    monkeypatch.setattr(tasks.refresh_pods, "delay", queued.append)
    before = pods.inspect_attempted_at
    response = as_viewer.post(
        reverse("cluster-pods-refresh", args=[pods.pk]), {"problem": "any"}, **HTMX
    )
    assert response.status_code == 200 and queued == [pods.pk]  # viewers may refresh, as in the API
    html = text_of(response)
    assert 'hx-trigger="every 1s"' in html and "Taking a new snapshot" in html
    poll = re.search(r'hx-get="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert "since=" in poll and "problem=any" in poll
    still = text_of(as_viewer.get(poll))
    assert 'hx-trigger="every 1s"' in still  # the worker has not tried yet

    assert snapshots.refresh(Cluster.objects.get(pk=pods.pk))  # what the worker does
    done = text_of(as_viewer.get(poll))
    assert 'hx-trigger="every 10s"' in done and "Taking a new snapshot" not in done
    cluster = Cluster.objects.get(pk=pods.pk)
    assert cluster.inspected_at > before
    assert cluster.inspected_at.strftime("%Y-%m-%d %H:%M:%S") in done
    # without htmx, the button redirects back to the page
    plain = as_viewer.post(reverse("cluster-pods-refresh", args=[pods.pk]))
    assert plain.status_code == 302 and plain.url == pods_url(pods)


def test_the_stale_warning_says_when_the_data_is_from(as_viewer, lab, pods, monkeypatch):
    snapshot_time = Cluster.objects.get(pk=pods.pk).inspected_at
    lab.stop()
    no_retries = {**kube_module.with_retries.__kwdefaults__, "attempts": 1}
    monkeypatch.setattr(kube_module.with_retries, "__kwdefaults__", no_retries)  # fail at once
    assert snapshots.refresh(pods) is False
    html = text_of(as_viewer.get(pods_url(pods)))
    assert "Stale data" in html and "failed" in html
    assert f"Showing the snapshot from <strong>{snapshot_time:%Y-%m-%d %H:%M:%S} UTC" in html
    assert len(re.findall(r'data-pod="', html)) == 2  # the last snapshot stays
    pod_page = text_of(as_viewer.get(reverse("cluster-pod", args=[pods.pk, NS, WORKER])))
    assert "Stale data" in pod_page


# ---------------------------------------------------------------------------------------------
# One pod


def test_the_pod_page_draws_eth0_and_net1_to_net4_with_their_addresses(as_viewer, pods):
    response = as_viewer.get(reverse("cluster-pod", args=[pods.pk, NS, WORKER]))
    assert response.status_code == 200
    html = text_of(response)
    report = PodStatus.objects.get(name=WORKER).report
    assert re.findall(r'data-interface="([^"]+)" data-status="([^"]+)"', html) == [
        ("eth0", "ok"),
        ("net1", "ok"),
        ("net2", "ok"),
        ("net3", "ok"),
        ("net4", "ok"),
    ]
    for index, interface in enumerate(report["interfaces"]):
        assert f"IP {interface['ip']}" in html
        assert f"rail {index} · 10.{50 + index}.0.0/16" in html
        assert interface["pci_address"] in html and interface["rdma_device"] in html
    assert "control plane · pod CIDR 10.100.0.0/16" in html
    assert report["primary_ip"].startswith("10.100.") and report["primary_network"]
    assert f"IP {report['primary_ip']}" in html  # eth0, from the default network's status
    assert 'data-problems="0"' in html and "if-bad" not in html
    assert "IPC_LOCK" in html and "nvidia.com/rail3_vf" in html  # capabilities, VFs
    # Healthy pods keep only warnings (none here), and the page says where the rest are.
    assert "No warnings for this pod" in html and f"kubectl describe pod {WORKER}" in html
    assert "Look inside the pod" not in html  # exec is for operators


def test_the_typo_pod_shows_nad_not_found_with_did_you_mean(as_viewer, pods):
    html = text_of(as_viewer.get(reverse("cluster-pod", args=[pods.pk, NS, "typo"])))
    assert re.findall(r'data-interface="([^"]+)" data-status="([^"]+)"', html) == [
        ("eth0", "ok"),
        ("net1", "missing"),
        ("net2", "missing"),
    ]
    assert 'class="if-row if-bad" data-interface="net2"' in html
    assert 'data-code="NAD_NOT_FOUND"' in html
    assert "Did you mean &quot;sriov-rail-1&quot;?" in html
    assert "✕ missing · NAD_NOT_FOUND" in html  # beside the red interface in the diagram
    assert 'class="evidence' in html and "sriov-rial-1" in html
    # A pod with problems gets its whole event history, routine events beside the warnings.
    events = PodStatus.objects.get(name="typo").report["events"]
    assert {"Normal", "Warning"} <= {event["type"] for event in events}
    assert "Scheduled" in html and "NoNetworkFound" in html
    gone = as_viewer.get(reverse("cluster-pod", args=[pods.pk, NS, "nope"]))
    assert gone.status_code == 404 and "Not in the last snapshot" in text_of(gone)


# ---------------------------------------------------------------------------------------------
# A live look inside a pod


@pytest.mark.django_db(transaction=True)
def test_an_operator_runs_ip_br_addr_and_sees_the_output(as_operator, pods, celery_worker_thread):
    page = text_of(as_operator.get(reverse("cluster-pod", args=[pods.pk, NS, WORKER])))
    assert "Look inside the pod" in page and 'value="ibv_devinfo -l"' in page
    url = reverse("cluster-pod-exec", args=[pods.pk, NS, WORKER])
    started = as_operator.post(url, {"command": "ip  -br addr"}, **HTMX)
    assert started.status_code == 200
    run = ExecRun.objects.get()
    assert run.command == "ip -br addr" and run.requested_by.username == "otto"
    poll = reverse("cluster-exec-run", args=[pods.pk, run.pk])
    if not ExecRun.objects.get().done:
        assert 'hx-trigger="every 500ms"' in text_of(started)
    wait_for(lambda: ExecRun.objects.get().done, timeout=30)
    html = text_of(as_operator.get(f"{poll}?tries=3"))
    assert 'data-done="true"' in html and "every 500ms" not in html
    run.refresh_from_db()
    assert run.exit_code == 0 and "exit 0" in html and f"{run.duration_ms} ms" in html
    for interface in PodStatus.objects.get(name=WORKER).report["interfaces"]:
        line = next(line for line in run.stdout.splitlines() if line.startswith(interface["name"]))
        assert interface["ip"] in line and interface["ip"] in html
    # a pod that never started: the error is said plainly
    as_operator.post(reverse("cluster-pod-exec", args=[pods.pk, NS, "typo"]), {"command": "env"})
    failed = wait_for(lambda: ExecRun.objects.filter(pod="typo", finished_at__isnull=False).first())
    page = text_of(as_operator.get(reverse("cluster-exec-run", args=[pods.pk, failed.pk])))
    assert failed.error and 'class="alert error exec-error"' in page


def test_exec_is_for_operators_and_only_for_allow_listed_commands(
    client, viewer, operator_user, lab_cluster, monkeypatch
):
    queued = []
    monkeypatch.setattr(tasks.run_exec, "delay", queued.append)
    url = reverse("cluster-pod-exec", args=[lab_cluster.pk, NS, WORKER])
    client.force_login(viewer)
    assert client.post(url, {"command": "ip -br addr"}).status_code == 403
    client.force_login(operator_user)
    refused = client.post(url, {"command": "cat /etc/shadow"}, **HTMX)
    assert refused.status_code == 400
    html = text_of(refused)
    assert "not allowed" in html and "<code>ibv_devinfo -l</code>" in html
    assert client.get(url).status_code == 405
    assert ExecRun.objects.count() == 0 and queued == []

    run = ExecRun.objects.create(
        cluster=lab_cluster, namespace=NS, pod=WORKER, command="ibv_devinfo", exit_code=127,
        stderr='exec: "ibv_devinfo": executable file not found in $PATH',
        error="The container has no `ibv_devinfo` command (exit code 127).",
        finished_at=timezone.now(), duration_ms=41,
    )  # fmt: skip
    shown = text_of(client.get(reverse("cluster-exec-run", args=[lab_cluster.pk, run.pk])))
    assert "The container has no `ibv_devinfo` command" in shown and "exit 127" in shown
    assert 'class="stderr"' in shown and "41 ms" in shown
    pending = ExecRun.objects.create(cluster=lab_cluster, namespace=NS, pod=WORKER, command="env")
    poll = reverse("cluster-exec-run", args=[lab_cluster.pk, pending.pk])
    waiting = text_of(client.get(f"{poll}?tries=1"))
    assert 'hx-trigger="every 500ms"' in waiting and f"{poll}?tries=2" in waiting
    assert "running…" in waiting and "No result after 30 s" not in waiting
    given_up = text_of(client.get(f"{poll}?tries=60"))  # bounded: ~30 s of polls
    assert "every 500ms" not in given_up and "No result after 30 s" in given_up
    other = Cluster.objects.create(name="other")
    assert client.get(reverse("cluster-exec-run", args=[other.pk, run.pk])).status_code == 404
    client.force_login(viewer)
    assert client.get(reverse("cluster-exec-run", args=[lab_cluster.pk, run.pk])).status_code == 403


# ---------------------------------------------------------------------------------------------
# The dashboard


def test_the_dashboard_shows_clusters_plans_rollouts_and_problem_pods(as_viewer, pods, seed_plan):
    Rollout.objects.create(
        cluster=pods, plan=seed_plan, plan_slug=seed_plan.slug, revision=1, state="succeeded"
    )
    Cluster.objects.filter(pk=pods.pk).update(reachable=True, server_version="v1.30.4")
    response = as_viewer.get(reverse("home"))
    assert response.status_code == 200
    html = text_of(response)
    clusters = re.search(r'id="dash-clusters".*?</section>', html).group(0)
    assert 'data-cluster="lab"' in clusters and "v1.30.4" in clusters and "reachable" in clusters
    assert 'data-state="succeeded"' in clusters and "drift unchecked" in clusters
    assert "1 ok" in clusters and "1 with problems" in clusters
    plans = html[html.index('id="dash-plans"') :]  # the last section
    assert seed_plan.name in plans and html.count('class="usage-bar"') == 8
    assert f'href="{pods.get_absolute_url()}" class="chip">lab<' in plans  # bound clusters
    problems = re.search(r'id="dash-problems".*?</section>', html).group(0)
    assert f'data-pod="{NS}/typo"' in problems and WORKER not in problems
    assert reverse("cluster-pod", args=[pods.pk, NS, "typo"]) in problems
    assert "NAD_NOT_FOUND" in problems
    rollouts = re.search(r'id="dash-rollouts".*?</section>', html).group(0)
    assert f"#{Rollout.objects.get().pk}" in rollouts
    for section in ("clusters", "plans", "rollouts", "problems"):
        partial = as_viewer.get(reverse("dashboard-section", args=[section]))
        body = text_of(partial)
        assert partial.status_code == 200 and "<html" not in body
        assert f'id="dash-{section}"' in body and 'hx-trigger="every 15s"' in body
    assert as_viewer.get(reverse("dashboard-section", args=["nope"])).status_code == 404


def test_the_dashboard_with_a_plan_and_no_cluster_says_what_to_do_next(
    client, operator_user, seed_plan
):
    client.force_login(operator_user)
    html = text_of(client.get(reverse("home")))
    assert "Welcome to Rail Studio" not in html  # not an empty install any more
    assert "No clusters yet" in html and "python manage.py labcluster up" in html
    assert reverse("cluster-create") in html
    assert "No pod snapshots yet" in html and "No rollouts yet" in html


# ---------------------------------------------------------------------------------------------
# Scale


def test_4096_pods_render_a_page_in_under_half_a_second(as_viewer, seed_plan):
    from tests.clusters.test_pod_svg import report_of

    cluster = Cluster.objects.create(name="big", inspected_at=timezone.now())
    report = report_of("healthy")  # ~5 kB each: the list must not read them
    PodStatus.objects.bulk_create(
        PodStatus(
            cluster=cluster, namespace=f"team-{i % 8}", name=f"worker-{i:04d}",
            node=f"gpu-node-{i % 512}", phase="Running", ok=i % 5 != 0,
            problems=0 if i % 5 else 1, codes="" if i % 5 else "NUMA_SPLIT", report=report,
        )
        for i in range(4096)
    )  # fmt: skip
    PodStatusCode.objects.bulk_create(
        PodStatusCode(pod_status=row, code="NUMA_SPLIT") for row in cluster.pods.filter(ok=False)
    )
    url = pods_url(cluster)
    as_viewer.get(url)  # warm the template cache
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        response = as_viewer.get(url)
        elapsed = time.perf_counter() - started
    assert response.status_code == 200 and elapsed < 0.5, elapsed
    assert len(listed(response)) == 100 and "Page 1 of 41" in text_of(response)
    assert not [q for q in queries.captured_queries if '"report"' in q["sql"]]
    last = as_viewer.get(pods_url(cluster, "problem=NUMA_SPLIT&page=9"))
    assert len(listed(last)) == 820 - 800 and "Page 9 of 9" in text_of(last)
