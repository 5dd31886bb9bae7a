"""Inventory imports run by a worker: a file of any size the API accepts, in one request.

`start` records the text as an InventoryImport and queues `planner.tasks.run_inventory_import`
(`202` with the job's URL on the API; a progress page in the studio). The worker parses,
validates and writes it with `planner.inventory` (all or nothing), reporting NICs written as it
goes; progress lives in the cache (the import's own transaction hides its rows until the end),
the outcome in the row. Files up to settings.INVENTORY_SYNC_BYTES are imported in the request
itself, as before: a small file answers at once with its counts or its errors.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from planner import inventory, warming
from planner.models import ImportState, InventoryImport, Plan
from railstudio import db_errors
from railstudio.queueing import QueueUnavailable, enqueue

PROGRESS_SECONDS = 0.5
ERROR_LIMIT = 200
DUPLICATE_HOST_IP = (
    "Two NICs on the same rail would share a host IP (in this file, or with a NIC already "
    "in the plan); a host IP is unique per rail. Nothing was imported."
)
logger = logging.getLogger(__name__)


def runs_in_worker(text: str) -> bool:
    return len(text.encode()) > settings.INVENTORY_SYNC_BYTES


def progress_key(job: InventoryImport) -> str:
    """Named by id and creation time: ids start again in a recreated database, Redis does not."""
    return f"inventory-import:{job.pk}:{job.created_at.timestamp()}:progress"


def start(plan: Plan, text: str, filename: str = "", user=None) -> InventoryImport:
    """Record the import and queue it once committed (railstudio.queueing.QueueUnavailable, and
    the job marked failed, when the broker cannot be reached)."""
    from planner import tasks

    job = InventoryImport.objects.create(
        plan=plan,
        created_by=user if user is not None and user.is_authenticated else None,
        filename=filename[:255],
        text=text,
    )
    try:
        enqueue(lambda: tasks.run_inventory_import.delay(job.pk))
    except QueueUnavailable as error:
        _finish(job.pk, ImportState.FAILED, errors={"queue": [str(error)]})
        raise
    return job


def progress(job: InventoryImport) -> tuple[int, int]:
    """(NICs written, NICs in the file) as the worker last reported them."""
    if job.state != ImportState.RUNNING:
        return job.done, job.total
    try:
        found = cache.get(progress_key(job))
    except Exception:  # an unreachable cache: the row's figures
        found = None
    return tuple(found) if found else (job.done, job.total)


def status(job: InventoryImport) -> dict:
    done, total = progress(job)
    return {
        "id": job.pk,
        "plan": job.plan_id,
        "state": job.state,
        "done": done,
        "total": total,
        "errors": job.errors,
        "result": job.result,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "url": reverse("api-inventory-import-detail", args=[job.pk]),
        "page": reverse("node-import-job", args=[job.plan.slug, job.pk]),
    }


class _Reporter:
    def __init__(self, job: InventoryImport):
        self.job = job
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last < PROGRESS_SECONDS and done < total:
            return
        self.last = now
        try:
            cache.set(progress_key(self.job), (done, total), 3600)
        except Exception:  # progress is a courtesy: the import goes on without it
            logger.warning("cannot report the progress of import %s", self.job.pk)


def _finish(job_id: int, state: str, **fields) -> None:
    InventoryImport.objects.filter(pk=job_id).update(
        state=state, finished_at=timezone.now(), text="", **fields
    )


def _trimmed(errors: dict) -> dict:
    return dict(list(errors.items())[:ERROR_LIMIT])


def run(job_id: int) -> str:
    """Run a queued import (a redelivered finished one is left alone); returns its state."""
    with transaction.atomic():
        job = InventoryImport.objects.select_for_update().select_related("plan").get(pk=job_id)
        if job.finished:
            return job.state
        job.state, job.started_at = ImportState.RUNNING, timezone.now()
        job.save(update_fields=["state", "started_at"])
    report = _Reporter(job)
    try:
        nodes = inventory.parse(job.text, job.filename)
        total = sum(len(node.nics) for node in nodes)
        InventoryImport.objects.filter(pk=job_id).update(total=total)
        report(0, total)
        counts = inventory.import_nodes(job.plan, nodes, progress=report)
    except inventory.InventoryError as error:
        _finish(job_id, ImportState.FAILED, errors=_trimmed(error.errors))
    except IntegrityError:
        _finish(job_id, ImportState.FAILED, errors={"host_ip": [DUPLICATE_HOST_IP]})
    except DatabaseError as error:
        _finish(job_id, ImportState.FAILED, errors={"file": [db_errors.describe(error).message]})
    except Exception:
        logger.exception("inventory import %s failed", job_id)
        _finish(job_id, ImportState.FAILED, errors={"file": ["The import failed unexpectedly."]})
    else:
        _finish(job_id, ImportState.SUCCEEDED, result=counts, done=total, total=total)
        warming.warm(job.plan)
    return InventoryImport.objects.values_list("state", flat=True).get(pk=job_id)
