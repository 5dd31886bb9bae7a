"""After a write, compute what a big plan's pages show first, in a worker, so the first look
after a change is as quick as the next ones (planner.plancache keeps it by revision).

The middleware notes the last recorded plan change (planner.revisions) before a write request,
and after it succeeded, queues `planner.tasks.warm_plan` for every plan changed since that has
at least settings.PLAN_WARM_MIN_NICS NICs; smaller plans compute their pages quickly enough
when asked. Queueing is best effort: a broker that cannot take it costs nothing but the warmth.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import connection

from planner.models import NodeNIC, Plan

logger = logging.getLogger(__name__)
SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")


def last_change_id() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM planner_planchange")
        return cursor.fetchone()[0]


def plans_changed_since(change_id: int) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT plan_id FROM planner_planchange WHERE id > %s", [change_id])
        return [row[0] for row in cursor.fetchall()]


def big_enough(plan_id: int) -> bool:
    return NodeNIC.objects.filter(rail__plan_id=plan_id).count() >= settings.PLAN_WARM_MIN_NICS


def warm(plan: Plan) -> None:
    """Compute the plan's first views: its rail figures, the Manifests tab's default view
    (spec, bundle and preflight with it), the manifests API's default answers, the export."""
    from planner import exports, services
    from planner.api.manifests import cached_bundle_body, pod_options
    from planner.manifest_views import Controls, manifests_context

    try:
        services.rail_states(plan)
        manifests_context(plan, Controls())
        for output in ("yaml", "json"):
            cached_bundle_body(plan, output, "nad", "bundle", pod_options({}))
        exports.export_text(plan, "yaml")
    except Exception:  # a courtesy: the pages compute it themselves when asked
        logger.warning("cannot warm the cache of plan %s", plan.pk, exc_info=True)


def queue_warm(plan_ids: list[int]) -> list[int]:
    """Queue a warm task for each big plan; the ids queued."""
    from planner import tasks
    from railstudio.queueing import QueueUnavailable, enqueue

    queued = []
    for plan_id in plan_ids:
        if not big_enough(plan_id):
            continue
        try:
            enqueue(lambda plan_id=plan_id: tasks.warm_plan.delay(plan_id))
        except QueueUnavailable:
            logger.warning("cannot queue the warming of plan %s", plan_id)
            return queued
        queued.append(plan_id)
    return queued


class WarmChangedPlansMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method in SAFE_METHODS or connection.in_atomic_block:
            return self.get_response(request)
        before = last_change_id()
        response = self.get_response(request)
        if response.status_code < 400:
            changed = plans_changed_since(before)
            if changed:
                queue_warm(changed)
        return response
