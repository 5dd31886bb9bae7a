"""Plan.revision and the cache keyed by it (planner.revisions, planner.plancache): every kind of
write to a plan, its rails, exclusions, nodes or NICs, through any path, gives a new revision,
so what was cached before is not served after."""

import pytest
import yaml

from planner import allocation, inventory, plancache, revisions
from planner.models import Exclusion, Node, NodeNIC, Plan, Rail

MANIFESTS = "/api/plans/{}/manifests/?format=yaml"
# Each write commits, as it does in a request (a transaction that wrote a plan keeps nothing
# in the cache for it until it ends).
pytestmark = pytest.mark.django_db(transaction=True)


def revision(plan) -> str:
    return revisions.current(plan.pk)[0]


def rendered(api, plan) -> list[dict]:
    response = api.get(MANIFESTS.format(plan.pk))
    assert response.status_code == 200, response.content
    return list(yaml.safe_load_all(response.content))


def excludes(api, plan, rail_index: int = 0) -> list[str]:
    import json

    nad = rendered(api, plan)[rail_index]
    return json.loads(nad["spec"]["config"])["ipam"]["exclude"]


@pytest.fixture
def warm(seed_plan, viewer_api):
    """The seed plan with its spec, bundle and API answer cached at its current revision."""
    plancache.spec(seed_plan)
    plancache.bundle(seed_plan)
    rendered(viewer_api, seed_plan)
    assert viewer_api.get(f"/api/plans/{seed_plan.pk}/manifests/?format=json").status_code == 200
    return revision(seed_plan)


def test_an_unchanged_plan_is_read_from_the_cache(seed_plan, viewer_api, warm, monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("recomputed an unchanged plan")

    monkeypatch.setattr(Plan, "to_spec", boom)
    monkeypatch.setattr("planner.manifests.render_bundle", boom)
    monkeypatch.setattr("planner.preflight.check_rendered", boom)
    for _ in range(3):
        assert rendered(viewer_api, seed_plan)[0]["kind"] == "NetworkAttachmentDefinition"
        answer = viewer_api.get(f"/api/plans/{seed_plan.pk}/manifests/?format=json")
        assert answer.json()["counts"]["error"] == 0
    assert revision(seed_plan) == warm


def test_plan_save_and_queryset_update_move_the_revision(seed_plan, planner_api, warm):
    response = planner_api.patch(
        f"/api/plans/{seed_plan.pk}/", {"namespace": "other"}, format="json"
    )
    assert response.status_code == 200, response.content
    after_save = revision(seed_plan)
    assert after_save != warm
    assert {obj["metadata"]["namespace"] for obj in rendered(planner_api, seed_plan)} == {"other"}
    Plan.objects.filter(pk=seed_plan.pk).update(namespace="third")
    assert revision(seed_plan) != after_save
    assert {obj["metadata"]["namespace"] for obj in rendered(planner_api, seed_plan)} == {"third"}


def test_a_stale_plan_instance_saved_never_takes_the_revision_back(seed_plan, warm):
    stale = Plan.objects.get(pk=seed_plan.pk)
    Node.objects.create(plan=seed_plan, name="late-node")
    moved = revision(seed_plan)
    stale.description = "saved from an instance read before the node was added"
    stale.save()
    assert revision(seed_plan) not in (moved, warm)


def test_rail_writes_move_the_revision(seed_plan, planner_api, warm):
    rail = seed_plan.rails.get(index=0)
    response = planner_api.patch(
        f"/api/rails/{rail.pk}/", {"gateway": "10.50.0.254"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert revision(seed_plan) != warm
    config = rendered(planner_api, seed_plan)[0]["spec"]["config"]
    assert "10.50.0.254" in config
    before = revision(seed_plan)
    Rail.objects.filter(pk=rail.pk).update(gateway=None)
    assert revision(seed_plan) != before
    assert "10.50.0.254" not in rendered(planner_api, seed_plan)[0]["spec"]["config"]


def test_exclusion_writes_move_the_revision(seed_plan, planner_api, warm):
    rail = seed_plan.rails.get(index=0)
    response = planner_api.post(
        "/api/exclusions/",
        {"rail": rail.pk, "cidr": "10.50.200.0/24", "purpose": "reserved"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert revision(seed_plan) != warm
    assert "10.50.200.0/24" in excludes(planner_api, seed_plan)
    before = revision(seed_plan)
    Exclusion.objects.filter(pk=response.json()["id"]).delete()  # a queryset delete
    assert revision(seed_plan) != before
    assert "10.50.200.0/24" not in excludes(planner_api, seed_plan)


def test_node_writes_move_the_revision(seed_plan, planner_api, warm):
    count = len(plancache.spec(seed_plan).nodes)
    Node.objects.bulk_create([Node(plan=seed_plan, name=f"bulk-{n}") for n in range(3)])
    assert revision(seed_plan) != warm
    assert len(plancache.spec(seed_plan).nodes) == count + 3
    before = revision(seed_plan)
    Node.objects.filter(plan=seed_plan, name__startswith="bulk-").update(gpu_count=4)
    assert revision(seed_plan) != before
    assert {n.gpu_count for n in plancache.spec(seed_plan).nodes if n.name.startswith("bulk-")} == {
        4
    }
    before = revision(seed_plan)
    node = Node.objects.get(plan=seed_plan, name="bulk-0")
    assert planner_api.delete(f"/api/nodes/{node.pk}/").status_code == 204
    assert revision(seed_plan) != before
    assert len(plancache.spec(seed_plan).nodes) == count + 2


def test_nic_writes_move_the_revision(seed_plan, planner_api, warm):
    """Allocation writes host IPs with a raw executemany UPDATE; they become host exclusions."""
    assert NodeNIC.objects.filter(rail__plan=seed_plan, host_ip__isnull=False).count() == 0
    assert excludes(planner_api, seed_plan) == ["10.50.0.0/24"]
    allocation.allocate_plan(seed_plan)
    after_allocation = revision(seed_plan)
    assert after_allocation != warm
    assert len(excludes(planner_api, seed_plan)) > 1
    NodeNIC.objects.filter(rail__plan=seed_plan).update(host_ip=None)
    assert revision(seed_plan) != after_allocation
    assert excludes(planner_api, seed_plan) == ["10.50.0.0/24"]
    before = revision(seed_plan)
    nic = NodeNIC.objects.filter(rail__plan=seed_plan, rail__index=0).first()
    nic.delete()
    assert revision(seed_plan) != before
    spec = plancache.spec(seed_plan)
    assert (
        sum(len(node.nics) for node in spec.nodes)
        == NodeNIC.objects.filter(rail__plan=seed_plan).count()
    )


def test_an_inventory_import_moves_the_revision(seed_plan, planner_api, warm):
    rail = seed_plan.rails.get(index=1)
    text = "node,rail,host_ip\nimported-1,1,10.51.7.7\n"
    response = planner_api.post(f"/api/plans/{seed_plan.pk}/import-nodes/", {"text": text})
    assert response.status_code == 200, response.content
    assert revision(seed_plan) != warm
    assert "10.51.7.7/32" in excludes(planner_api, seed_plan, rail.index)


def test_a_transaction_that_wrote_the_plan_neither_reads_nor_keeps_cached_results(seed_plan, warm):
    from django.db import connection, transaction

    postgresql = connection.vendor == "postgresql"
    with transaction.atomic():
        Node.objects.create(plan=seed_plan, name="first")
        first = plancache.revision_of(seed_plan)
        # PostgreSQL records one change per transaction, so nothing is cached for it; SQLite
        # records every write, so each has a revision of its own that nothing else had.
        assert first is None if postgresql else first not in (None, warm)
        assert "first" in {node.name for node in plancache.spec(seed_plan).nodes}
        Node.objects.create(plan=seed_plan, name="second")
        assert postgresql or plancache.revision_of(seed_plan) != first
        assert "second" in {node.name for node in plancache.spec(seed_plan).nodes}
    assert {"first", "second"} <= {node.name for node in plancache.spec(seed_plan).nodes}


def test_a_rolled_back_revision_is_never_given_again(seed_plan, warm):
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        Node.objects.create(plan=seed_plan, name="rolled-back")
        inside = revision(seed_plan)
        raise RuntimeError
    assert revision(seed_plan) == warm
    Node.objects.create(plan=seed_plan, name="kept")
    assert revision(seed_plan) not in (warm, inside)


def test_another_plans_writes_leave_the_revision_alone(seed_plan, warm):
    other = Plan.objects.create(name="Other", slug="other")
    rail = Rail.objects.create(plan=other, index=0, subnet="10.90.0.0/16")
    node = Node.objects.create(plan=other, name="o-1")
    NodeNIC.objects.create(node=node, rail=rail, host_ip="10.90.0.9")
    Exclusion.objects.create(rail=rail, cidr="10.90.1.0/24")
    inventory.import_nodes(other, inventory.parse("node,rail\no-2,0\n", "x.csv"))
    assert revision(seed_plan) == warm


def test_the_sqlite_triggers_move_the_revision_as_the_postgresql_ones_do():
    """The demo runs on SQLite: its row triggers, on the tables' bare bones."""
    import sqlite3

    db = sqlite3.connect(":memory:")
    db.executescript(
        """CREATE TABLE planner_plan (id INTEGER PRIMARY KEY, name TEXT);
        CREATE TABLE planner_planchange (id INTEGER PRIMARY KEY AUTOINCREMENT, plan_id INTEGER,
            token INTEGER);
        CREATE TABLE planner_rail (id INTEGER PRIMARY KEY, plan_id INTEGER, subnet TEXT);
        CREATE TABLE planner_node (id INTEGER PRIMARY KEY, plan_id INTEGER, name TEXT);
        CREATE TABLE planner_exclusion (id INTEGER PRIMARY KEY, rail_id INTEGER, cidr TEXT);
        CREATE TABLE planner_nodenic (id INTEGER PRIMARY KEY, rail_id INTEGER, host_ip TEXT);"""
    )
    for statement in revisions.sqlite_statements():
        db.execute(statement)

    def revision(plan_id=1):
        query = "SELECT group_concat(token) FROM planner_planchange WHERE plan_id = ?"
        return db.execute(query, [plan_id]).fetchone()[0]

    db.execute("INSERT INTO planner_plan VALUES (2, 'b')")
    other = revision(2)
    steps = [
        "INSERT INTO planner_plan VALUES (1, 'a')",
        "INSERT INTO planner_rail VALUES (1, 1, '10.0.0.0/16')",
        "INSERT INTO planner_node VALUES (1, 1, 'n')",
        "INSERT INTO planner_exclusion VALUES (1, 1, '10.0.0.0/24')",
        "INSERT INTO planner_nodenic VALUES (1, 1, NULL)",
        "UPDATE planner_nodenic SET host_ip = '10.0.1.0'",
        "UPDATE planner_rail SET subnet = '10.1.0.0/16'",
        "DELETE FROM planner_exclusion",
        "DELETE FROM planner_nodenic",
        "UPDATE planner_node SET name = 'm'",
        "UPDATE planner_plan SET name = 'c' WHERE id = 1",
    ]
    seen = {revision()}
    for step in steps:
        db.execute(step)
        assert revision() not in seen, step
        assert "," not in revision(), step  # one row per plan
        seen.add(revision())
    assert revision(2) == other
