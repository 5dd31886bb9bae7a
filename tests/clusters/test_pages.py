"""The cluster and rollout pages through Django's test client: roles, htmx partials, inline
errors, conflicts, and a rollout started from the page that a real worker finishes."""

import html as html_lib
import re
import time

import pytest
import yaml
from django.urls import reverse
from django.utils import timezone

from clusters import rollout
from clusters.models import Cluster, Rollout, RolloutObject
from railstudio.roles import ensure_roles
from tests.helpers import wait_for

HTMX = {"HTTP_HX_REQUEST": "true"}
SECRET = "s3cret-token-never-shown"
KUBECONFIG = f"""
apiVersion: v1
kind: Config
clusters:
- name: east
  cluster: {{server: "https://10.1.2.3:6443"}}
- name: west
  cluster: {{server: "https://10.9.9.9:6443"}}
contexts:
- name: east-admin
  context: {{cluster: east, user: admin}}
- name: west-admin
  context: {{cluster: west, user: admin}}
current-context: west-admin
users:
- name: admin
  user: {{token: {SECRET}}}
"""


@pytest.fixture(autouse=True)
def roles(db):
    ensure_roles()  # a transactional test's flush removes the groups migrate made


@pytest.fixture
def east(seed_plan):
    """A cluster that is never contacted: its server is not there."""
    cluster = Cluster(name="east", server="https://10.1.2.3:6443", context="east-admin")
    cluster.set_kubeconfig(KUBECONFIG)
    cluster.save()
    cluster.plans.add(seed_plan)
    return cluster


def make_rollout(cluster, plan, state="succeeded", **fields) -> Rollout:
    last = cluster.rollouts.filter(plan_slug=plan.slug).count()
    record = Rollout.objects.create(
        cluster=cluster,
        plan=plan,
        plan_slug=plan.slug,
        revision=last + 1,
        state=state,
        bundle=rollout.render_for(plan, cluster),
        **fields,
    )
    return record


@pytest.fixture
def finished(east, seed_plan):
    """A partial rollout: one NAD applied, one failed, the pod template unchanged."""
    record = make_rollout(east, seed_plan, "partial", message="1 of 3 object(s) failed.")
    rows = [
        ("NetworkAttachmentDefinition", "sriov-rail-0", "create", "applied", "", "+kind: NAD"),
        ("NetworkAttachmentDefinition", "sriov-rail-1", "change", "failed", "spec.config bad", ""),
        ("PodTemplate", "trainer", "unchanged", "skipped", "", ""),
    ]
    for position, (kind, name, action, outcome, message, diff) in enumerate(rows):
        RolloutObject.objects.create(
            rollout=record, position=position, api_version="v1", kind=kind,
            namespace="ai-training", name=name, action=action, outcome=outcome,
            message=message, diff=diff,
        )  # fmt: skip
    return record


def text_of(response) -> str:
    return html_lib.unescape(response.content.decode())


def post_urls(cluster, record, plan) -> list[str]:
    return [
        reverse("cluster-create"),
        reverse("cluster-contexts"),
        reverse("cluster-test", args=[cluster.pk]),
        reverse("cluster-drift-check", args=[cluster.pk]),
        reverse("cluster-reconcile", args=[cluster.pk]),
        reverse("cluster-bind", args=[cluster.pk]),
        reverse("cluster-unbind", args=[cluster.pk, plan.slug]),
        reverse("cluster-rollout", args=[cluster.pk]),
        reverse("rollout-rollback", args=[record.pk]),
        reverse("rollout-cancel", args=[record.pk]),
        reverse("cluster-delete", args=[cluster.pk]),
        reverse("plan-rollout-start", args=[plan.slug]),
    ]


def page_urls(cluster, record, plan) -> list[str]:
    return [
        reverse("cluster-list"),
        reverse("cluster-detail", args=[cluster.pk]),
        reverse("rollout-detail", args=[record.pk]),
        reverse("plan-rollouts-page", args=[plan.slug]),
        reverse("plan-detail", args=[plan.slug]),
    ]


# ---------------------------------------------------------------------------------------------
# Reading


@pytest.mark.django_db
def test_pages_render_for_a_viewer_without_operator_controls(
    as_viewer, east, finished, seed_plan, client, operator_user
):
    controls = [*post_urls(east, finished, seed_plan), "Roll out to", "Roll back"]
    for url in page_urls(east, finished, seed_plan):
        response = as_viewer.get(url)
        assert response.status_code == 200, url
        html = text_of(response)
        assert "east" in html and "vera" in html, url
        assert SECRET not in html, url
        for control in controls:
            assert control not in html, (url, control)
    detail = text_of(as_viewer.get(east.get_absolute_url()))
    assert "https://10.1.2.3:6443" in detail and "east-admin" in detail
    assert f'href="{finished.get_absolute_url()}"' in detail  # the history links the rollout
    listing = text_of(as_viewer.get(reverse("cluster-list")))
    assert 'data-state="partial"' in listing and seed_plan.name in listing

    client.force_login(operator_user)  # the same pages do show the controls to an operator
    assert reverse("cluster-test", args=[east.pk]) in text_of(client.get(east.get_absolute_url()))
    assert "Roll back to r1" in text_of(client.get(finished.get_absolute_url()))
    plan_page = text_of(client.get(reverse("plan-detail", args=[seed_plan.slug])))
    assert "Roll out to east" in plan_page and "Roll out to all bound clusters" in plan_page


@pytest.mark.django_db
def test_empty_cluster_list_says_how_to_start(as_viewer):
    html = text_of(as_viewer.get(reverse("cluster-list")))
    assert "Register a cluster, or start a lab cluster with" in html
    assert "python manage.py labcluster up" in html


@pytest.mark.django_db
def test_every_post_needs_the_operator_role(
    client, viewer, planner_user, east, finished, seed_plan
):
    for user in (viewer, planner_user):
        client.force_login(user)
        for url in post_urls(east, finished, seed_plan):
            data = {"plan": seed_plan.slug, "cluster": east.pk, "name": "x"}
            assert client.post(url, data).status_code == 403, (user, url)
    assert Rollout.objects.count() == 1 and Cluster.objects.count() == 1
    assert list(east.plans.all()) == [seed_plan]


@pytest.mark.django_db
def test_the_rows_partial_colours_rows_and_stops_polling_once_finished(as_viewer, finished):
    response = as_viewer.get(reverse("rollout-live", args=[finished.pk]), **HTMX)
    html = text_of(response)
    assert response.status_code == 200 and "<html" not in html
    assert "hx-trigger" not in html  # finished: no more polling
    rows = re.findall(r'<tr class="(row-\w+)" data-outcome="([\w-]+)"', html)
    assert rows == [("row-ok", "applied"), ("row-bad", "failed"), ("row-ok", "skipped")]
    assert "spec.config bad" in html and 'data-state="partial"' in html
    assert "<details" in html and "+kind: NAD" in html  # the diffs once finished


@pytest.mark.django_db
def test_an_active_rollout_polls_every_second(as_viewer, east, seed_plan):
    record = make_rollout(east, seed_plan, "pending")
    html = text_of(as_viewer.get(record.get_absolute_url()))
    live_url = reverse("rollout-live", args=[record.pk])
    assert f'hx-get="{live_url}" hx-trigger="every 1s"' in html
    assert 'data-state="pending"' in html and "Roll back" not in html


@pytest.mark.django_db
def test_a_panel_gives_up_polling_after_thirty_seconds(as_viewer, east):
    url = reverse("cluster-connection", args=[east.pk])
    waiting = text_of(as_viewer.get(url, {"since": "", "tries": "3"}, **HTMX))
    assert f'hx-get="{url}?since=&tries=4" hx-trigger="every 1s"' in waiting
    assert "Testing the connection" in waiting
    done = text_of(as_viewer.get(url, {"since": "", "tries": "30"}, **HTMX))
    assert "No result after 30 s" in done and "hx-trigger" not in done
    junk = as_viewer.get(url, {"since": "", "tries": "abc"}, **HTMX)
    assert junk.status_code == 200


# ---------------------------------------------------------------------------------------------
# Registering


@pytest.mark.django_db
def test_operator_registers_the_lab_by_pasting_its_kubeconfig(as_operator, lab, seed_plan):
    text = lab.kubeconfig_path.read_text()
    context = yaml.safe_load(text)["current-context"]
    response = as_operator.post(reverse("cluster-contexts"), {"kubeconfig": text}, **HTMX)
    assert response.status_code == 200
    assert re.search(rf'<option value="{re.escape(context)}" selected>', text_of(response))

    response = as_operator.post(
        reverse("cluster-create"),
        {"name": "lab", "kubeconfig": text, "context": context, "mode": "nad",
         "plans": [seed_plan.slug]},
    )  # fmt: skip
    cluster = Cluster.objects.get(name="lab")
    assert response.status_code == 302 and response["Location"] == cluster.get_absolute_url()
    assert (cluster.server, cluster.context) == (lab.url, context)
    assert cluster.kubeconfig_text() == text and list(cluster.plans.all()) == [seed_plan]
    detail = text_of(as_operator.get(cluster.get_absolute_url()))
    assert lab.url in detail and lab.token not in detail and "certificate-authority" not in detail


@pytest.mark.django_db
def test_an_uploaded_kubeconfig_fills_the_context_select(as_operator):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("config", KUBECONFIG.encode())
    html = text_of(as_operator.post(reverse("cluster-contexts"), {"kubeconfig_file": upload}))
    assert '<option value="east-admin">' in html and '<option value="west-admin" selected>' in html
    upload = SimpleUploadedFile("config", KUBECONFIG.encode())
    response = as_operator.post(
        reverse("cluster-create"),
        {"name": "up", "kubeconfig_file": upload, "context": "east-admin", "mode": "nad"},
    )
    assert response.status_code == 302
    assert Cluster.objects.get(name="up").server == "https://10.1.2.3:6443"


@pytest.mark.django_db
def test_a_bad_kubeconfig_is_an_inline_error(as_operator):
    response = as_operator.post(reverse("cluster-contexts"), {"kubeconfig": "a: [b"}, **HTMX)
    assert response.status_code == 422
    assert "Kubeconfig: The kubeconfig is not valid YAML" in text_of(response)
    response = as_operator.post(
        reverse("cluster-contexts"), {"kubeconfig": "apiVersion: v1\n"}, **HTMX
    )
    assert response.status_code == 422 and "has no contexts" in text_of(response)

    response = as_operator.post(
        reverse("cluster-create"), {"name": "", "kubeconfig": "a: [b", "mode": "nad"}
    )
    html = text_of(response)
    assert response.status_code == 422
    assert re.search(r'id="err_name"[^>]*>\s*<div>A cluster needs a name.', html)
    assert re.search(r'id="err_kubeconfig_text"[^>]*>\s*<div>The kubeconfig is not valid', html)
    assert "a: [b" in html  # what was typed stays
    response = as_operator.post(
        reverse("cluster-create"),
        {"name": "x", "kubeconfig": KUBECONFIG, "context": "nope", "mode": "nad"},
    )
    assert response.status_code == 422
    assert re.search(
        r'id="err_context"[^>]*>\s*<div>The kubeconfig has no context .nope', text_of(response)
    )
    response = as_operator.post(
        reverse("cluster-create"), {"name": "x", "kubeconfig": KUBECONFIG, "mode": "warp"}
    )
    assert response.status_code == 422 and 'id="err_mode"' in text_of(response)
    assert not Cluster.objects.exists()


@pytest.mark.django_db
def test_in_cluster_config_needs_no_kubeconfig(as_operator):
    response = as_operator.post(
        reverse("cluster-create"), {"name": "self", "in_cluster": "on", "mode": "sriov-operator"}
    )
    assert response.status_code == 302
    cluster = Cluster.objects.get(name="self")
    assert cluster.in_cluster and cluster.server == "in-cluster" and not cluster.kubeconfig_text()
    assert "in-cluster config" in text_of(as_operator.get(cluster.get_absolute_url()))


# ---------------------------------------------------------------------------------------------
# Rolling out, conflicts, rollback, bind, reconcile


@pytest.mark.django_db
def test_a_second_rollout_while_one_is_pending_is_a_409_with_the_message(
    as_operator, east, seed_plan
):
    pending = make_rollout(east, seed_plan, "pending")
    response = as_operator.post(
        reverse("cluster-rollout", args=[east.pk]), {"plan": seed_plan.slug}
    )
    assert response.status_code == 409
    html = text_of(response)
    assert f"A rollout to east is already in progress (rollout #{pending.pk}" in html
    response = as_operator.post(
        reverse("plan-rollout-start", args=[seed_plan.slug]), {"cluster": east.pk}
    )
    assert response.status_code == 409 and "already in progress" in text_of(response)
    assert Rollout.objects.count() == 1


@pytest.mark.django_db
def test_forcing_without_a_reason_or_an_unknown_plan_is_a_422(as_operator, east, seed_plan):
    url = reverse("cluster-rollout", args=[east.pk])
    response = as_operator.post(url, {"plan": seed_plan.slug, "force": "on"})
    assert response.status_code == 422
    assert re.search(
        r'id="err_force_reason"[^>]*>\s*<div>Forcing past preflight errors needs a reason',
        text_of(response),
    )
    response = as_operator.post(url, {"plan": "nope"})
    assert response.status_code == 422 and "No plan 'nope'." in text_of(response)
    start = reverse("plan-rollout-start", args=[seed_plan.slug])
    response = as_operator.post(start, {"cluster": "999"})
    assert response.status_code == 422 and "No cluster '999' is bound" in text_of(response)
    assert not Rollout.objects.exists()


@pytest.mark.django_db
def test_roll_back_shows_the_change_first_then_creates_a_new_rollout_of_the_old_bundle(
    as_operator, finished, east, seed_plan
):
    newer = make_rollout(east, seed_plan, "succeeded")  # revision 2 is live now
    newer.bundle = [obj for obj in newer.bundle if obj["metadata"]["name"] != "sriov-rail-7"]
    newer.save()
    url = reverse("rollout-rollback", args=[finished.pk])
    html = text_of(as_operator.get(url))  # the diff first: revision 2 -> revision 1
    assert "revision 1?" in html and "now the cluster has revision 2" in html
    assert "NetworkAttachmentDefinition/ai-training/sriov-rail-7" in html and ">create<" in html
    unconfirmed = as_operator.post(url)  # a POST without confirm=yes only shows the page
    assert unconfirmed.status_code == 200 and Rollout.objects.count() == 2
    no_reason = as_operator.post(url, {"confirm": "yes", "prune": "on"})
    assert no_reason.status_code == 422 and "needs a reason" in text_of(no_reason)
    response = as_operator.post(url, {"confirm": "yes"})
    new = Rollout.objects.exclude(pk__in=[finished.pk, newer.pk]).get()
    assert response.status_code == 302 and response["Location"] == new.get_absolute_url()
    assert new.rollback_of == finished and new.bundle == finished.bundle
    assert not new.prune and not new.force and new.force_reason == "rollback to revision 1"
    assert new.revision is None and new.revision_label == "in progress"  # numbered if it changes
    html = text_of(as_operator.get(new.get_absolute_url()))
    assert "a rollback that restores revision 1" in html
    assert f'restores r1 (<a href="{finished.get_absolute_url()}">#{finished.pk}</a>)' in html
    again = as_operator.post(url, {"confirm": "yes"})
    assert again.status_code == 409 and "already in progress" in text_of(again)


@pytest.mark.django_db
def test_rollback_with_prune_or_force_records_the_reason(as_operator, finished):
    url = reverse("rollout-rollback", args=[finished.pk])
    response = as_operator.post(
        url, {"confirm": "yes", "prune": "on", "force": "on", "reason": "bad rail 5 change"}
    )
    new = Rollout.objects.exclude(pk=finished.pk).get()
    assert response.status_code == 302 and new.prune and new.force
    assert new.force_reason == "rollback to revision 1: bad rail 5 change"


@pytest.mark.django_db
def test_rollback_is_refused_for_a_dry_run_a_failure_or_an_unbound_plan(
    as_operator, east, seed_plan, finished
):
    dry = make_rollout(east, seed_plan, "succeeded", dry_run=True)
    failed = make_rollout(east, seed_plan, "failed")
    for record, reason in ((dry, "was a dry run"), (failed, "applied nothing to roll back to")):
        page = text_of(as_operator.get(record.get_absolute_url()))
        assert "Roll back to r" not in page
        url = reverse("rollout-rollback", args=[record.pk])
        assert reason in text_of(as_operator.get(url))
        response = as_operator.post(url, {"confirm": "yes"})
        assert response.status_code == 422 and reason in text_of(response)
    assert "Roll back to r1" in text_of(as_operator.get(finished.get_absolute_url()))
    east.plans.remove(seed_plan)
    assert "Roll back to r" not in text_of(as_operator.get(finished.get_absolute_url()))
    response = as_operator.post(reverse("rollout-rollback", args=[finished.pk]), {"confirm": "yes"})
    assert response.status_code == 422 and "no longer bound to east" in text_of(response)
    assert Rollout.objects.count() == 3


@pytest.mark.django_db
def test_bind_and_unbind_plans(as_operator, east, seed_plan):
    url = reverse("cluster-unbind", args=[east.pk, seed_plan.slug])
    asked = as_operator.post(url)  # confirm first
    assert (
        asked.status_code == 200
        and "Unbind Seed: 8-rail training cluster from east?" in text_of(asked)
    )
    assert east.plans.exists()
    assert as_operator.post(url, {"confirm": "yes"}).status_code == 302
    assert not east.plans.exists()
    response = as_operator.post(reverse("cluster-bind", args=[east.pk]), {"plan": "nope"})
    assert response.status_code == 422 and "No plan 'nope'." in text_of(response)
    response = as_operator.post(reverse("cluster-bind", args=[east.pk]), {"plan": seed_plan.slug})
    assert response.status_code == 302 and list(east.plans.all()) == [seed_plan]


@pytest.mark.django_db
def test_reconcile_rolls_the_drifted_plan_out_again(as_operator, east, seed_plan):
    url = reverse("cluster-reconcile", args=[east.pk])
    response = as_operator.post(url)
    assert response.status_code == 409 and "Nothing to reconcile" in text_of(response)
    make_rollout(east, seed_plan, "succeeded")
    east.drifted, east.drift_checked_at = True, timezone.now()
    east.drift_diff = "# NetworkAttachmentDefinition/ai-training/sriov-rail-2: missing\n+x\n"
    east.save()
    html = text_of(as_operator.get(east.get_absolute_url()))
    assert "sriov-rail-2: missing" in html and ">Reconcile</button>" in html
    asked = as_operator.post(url)  # it prunes: confirm first, with the drift shown
    assert asked.status_code == 200 and "sriov-rail-2: missing" in text_of(asked)
    assert not Rollout.objects.filter(state="pending").exists()
    response = as_operator.post(url, {"confirm": "yes"})
    record = Rollout.objects.get(state="pending")
    assert response.status_code == 302 and response["Location"] == record.get_absolute_url()
    assert record.plan == seed_plan and record.prune and record.revision is None


@pytest.mark.django_db
def test_reconcile_is_not_offered_for_a_plan_no_longer_bound(as_operator, east, seed_plan):
    make_rollout(east, seed_plan, "succeeded")
    east.drifted, east.drift_checked_at = True, timezone.now()
    east.drift_diff = "# NetworkAttachmentDefinition/ai-training/sriov-rail-2: missing\n+x\n"
    east.save()
    east.plans.remove(seed_plan)
    html = text_of(as_operator.get(east.get_absolute_url()))
    assert "sriov-rail-2: missing" in html and ">Reconcile</button>" not in html
    assert "belong to no plan bound to this cluster" in html
    response = as_operator.post(reverse("cluster-reconcile", args=[east.pk]), {"confirm": "yes"})
    assert response.status_code == 409 and "Nothing to reconcile" in text_of(response)
    assert Rollout.objects.count() == 1


@pytest.mark.django_db
def test_a_rollout_that_prunes_asks_first_and_a_dry_run_does_not(as_operator, east, seed_plan):
    url = reverse("cluster-rollout", args=[east.pk])
    asked = as_operator.post(url, {"plan": seed_plan.slug, "prune": "on"})
    html = text_of(asked)
    assert asked.status_code == 200 and "with prune?" in html and "Roll out and prune" in html
    assert 'name="prune" value="on"' in html and not Rollout.objects.exists()
    dry = as_operator.post(url, {"plan": seed_plan.slug, "prune": "on", "dry_run": "on"})
    assert dry.status_code == 302 and Rollout.objects.get().dry_run
    Rollout.objects.update(state="succeeded")
    done = as_operator.post(url, {"plan": seed_plan.slug, "prune": "on", "confirm": "yes"})
    assert done.status_code == 302 and Rollout.objects.filter(prune=True, dry_run=False).exists()
    start = reverse("plan-rollout-start", args=[seed_plan.slug])
    fan = as_operator.post(start, {"cluster": east.pk, "prune": "on"})
    assert fan.status_code == 200 and "to east with prune?" in text_of(fan)


@pytest.mark.django_db
def test_deleting_a_cluster_asks_first(as_operator, east, finished):
    url = reverse("cluster-delete", args=[east.pk])
    assert "Delete cluster east?" in text_of(as_operator.get(url))
    assert "1 rollout record(s)" in text_of(as_operator.post(url))
    assert Cluster.objects.filter(pk=east.pk).exists()
    response = as_operator.post(url, {"confirm": "yes"})
    assert response.status_code == 302 and response["Location"] == reverse("cluster-list")
    assert not Cluster.objects.exists() and not Rollout.objects.exists()


# ---------------------------------------------------------------------------------------------
# With a real worker and the lab cluster


def poll_panel(client, response, name: str) -> str:
    """Follow a panel's hx-get polls until it stops polling; its last HTML."""
    html = text_of(response)
    for _ in range(60):
        match = re.search(rf'id="{name}"[^>]*hx-get="([^"]+)"', html)
        if not match:
            return html
        time.sleep(0.5)
        html = text_of(client.get(match.group(1), **HTMX))
    raise AssertionError(f"the {name} panel kept polling")


@pytest.mark.django_db(transaction=True)
def test_operator_rolls_out_from_the_page_and_a_real_worker_finishes_it(
    as_operator, lab, lab_cluster, seed_plan, celery_worker_thread
):
    response = as_operator.post(reverse("cluster-test", args=[lab_cluster.pk]), **HTMX)
    assert response.status_code == 200 and "Testing the connection" in text_of(response)
    html = poll_panel(as_operator, response, "connection")
    assert "reachable" in html and ">4</dd>" in html and "rail3_vf" in html

    response = as_operator.post(
        reverse("cluster-rollout", args=[lab_cluster.pk]), {"plan": seed_plan.slug}
    )
    record = Rollout.objects.get()
    assert response.status_code == 302 and response["Location"] == record.get_absolute_url()
    assert record.created_by.username == "otto"
    page = as_operator.get(record.get_absolute_url())
    assert page.status_code == 200 and "Rollout #" in text_of(page)

    def finished():
        html = text_of(as_operator.get(reverse("rollout-live", args=[record.pk]), **HTMX))
        return html if "hx-trigger" not in html else None

    html = wait_for(finished, timeout=60, interval=0.5)
    assert 'data-state="succeeded"' in html, html
    assert html.count('class="row-ok"') == 9 and "row-bad" not in html
    assert html.count("<details") == 9 and "sriov-rail-7" in html

    response = as_operator.post(reverse("cluster-drift-check", args=[lab_cluster.pk]), **HTMX)
    html = poll_panel(as_operator, response, "drift")
    assert "in sync" in html


@pytest.mark.django_db
def test_a_rollout_that_changed_nothing_reads_no_changes_and_counts_are_plural(
    as_operator, east, seed_plan
):
    applied = make_rollout(east, seed_plan, "succeeded", message="9 object(s) changed.")
    unchanged = Rollout.objects.create(
        cluster=east,
        plan=seed_plan,
        plan_slug=seed_plan.slug,
        state="succeeded",
        message="0 object(s) changed, 9 unchanged.",
        findings=[
            {"code": "ROCE_DSCP_TRUST", "severity": "warning", "object": "plan", "field": "",
             "message": "m", "fix": "f"},
        ],
    )  # fmt: skip
    assert unchanged.revision is None and unchanged.revision_label == "no changes"
    page = re.sub(r"\s+", " ", text_of(as_operator.get(unchanged.get_absolute_url())))
    assert "0 errors</span>" in page and "1 warning</span>" in page and "0 info</span>" in page
    assert "0 error<" not in page
    assert re.search(r'<dt>Revision</dt><dd><span id="rollout-revision"> ?<span class="revision '
                     r'revision-none" title="Nothing was changed, so no revision number was used',
                     page)  # fmt: skip
    assert "Roll back to r" not in page  # it changed nothing: not a revision to roll back to
    refused = text_of(as_operator.get(reverse("rollout-rollback", args=[unchanged.pk])))
    assert "changed nothing, so it is not a revision" in refused
    history = re.sub(
        r"\s+", " ", text_of(as_operator.get(reverse("plan-rollouts-page", args=[seed_plan.slug])))
    )
    assert ">no changes</span>" in history and ">r1</span>" in history
    assert f"Roll back to r{applied.revision}" in text_of(
        as_operator.get(applied.get_absolute_url())
    )
