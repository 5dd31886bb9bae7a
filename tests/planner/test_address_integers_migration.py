"""The migration that adds the integer address columns fills them for rows written before it."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from planner import ipam


def _named(executor, fragment: str) -> tuple[str, str]:
    names = [name for app, name in executor.loader.disk_migrations if app == "planner"]
    return ("planner", next(name for name in names if fragment in name))


@pytest.mark.django_db(transaction=True)
def test_existing_addresses_get_their_integers():
    executor = MigrationExecutor(connection)
    target = _named(executor, "address_integers")
    before = executor.loader.graph.node_map[target].parents
    previous = next(parent.key for parent in before if parent.key[0] == "planner")
    latest = executor.loader.graph.leaf_nodes("planner")
    executor.migrate([previous])
    old = executor.loader.project_state([previous]).apps
    plan = old.get_model("planner", "Plan").objects.create(name="Old", slug="old")
    rail = old.get_model("planner", "Rail").objects.create(
        plan=plan, index=0, subnet="10.90.0.0/24", nad_name="a", interface_name="b"
    )
    six = old.get_model("planner", "Rail").objects.create(
        plan=plan, index=1, subnet="fd00:90::/120", nad_name="c", interface_name="d"
    )
    node = old.get_model("planner", "Node").objects.create(plan=plan, name="n")
    nic = old.get_model("planner", "NodeNIC")
    nic.objects.create(node=node, rail=rail, host_ip="10.90.0.7")
    nic.objects.create(node=node, rail=six, host_ip="fd00:90::7")
    old.get_model("planner", "Exclusion").objects.create(
        rail=rail, cidr="10.90.0.16/28", first_ip="10.90.0.16", last_ip="10.90.0.31"
    )
    executor = MigrationExecutor(connection)
    executor.migrate(latest)
    new = executor.loader.project_state(latest).apps
    hosts = dict(new.get_model("planner", "NodeNIC").objects.values_list("host_ip", "host_int"))
    assert hosts == {"10.90.0.7": ipam.ip_to_int("10.90.0.7"), "fd00:90::7": None}
    exclusion = new.get_model("planner", "Exclusion").objects.get()
    assert (exclusion.first_int, exclusion.last_int) == ipam.span_of("10.90.0.16/28")
