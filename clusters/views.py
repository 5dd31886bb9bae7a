"""Cluster and rollout pages: the registry, connection tests, drift, rollouts and their history.

Reads need the viewer role, every POST the operator role. The work goes through clusters.services
and clusters.tasks, as the API's does; panels that wait for a worker poll every second.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from clusters import (
    diffing,
    discovery_plans,
    forms,
    kubeconfig_policy,
    kubeconfigs,
    liveness,
    rollbacks,
    rollout,
    services,
    tasks,
)
from clusters.models import ACTIVE_STATES, Cluster, ClusterMode, Rollout
from clusters.panels import (
    POLL_LIMIT,
    Poll,
    failed_after,
    get_cluster,
    poll_state,
    poll_url,
    stamp,
    task_stamp,
)
from planner.models import Plan
from railstudio.roles import OPERATOR
from railstudio.web.access import operator_post, role_required, viewer_required
from railstudio.web.htmx import INVALID

CONFLICT = 409
HISTORY_PER_PAGE = 25
OK_OUTCOMES = {"applied", "dry-run", "skipped"}


def confirmed(request) -> bool:
    """Destructive actions (prune, unbind, delete, rollback) run only from their confirmation
    page's button, which posts confirm=yes; any other POST shows that page first."""
    return request.POST.get("confirm") == "yes"


def confirm_page(
    request, *, title: str, lines: list[str], action: str, button: str, back: str, diff: str = ""
):
    """A page that says what an action will do and posts the same form again, confirmed."""
    fields = [
        (name, value)
        for name in request.POST
        if name not in ("csrfmiddlewaretoken", "confirm")
        for value in request.POST.getlist(name)
    ]
    context = {
        "title": title, "lines": lines, "action": action, "button": button, "back": back,
        "fields": fields, "diff": diff,
    }  # fmt: skip
    return render(request, "clusters/confirm.html", context)


# ---------------------------------------------------------------------------------------------
# Clusters


@viewer_required
def cluster_list(request):
    last = Rollout.objects.filter(cluster=OuterRef("pk")).order_by("-created_at", "-id")
    clusters = list(
        Cluster.objects.prefetch_related("plans").annotate(
            last_rollout_id=Subquery(last.values("pk")[:1])
        )
    )
    latest = Rollout.objects.in_bulk([c.last_rollout_id for c in clusters if c.last_rollout_id])
    rows = [(cluster, latest.get(cluster.last_rollout_id)) for cluster in clusters]
    return render(request, "clusters/cluster_list.html", {"rows": rows})


def create_page(request, form, contexts=(), status=200):
    return render(
        request,
        "clusters/cluster_form.html",
        {
            "form": form,
            "contexts": contexts,
            "plans": Plan.objects.all(),
            "mode_choices": ClusterMode.choices,
        },
        status=status,
    )


def contexts_of(text: str) -> list[str]:
    try:
        return forms.context_names(text)[0] if text.strip() else []
    except kubeconfigs.KubeconfigError:
        return []


@role_required(OPERATOR)
def cluster_create(request):
    if request.method != "POST":
        return create_page(request, forms.registration_form())
    form = forms.registration_form(request.POST, request.FILES)
    if not form.errors and form.is_valid():
        try:
            cluster = services.register(**form.cleaned_data)
        except services.RegistrationError as error:
            for field, errors in error.errors.items():
                form.add_error(field, errors)
        else:
            messages.success(request, f"Registered {cluster.name}; testing the connection.")
            return redirect(cluster)
    elif form.kubeconfig_given.strip() and not form.typed.get("in_cluster"):
        # The page names every problem at once: the kubeconfig's too, though another field
        # stopped the serializer before registration would have read it.
        try:
            services.check_kubeconfig(form.kubeconfig_given, request.POST.get("context", ""))
        except services.RegistrationError as error:
            for field, errors in error.errors.items():
                form.add_error(field, errors)
    return create_page(request, form, contexts_of(form.kubeconfig_given), INVALID)


@role_required(OPERATOR)
@require_POST
def kubeconfig_contexts(request):
    """htmx: the context select for a pasted or uploaded kubeconfig, or the error inline."""
    text, errors = forms.kubeconfig_text(request.POST, request.FILES)
    context = {"contexts": [], "current": "", "kubeconfig_errors": list(errors.values())}
    if not errors and text.strip():
        try:
            context["contexts"], context["current"] = forms.context_names(text)
            context["kubeconfig_errors"] = kubeconfig_policy.problems(
                kubeconfigs.load(text), kubeconfig_policy.current()
            )
        except kubeconfigs.KubeconfigError as error:
            context["kubeconfig_errors"] = [str(error)]
        if not context["contexts"] and not context["kubeconfig_errors"]:
            context["kubeconfig_errors"] = ["The kubeconfig lists no contexts."]
    status = INVALID if context["kubeconfig_errors"] else 200
    return render(request, "clusters/partials/context_field.html", context, status=status)


def just_registered(cluster: Cluster) -> bool:
    """Registration queues a connection test: the page waits for its result."""
    recent = timezone.now() - cluster.created_at < timedelta(seconds=POLL_LIMIT)
    return cluster.tested_at is None and not cluster.last_error and recent


def detail_page(request, cluster: Cluster, status: int = 200, **extra):
    liveness.reap(cluster.pk)
    history = Paginator(
        cluster.rollouts.select_related("created_by", "plan", "rollback_of"), HISTORY_PER_PAGE
    ).get_page(request.GET.get("page"))
    bound = list(cluster.plans.all())
    context = {
        "cluster": cluster,
        "bound": bound,
        "unbound": Plan.objects.exclude(pk__in=[plan.pk for plan in bound]),
        "history": history,
        "active": cluster.rollouts.filter(state__in=ACTIVE_STATES).first(),
        "form": forms.rollout_form(),
        "connection_poll": Poll(poll_url("cluster-connection", cluster.pk, "", 1))
        if just_registered(cluster)
        else Poll(),
        "drift_poll": Poll(),
        "drift_failed": failed_after(cluster, cluster.drift_checked_at),
        "reconcilable": drifted_plans(cluster) if cluster.drifted else [],
        "discovery_poll": Poll(),
        "discovery_failed": failed_after(cluster, cluster.discovered_at),
        "comparisons": discovery_plans.comparisons(cluster),
        "vf": vf_table(cluster),
        **extra,
    }
    return render(request, "clusters/cluster_detail.html", context, status=status)


@viewer_required
def cluster_detail(request, pk):
    return detail_page(request, get_cluster(pk))


def vf_table(cluster: Cluster) -> dict:
    """VF resources as a node-by-resource table: {"resources": [...], "rows": [(node, [...])]}."""
    resources = sorted(cluster.vf_resources or {})
    nodes = sorted(
        {node for per_node in (cluster.vf_resources or {}).values() for node in per_node}
    )
    rows = [(node, [cluster.vf_resources[r].get(node, "—") for r in resources]) for node in nodes]
    return {"resources": resources, "rows": rows}


def connection_response(request, cluster: Cluster, poll: Poll, **extra):
    context = {"cluster": cluster, "connection_poll": poll, "vf": vf_table(cluster), **extra}
    return render(request, "clusters/partials/connection.html", context)


@viewer_required
def connection_panel(request, pk):
    cluster = get_cluster(pk)
    poll = poll_state(request, "cluster-connection", cluster.pk, stamp(cluster.tested_at))
    return connection_response(request, cluster, poll)


@operator_post
def cluster_test(request, pk):
    cluster = get_cluster(pk)
    services.enqueue(lambda: tasks.test_connection.delay(cluster.pk))
    if not request.htmx:
        messages.info(request, f"Testing the connection to {cluster.name}.")
        return redirect(cluster)
    poll = Poll(poll_url("cluster-connection", cluster.pk, stamp(cluster.tested_at), 1))
    return connection_response(request, cluster, poll)


def drift_context(cluster: Cluster, poll: Poll, **extra) -> dict:
    return {
        "cluster": cluster,
        "drift_poll": poll,
        "drift_failed": failed_after(cluster, cluster.drift_checked_at),
        "reconcilable": drifted_plans(cluster) if cluster.drifted else [],
        **extra,
    }


@viewer_required
def drift_panel(request, pk):
    cluster = get_cluster(pk)
    current = task_stamp(cluster.drift_checked_at, cluster)
    poll = poll_state(request, "cluster-drift", cluster.pk, current)
    return render(request, "clusters/partials/drift.html", drift_context(cluster, poll))


@operator_post
def cluster_drift_check(request, pk):
    cluster = get_cluster(pk)
    services.enqueue(lambda: tasks.check_drift.delay(cluster.pk))
    if not request.htmx:
        messages.info(request, f"Checking {cluster.name} for drift.")
        return redirect(cluster)
    since = task_stamp(cluster.drift_checked_at, cluster)
    poll = Poll(poll_url("cluster-drift", cluster.pk, since, 1))
    return render(request, "clusters/partials/drift.html", drift_context(cluster, poll))


def drifted_plans(cluster: Cluster) -> list[Plan]:
    """Bound plans whose last applied revision has an object named in the drift diff; all of
    the applied bound plans when none is named (drift that only prunes names no object of a
    bundle). A plan no longer bound to the cluster is never rolled out again from here."""
    bound = set(cluster.plans.values_list("pk", flat=True))
    applied = [r for r in rollout.last_applied(cluster) if r.plan and r.plan_id in bound]
    lines = cluster.drift_diff.splitlines()
    headers = {line[2:].rsplit(":", 1)[0] for line in lines if line.startswith("# ")}

    def named(record: Rollout) -> bool:
        return any(diffing.Change(obj, "change", "").label in headers for obj in record.bundle)

    return [record.plan for record in ([r for r in applied if named(r)] or applied)]


@operator_post
def cluster_reconcile(request, pk):
    cluster = get_cluster(pk)
    plans = drifted_plans(cluster) if cluster.drifted else []
    if not plans:
        error = (
            "Nothing to reconcile: the last drift check found no drift from a plan bound to "
            "this cluster."
        )
        return detail_page(request, cluster, CONFLICT, drift_error=error)
    if not confirmed(request):
        return confirm_page(
            request,
            title=f"Reconcile {plans[0].name} on {cluster.name}?",
            lines=[
                f"This rolls {plans[0].name} out to {cluster.name} again, with prune: objects "
                "labelled as this plan's that it no longer renders are deleted from the cluster.",
            ],
            action=reverse("cluster-reconcile", args=[cluster.pk]),
            button="Reconcile (with prune)",
            back=cluster.get_absolute_url(),
            diff=cluster.drift_diff,
        )
    try:
        with transaction.atomic():
            record = services.start_rollout(cluster, plans[0], request.user, prune=True)
    except rollout.RolloutConflict as error:
        return detail_page(request, cluster, CONFLICT, drift_error=str(error))
    messages.success(request, f"Reconciling {plans[0].name} on {cluster.name}.")
    if plans[1:]:
        names = ", ".join(plan.name for plan in plans[1:])
        messages.warning(
            request, f"Also drifted: {names}. Reconcile again once this rollout finishes."
        )
    return redirect(record)


@operator_post
def cluster_bind(request, pk):
    cluster = get_cluster(pk)
    form = forms.bind_form(request.POST)
    if not form.is_valid():
        return detail_page(request, cluster, INVALID, bind_form=form)
    try:
        services.bind(cluster, [form.cleaned_data["plan"]])
    except services.BindConflict as error:
        for message in error.messages:
            form.add_error("plan", message)
        return detail_page(request, cluster, INVALID, bind_form=form)
    messages.success(request, f"Bound {form.cleaned_data['plan'].name} to {cluster.name}.")
    return redirect(cluster)


@operator_post
def cluster_unbind(request, pk, slug):
    cluster = get_cluster(pk)
    plan = get_object_or_404(cluster.plans, slug=slug)
    if not confirmed(request):
        return confirm_page(
            request,
            title=f"Unbind {plan.name} from {cluster.name}?",
            lines=[
                f"{plan.name}'s objects stay on the cluster, but it can no longer be rolled out, "
                "reconciled or rolled back there, and its pods are no longer judged by it.",
            ],
            action=reverse("cluster-unbind", args=[cluster.pk, plan.slug]),
            button="Unbind",
            back=cluster.get_absolute_url(),
        )
    cluster.plans.remove(plan)
    messages.success(request, f"Unbound {plan.name} from {cluster.name}.")
    return redirect(cluster)


@role_required(OPERATOR)
def cluster_delete(request, pk):
    cluster = get_cluster(pk)
    if request.method != "POST" or not confirmed(request):
        return confirm_page(
            request,
            title=f"Delete cluster {cluster.name}?",
            lines=[
                f"Rail Studio forgets {cluster.name}: its stored credentials, its "
                f"{cluster.rollouts.count()} rollout record(s) and its pod snapshots. Nothing "
                "on the cluster itself changes.",
            ],
            action=reverse("cluster-delete", args=[cluster.pk]),
            button="Delete the cluster",
            back=cluster.get_absolute_url(),
        )
    name = cluster.name
    cluster.delete()
    messages.success(request, f"Deleted cluster {name}.")
    return redirect("cluster-list")


def prune_confirmation(request, form, plan_name: str, targets: str, action: str, back: str):
    """A real (not dry-run) rollout with prune deletes objects: confirm it first."""
    if not form.cleaned_data.get("prune") or form.cleaned_data.get("dry_run"):
        return None
    if confirmed(request):
        return None
    return confirm_page(
        request,
        title=f"Roll {plan_name} out to {targets} with prune?",
        lines=[
            "Prune deletes the live objects labelled as this plan's that its bundle no longer "
            "renders (a removed rail's NAD, say). Pods still attached to them lose nothing now, "
            "but new pods that ask for them will not start.",
            "A dry run first shows exactly which objects would be deleted.",
        ],
        action=action,
        button="Roll out and prune",
        back=back,
    )


@operator_post
def cluster_rollout(request, pk):
    cluster = get_cluster(pk)
    form = forms.rollout_form(request.POST)
    if not form.is_valid():
        return detail_page(request, cluster, INVALID, form=form)
    plan = form.cleaned_data["plan"]
    url, back = reverse("cluster-rollout", args=[cluster.pk]), cluster.get_absolute_url()
    ask = prune_confirmation(request, form, plan.name, cluster.name, url, back)
    if ask is not None:
        return ask
    try:
        with transaction.atomic():
            record = services.start_rollout(
                cluster, plan, request.user, **form.serializer.options()
            )
    except rollout.RolloutConflict as error:
        return detail_page(request, cluster, CONFLICT, form=form, rollout_error=str(error))
    return redirect(record)


# ---------------------------------------------------------------------------------------------
# Rollouts


def get_rollout(pk) -> Rollout:
    related = ("cluster", "plan", "created_by", "rollback_of", "cancelled_by")
    return get_object_or_404(Rollout.objects.select_related(*related), pk=pk)


def live_context(record: Rollout) -> dict:
    rows = list(record.items.all())
    finished = sum(1 for row in rows if row.outcome != "pending")
    severities = [finding.get("severity") for finding in record.findings]
    return {
        "record": record,
        "rollback_allowed": not record.is_active and rollout.rollback_refusal(record) is None,
        "rows": rows,
        "finished_rows": finished,
        "failed_rows": sum(1 for row in rows if row.outcome == "failed"),
        "ok_outcomes": OK_OUTCOMES,
        "finding_counts": {s: severities.count(s) for s in ("error", "warning", "info")},
        "duration": (record.finished_at - record.started_at).total_seconds()
        if record.finished_at and record.started_at
        else None,
    }


def rollout_page(request, record: Rollout, status: int = 200, **extra):
    context = {**live_context(record), **extra}
    return render(request, "clusters/rollout_detail.html", context, status=status)


@viewer_required
def rollout_detail(request, pk):
    liveness.reap()
    return rollout_page(request, get_rollout(pk))


@viewer_required
def rollout_live(request, pk):
    """The polled part of the rollout page: state, findings, per-object rows, then diffs; and,
    out of band, the revision it took (known only when it ends)."""
    liveness.reap()
    context = {**live_context(get_rollout(pk)), "polled": True}
    return render(request, "clusters/partials/rollout_live.html", context)


def rollback_page(request, record: Rollout, status: int = 200, **extra):
    context = {"record": record, "preview": rollbacks.preview(record), **extra}
    return render(request, "clusters/rollback_confirm.html", context, status=status)


@role_required(OPERATOR)
def rollout_rollback(request, pk):
    """GET (or a POST not confirmed): what rolling back would change, the options, and the
    confirm button. POST confirm=yes: start it."""
    record = get_rollout(pk)
    if request.method != "POST" or not confirmed(request):
        return rollback_page(request, record)
    form = forms.rollback_form(request.POST)
    if not form.is_valid():
        return rollback_page(request, record, INVALID, form=form)
    try:
        with transaction.atomic():
            new = services.start_rollback(record, request.user, **form.serializer.options())
    except rollout.RolloutConflict as error:
        return rollback_page(request, record, CONFLICT, form=form, action_error=str(error))
    except rollout.RollbackRefused as error:
        return rollback_page(request, record, INVALID, form=form, action_error=str(error))
    messages.success(
        request,
        f"Rolling {record.cluster.name} back to {rollout.revision_text(record)} of "
        f"{record.plan_slug} (as rollout #{new.pk}).",
    )
    return redirect(new)


@operator_post
def rollout_cancel(request, pk):
    record = get_rollout(pk)
    outcome = liveness.cancel(record, request.user)
    if outcome == "ended":
        record.refresh_from_db()
        error = f"Rollout #{record.pk} already ended ({record.state}); nothing to cancel."
        return rollout_page(request, record, CONFLICT, action_error=error)
    if outcome == "cancelled":
        messages.success(request, f"Cancelled rollout #{record.pk}.")
    else:
        messages.info(request, f"Cancelling rollout #{record.pk}: it stops before its next write.")
    return redirect(record)


# ---------------------------------------------------------------------------------------------
# A plan's rollouts


def plan_rollouts_page(request, plan: Plan, status: int = 200, **extra):
    history = Paginator(
        plan.rollouts.select_related("cluster", "created_by", "rollback_of"), HISTORY_PER_PAGE
    ).get_page(request.GET.get("page"))
    context = {"plan": plan, "history": history, **extra}
    return render(request, "clusters/plan_rollouts.html", context, status=status)


@viewer_required
def plan_rollouts(request, slug):
    return plan_rollouts_page(request, get_object_or_404(Plan, slug=slug))


@operator_post
def plan_rollout_start(request, slug):
    plan = get_object_or_404(Plan, slug=slug)
    form = forms.plan_rollout_form(request.POST, plan)
    if not form.is_valid():
        return plan_rollouts_page(request, plan, INVALID, rollout_form=form)
    targets = ", ".join(cluster.name for cluster in form.cleaned_data["cluster"])
    url, back = (
        reverse("plan-rollout-start", args=[plan.slug]),
        reverse("plan-rollouts-page", args=[plan.slug]),
    )
    ask = prune_confirmation(request, form, plan.name, targets, url, back)
    if ask is not None:
        return ask
    with transaction.atomic():
        started, refused = services.start_rollouts(
            form.cleaned_data["cluster"], plan, request.user, **form.serializer.options()
        )
    if not started:
        return plan_rollouts_page(request, plan, CONFLICT, rollout_form=form, refused=refused)
    for name, reason in refused.items():
        messages.warning(request, f"Not started on {name}: {reason}")
    if len(started) == 1:
        return redirect(started[0])
    names = ", ".join(record.cluster.name for record in started)
    messages.success(request, f"Rolling {plan.name} out to {len(started)} clusters: {names}.")
    return redirect("plan-rollouts-page", slug=plan.slug)
