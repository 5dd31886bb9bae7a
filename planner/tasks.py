from celery import shared_task

from planner import allocation
from planner.models import Plan


@shared_task(acks_late=True)
def allocate_plan_host_ips(plan_id: int) -> dict[int, int]:
    """Bulk host-IP allocation for a whole plan, for plans too big to address in a request."""
    return allocation.allocate_plan(Plan.objects.get(pk=plan_id))


@shared_task(acks_late=True)
def run_inventory_import(job_id: int) -> str:
    """An inventory import too big for a request (planner.import_jobs)."""
    from planner import import_jobs

    return import_jobs.run(job_id)


@shared_task
def warm_plan(plan_id: int) -> bool:
    """Compute a changed big plan's first views (planner.warming)."""
    from planner import warming

    return warming.run(plan_id)
