"""After a write, compute what a big plan's pages show first, in a worker, so the first look
after a change is as quick as the next ones (planner.plancache keeps it by revision).

After a write request succeeded, the middleware queues `planner.tasks.warm_plan` for every plan
the request changed (PostgreSQL: what the revision triggers noted for the connection; SQLite:
the plan changes recorded since the request began), unless one is queued already for that plan
(it computes the plan as it is when it runs). The task warms plans of at least
settings.PLAN_WARM_MIN_NICS NICs; smaller ones compute their pages quickly enough when asked. Queueing is best effort: a broker that cannot take it costs only the warmth.
A write request pays one small query on PostgreSQL (two on SQLite) and, per changed plan,
one cache write.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import cache
from django.db import connection

from planner import revisions
from planner.models import NodeNIC, Plan

logger = logging.getLogger(__name__)
SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")
PENDING_SECONDS = 300  # a lost task (a worker gone) holds a plan's warming back this long


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


def pending_key(plan_id: int) -> str:
    return f"planner:warm-pending:{plan_id}"


def queue_warm(plan_ids: list[int]) -> list[int]:
    """Queue a warm task for each plan that has none queued; the ids queued."""
    from planner import tasks
    from railstudio.queueing import QueueUnavailable, enqueue

    queued = []
    for plan_id in plan_ids:
        try:
            if not cache.add(pending_key(plan_id), 1, PENDING_SECONDS):
                continue
            enqueue(lambda plan_id=plan_id: tasks.warm_plan.delay(plan_id))
        except QueueUnavailable:
            cache.delete(pending_key(plan_id))
            logger.warning("cannot queue the warming of plan %s", plan_id)
            return queued
        except Exception:  # the cache is down: no warming, the pages compute when asked
            logger.warning("cannot queue the warming of plan %s", plan_id, exc_info=True)
            return queued
        queued.append(plan_id)
    return queued


def run(plan_id: int) -> bool:
    """The task: warm the plan as it is now, if it is big enough; whether it did."""
    cache.delete(pending_key(plan_id))  # changes from now on queue another run
    plan = Plan.objects.filter(pk=plan_id).first()
    if plan is None or not big_enough(plan_id):
        return False
    warm(plan)
    return True


class WarmChangedPlansMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method in SAFE_METHODS or connection.in_atomic_block:
            return self.get_response(request)
        if connection.vendor == "postgresql":
            # The triggers note what this connection commits: one query, after the request
            # (a note left by an earlier request that failed is taken too: it did change them).
            response = self.get_response(request)
            changed = revisions.take_session_changes() if response.status_code < 400 else []
        else:
            before = last_change_id()
            response = self.get_response(request)
            changed = plans_changed_since(before) if response.status_code < 400 else []
        if changed:
            queue_warm(changed)
        return response
