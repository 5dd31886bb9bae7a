import pytest

from planner import tasks
from planner.models import NodeNIC
from tests.helpers import wait_for


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_allocates_host_ips_for_the_plan(seed_plan, celery_worker_thread):
    tasks.allocate_plan_host_ips.delay(seed_plan.id)
    wait_for(lambda: not NodeNIC.objects.filter(host_ip__isnull=True).exists())
    assert NodeNIC.objects.filter(rail__index=3).order_by("host_ip").first().host_ip == "10.53.1.0"
