import pytest
import yaml
from django.core.management import call_command

from planner.models import Exclusion, NodeNIC, Plan, Rail

pytestmark = pytest.mark.django_db

PLAN = {"name": "Fabric A", "supernet": "10.50.0.0/13", "rail_count": 8}


def create_plan(client, **extra):
    response = client.post("/api/plans/", {**PLAN, **extra}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_creating_a_plan_from_a_supernet_carves_consecutive_rails(planner_api):
    plan = create_plan(planner_api)
    assert plan["slug"] == "fabric-a"
    assert plan["namespace"] == "ai-training" and plan["cni_type"] == "sriov"
    rails = planner_api.get(f"/api/rails/?plan={plan['id']}").json()["results"]
    assert [r["subnet"] for r in rails] == [f"10.{50 + i}.0.0/16" for i in range(8)]
    assert rails[0]["nad_name"] == "sriov-rail-0"
    assert rails[7]["resource_name"] == "nvidia.com/rail7_vf"
    assert rails[7]["interface_name"] == "net8"
    for field in ("id", "plan", "index", "gateway", "vlan", "range_start", "range_end"):
        assert field in rails[0]


def test_plans_are_addressable_by_id_and_slug(viewer_api, seed_plan):
    by_id = viewer_api.get(f"/api/plans/{seed_plan.id}/").json()
    by_slug = viewer_api.get(f"/api/plans/{seed_plan.slug}/").json()
    assert by_id == by_slug and by_id["slug"] == "training"
    assert viewer_api.get("/api/plans/no-such-plan/").status_code == 404


@pytest.mark.parametrize(
    ("payload", "field", "reason"),
    [
        ({"supernet": "10.50.0.0/33"}, "supernet", "not a valid CIDR"),
        ({"supernet": "10.50.0.0/13", "rail_count": 9}, "supernet", "only 8"),
        ({"pod_cidr": "10.100.0.1/16"}, "pod_cidr", "host bits"),
        ({"namespace": "AI_Training"}, "namespace", "DNS-1123"),
        ({"interface_template": "net"}, "interface_template", "{rail}"),
        ({"service_cidr": "10.100.0.0/24"}, "service_cidr", "overlaps the pod CIDR"),
        ({"cni_type": "flannel"}, "cni_type", "not a valid choice"),
    ],
)
def test_bad_plans_get_field_errors(planner_api, payload, field, reason):
    response = planner_api.post("/api/plans/", {**PLAN, **payload}, format="json")
    assert response.status_code == 400
    assert reason in " ".join(response.json()[field])
    assert not Plan.objects.exists()


@pytest.fixture
def hand_plan(planner_api):
    return create_plan(
        planner_api,
        name="Hand",
        supernet=None,
        pod_cidr="10.100.0.0/16",
        service_cidr="10.200.0.0/16",
    )


def post_rail(client, plan, **fields):
    return client.post("/api/rails/", {"plan": plan["id"], **fields}, format="json")


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({"index": 0, "subnet": "10.50.0.1/16"}, "subnet", "host bits set"),
        ({"index": 0, "subnet": "10.100.0.0/20"}, "subnet", "overlaps the pod CIDR"),
        ({"index": 0, "subnet": "10.200.0.0/16"}, "subnet", "overlaps the service CIDR"),
        ({"index": 0, "subnet": "10.60.0.0/31"}, "subnet", "no address whereabouts can use"),
        ({"index": 0, "subnet": "10.60.0.0/32"}, "subnet", "no address whereabouts can use"),
        (
            {
                "index": 0,
                "subnet": "10.60.0.0/24",
                "range_start": "10.60.0.9",
                "range_end": "10.60.0.3",
            },
            "range_end",
            "before its start",
        ),
        (
            {"index": 0, "subnet": "10.60.0.0/24", "gateway": "10.61.0.1"},
            "gateway",
            "outside the rail subnet",
        ),
        ({"index": 0, "subnet": "10.60.0.0/24", "nad_name": "Rail_0"}, "nad_name", "DNS-1123"),
        (
            {"index": 0, "subnet": "10.60.0.0/24", "interface_name": "rail-interface-0"},
            "interface_name",
            "15 characters",
        ),
        (
            {"index": 0, "subnet": "10.60.0.0/24", "interface_name": "eth0"},
            "interface_name",
            "control-plane",
        ),
        ({"index": 0, "subnet": "10.60.0.0/24", "vlan": 5000}, "vlan", "4094"),
    ],
)
def test_bad_rails_get_field_errors(planner_api, hand_plan, fields, field, reason):
    response = post_rail(planner_api, hand_plan, **fields)
    assert response.status_code == 400, response.json()
    assert reason in " ".join(response.json()[field])
    assert not Rail.objects.exists()


def test_rails_may_not_overlap_or_share_names(planner_api, hand_plan):
    assert post_rail(planner_api, hand_plan, index=0, subnet="10.60.0.0/16").status_code == 201
    overlap = post_rail(planner_api, hand_plan, index=1, subnet="10.60.128.0/17")
    assert "overlaps rail 0" in overlap.json()["subnet"][0]
    same_nad = post_rail(
        planner_api, hand_plan, index=1, subnet="10.61.0.0/16", nad_name="sriov-rail-0"
    )
    assert "already used by rail 0" in same_nad.json()["nad_name"][0]
    same_if = post_rail(
        planner_api, hand_plan, index=1, subnet="10.61.0.0/16", interface_name="net1"
    )
    assert "already used by rail 0" in same_if.json()["interface_name"][0]
    same_index = post_rail(planner_api, hand_plan, index=0, subnet="10.61.0.0/16")
    assert "already exists" in same_index.json()["index"][0]


def test_exclusions_validate_against_their_rail(planner_api, seed_plan):
    rail = seed_plan.rails.get(index=0)
    ok = planner_api.post(
        "/api/exclusions/",
        {"rail": rail.id, "start": "10.50.1.1", "end": "10.50.1.10", "purpose": "reserved"},
        format="json",
    )
    assert ok.status_code == 201, ok.json()
    cases = [
        ({"cidr": "10.51.0.0/24"}, "cidr", "outside the rail subnet"),
        ({"cidr": "10.50.0.128/25"}, "cidr", "overlaps the exclusion 10.50.0.0/24"),
        ({"start": "10.50.2.9", "end": "10.50.2.1"}, "end", "after its end"),
        ({"start": "10.50.2.1"}, "end", "needs an end"),
        ({"cidr": "10.50.2.0/24", "start": "10.50.2.1", "end": "10.50.2.2"}, "cidr", "not both"),
        (
            {"start": "10.50.1.5", "end": "10.50.1.20"},
            "start",
            "overlaps the exclusion 10.50.1.1-10.50.1.10",
        ),
        ({"start": "nope", "end": "10.50.1.20"}, "start", "valid IP"),
    ]
    for payload, field, reason in cases:
        response = planner_api.post("/api/exclusions/", {"rail": rail.id, **payload}, format="json")
        assert response.status_code == 400, payload
        assert reason in " ".join(response.json()[field]), response.json()
    assert rail.exclusions.count() == 2


def test_available_ips_and_allocation(planner_api, seed_plan):
    rail = seed_plan.rails.get(index=0)
    first = planner_api.get(f"/api/rails/{rail.id}/available-ips/?limit=3").json()
    assert first["addresses"] == ["10.50.1.0", "10.50.1.1", "10.50.1.2"]
    assert first["ranges"] == [{"start": "10.50.1.0", "end": "10.50.1.2", "size": 3}]
    made = planner_api.post(f"/api/rails/{rail.id}/available-ips/", {"count": 2}, format="json")
    assert made.status_code == 201
    assert [a["address"] for a in made.json()["allocations"]] == ["10.50.1.0", "10.50.1.1"]
    assert NodeNIC.objects.filter(rail=rail, host_ip__isnull=False).count() == 2
    after = planner_api.get(f"/api/rails/{rail.id}/available-ips/?limit=1").json()
    assert after["addresses"] == ["10.50.1.2"]
    too_many = planner_api.post(f"/api/rails/{rail.id}/available-ips/", {"count": 3}, format="json")
    assert too_many.status_code == 400 and "lack a host IP" in too_many.json()["count"][0]
    bad = planner_api.get(f"/api/rails/{rail.id}/available-ips/?limit=lots")
    assert bad.status_code == 400 and "limit" in bad.json()


def test_allocation_without_room_is_409_and_allocates_nothing(planner_api, hand_plan):
    rail = post_rail(planner_api, hand_plan, index=0, subnet="10.60.0.0/30").json()
    for name in ("a", "b", "c"):
        node = planner_api.post(
            "/api/nodes/", {"plan": hand_plan["id"], "name": name}, format="json"
        ).json()
        assert (
            planner_api.post(
                "/api/nics/", {"node": node["id"], "rail": rail["id"]}, format="json"
            ).status_code
            == 201
        )
    response = planner_api.post(
        f"/api/rails/{rail['id']}/available-ips/", {"count": 3}, format="json"
    )
    assert response.status_code == 409 and "2 free addresses" in response.json()["detail"]
    assert not NodeNIC.objects.filter(host_ip__isnull=False).exists()


def test_available_prefixes_creates_an_exclusion_of_the_next_free_block(planner_api, seed_plan):
    rail = seed_plan.rails.get(index=2)
    peek = planner_api.get(f"/api/rails/{rail.id}/available-prefixes/?prefix_length=24").json()
    assert peek["prefix"] == "10.52.1.0/24"
    made = planner_api.post(
        f"/api/rails/{rail.id}/available-prefixes/",
        {"prefix_length": 24, "purpose": "infrastructure"},
        format="json",
    )
    assert made.status_code == 201 and made.json()["cidr"] == "10.52.1.0/24"
    again = planner_api.post(
        f"/api/rails/{rail.id}/available-prefixes/", {"prefix_length": 24}, format="json"
    )
    assert again.json()["cidr"] == "10.52.2.0/24"
    none = planner_api.post(
        f"/api/rails/{rail.id}/available-prefixes/", {"prefix_length": 16}, format="json"
    )
    assert none.status_code == 409


def test_utilization_and_bulk_allocation(planner_api, seed_plan):
    response = planner_api.post(f"/api/plans/{seed_plan.slug}/allocate-host-ips/")
    assert response.json()["total"] == 32  # 4 nodes x 8 rails
    usage = planner_api.get(f"/api/plans/{seed_plan.id}/utilization/").json()
    rail0 = usage["rails"][0]
    assert rail0["usable"] == 65534 and rail0["excluded"] == 255 and rail0["host_assigned"] == 4
    assert rail0["free"] == 65534 - 255 - 4
    assert usage["warnings"] == []
    hosts = sorted(NodeNIC.objects.filter(rail__index=0).values_list("host_ip", flat=True))
    assert hosts == ["10.50.1.0", "10.50.1.1", "10.50.1.2", "10.50.1.3"]


def test_capacity_warning_when_nodes_need_more_vfs_than_the_rail_has(planner_api, hand_plan):
    rail = post_rail(planner_api, hand_plan, index=0, subnet="10.60.0.0/29").json()
    node = planner_api.post(
        "/api/nodes/", {"plan": hand_plan["id"], "name": "n1"}, format="json"
    ).json()
    planner_api.post(
        "/api/nics/", {"node": node["id"], "rail": rail["id"], "vf_count": 8}, format="json"
    )
    warnings = planner_api.get(f"/api/plans/{hand_plan['id']}/utilization/").json()["warnings"]
    assert (
        warnings[0]["code"] == "RAIL_CAPACITY" and "6 free pod addresses" in warnings[0]["message"]
    )


def test_export_import_round_trips_exactly(planner_api, seed_plan):
    planner_api.post(f"/api/plans/{seed_plan.id}/allocate-host-ips/")
    exported = planner_api.get(f"/api/plans/{seed_plan.id}/export/").content.decode()
    document = yaml.safe_load(exported)
    assert document["rails"][0]["exclusions"][0]["cidr"] == "10.50.0.0/24"
    seed_plan.delete()
    imported = planner_api.post("/api/plans/import/", {"document": exported}, format="json")
    assert imported.status_code == 201, imported.json()
    again = planner_api.get(f"/api/plans/{imported.json()['id']}/export/").content.decode()
    assert again == exported
    as_json = planner_api.get(f"/api/plans/{imported.json()['id']}/export/?format=json").json()
    assert as_json == document


def test_import_reports_errors_by_path_and_writes_nothing(planner_api):
    document = {
        "plan": {"name": "Broken", "slug": "broken"},
        "rails": [
            {"index": 0, "subnet": "10.50.0.0/16", "exclusions": [{"cidr": "10.99.0.0/24"}]},
            {"index": 1, "subnet": "10.50.0.0/17"},
        ],
        "nodes": [{"name": "n", "nics": [{"rail": 5}]}],
    }
    response = planner_api.post("/api/plans/import/", document, format="json")
    assert response.status_code == 400
    errors = response.json()
    assert "outside the rail subnet" in errors["rails.0.exclusions.0.cidr"][0]
    assert "overlaps rail 0" in errors["rails.1.subnet"][0]
    assert "No rail with index 5" in errors["nodes.0.nics.0.rail"][0]
    assert not Plan.objects.exists()
    garbage = planner_api.post("/api/plans/import/", "rails: [", content_type="application/yaml")
    assert garbage.status_code == 400


def test_roles_are_enforced_in_the_api(viewer_api, planner_api, operator_api, seed_plan, client):
    rail = seed_plan.rails.get(index=0)
    assert client.get("/api/plans/").status_code in (401, 403)
    assert viewer_api.get("/api/plans/").status_code == 200
    assert viewer_api.post("/api/plans/", PLAN, format="json").status_code == 403
    assert (
        viewer_api.post(
            f"/api/rails/{rail.id}/available-ips/", {"count": 1}, format="json"
        ).status_code
        == 403
    )
    assert viewer_api.delete(f"/api/plans/{seed_plan.id}/").status_code == 403
    assert planner_api.post("/api/plans/", PLAN, format="json").status_code == 201
    assert operator_api.post("/api/plans/", {**PLAN, "name": "B"}, format="json").status_code == 201
    assert Exclusion.objects.filter(rail=rail).count() == 1


def test_token_auth_with_drf_create_token(client, viewer, capsys):
    call_command("drf_create_token", viewer.username)
    token = capsys.readouterr().out.split()[2]
    assert client.get("/api/plans/", HTTP_AUTHORIZATION=f"Token {token}").status_code == 200
    assert client.get("/api/plans/", HTTP_AUTHORIZATION="Token wrong").status_code == 401


def test_schema_and_docs_are_served(viewer_api, viewer, client):
    schema = viewer_api.get("/api/schema/?format=json")
    assert schema.status_code == 200
    client.force_login(viewer)
    docs = client.get("/api/docs/")
    assert docs.status_code == 200 and b"swagger-ui" in docs.content.lower()


def test_counted_usage_matches_the_exact_span_arithmetic(planner_api, seed_plan):
    from planner import services

    planner_api.post(f"/api/plans/{seed_plan.id}/allocate-host-ips/")
    rail = seed_plan.rails.get(index=1)
    planner_api.post("/api/exclusions/", {"rail": rail.id, "cidr": "10.51.128.0/17"}, format="json")
    counted = {state.rail.index: state.usage for state in services.rail_states(seed_plan)}
    for rail in seed_plan.rails.all():
        assert counted[rail.index] == rail.space().usage()


def test_host_ips_must_stay_in_the_pod_range(planner_api, seed_plan):
    planner_api.post(f"/api/plans/{seed_plan.id}/allocate-host-ips/")
    rail = seed_plan.rails.get(index=0)
    narrowed = planner_api.patch(
        f"/api/rails/{rail.id}/", {"range_start": "10.50.2.0"}, format="json"
    )
    assert narrowed.status_code == 400 and "release them first" in narrowed.json()["subnet"][0]
    nic = NodeNIC.objects.filter(rail=rail).first()
    broadcast = planner_api.patch(
        f"/api/nics/{nic.id}/", {"host_ip": "10.50.255.255"}, format="json"
    )
    assert broadcast.status_code == 400 and "usable pod range" in broadcast.json()["host_ip"][0]
    excluded = planner_api.patch(f"/api/nics/{nic.id}/", {"host_ip": "10.50.0.7"}, format="json")
    assert "inside an exclusion" in excluded.json()["host_ip"][0]


def test_slugs_are_unique_and_not_reserved(planner_api):
    create_plan(planner_api, name="Fabric A")
    clash = planner_api.post("/api/plans/", {**PLAN, "name": "fabric a"}, format="json")
    assert clash.status_code == 400 and "taken by another plan" in clash.json()["name"][0]
    reserved = planner_api.post("/api/plans/", {**PLAN, "name": "New"}, format="json")
    assert reserved.status_code == 400 and "reserved" in reserved.json()["slug"][0]


def test_every_filter_takes_a_plan_by_id_or_slug(viewer_api, seed_plan):
    Plan.objects.create(name="Other", slug="other")  # an empty plan, to filter it out
    for url, count in (
        ("/api/rails/", 8),
        ("/api/exclusions/", 8),
        ("/api/nodes/", 4),
        ("/api/nics/", 32),
    ):
        by_id = viewer_api.get(f"{url}?plan={seed_plan.id}&limit=500").json()
        by_slug = viewer_api.get(f"{url}?plan={seed_plan.slug}&limit=500").json()
        assert by_id == by_slug and by_id["count"] == count, url
        assert viewer_api.get(f"{url}?plan=other").json()["count"] == 0, url
        unknown = viewer_api.get(f"{url}?plan=no-such-plan")
        assert unknown.status_code == 400 and "No plan 'no-such-plan'" in unknown.json()["plan"][0]
    older = viewer_api.get(f"/api/exclusions/?rail__plan={seed_plan.slug}").json()
    assert older["count"] == 8  # the older parameter names are still known
    assert viewer_api.get(f"/api/nics/?node__plan={seed_plan.slug}").json()["count"] == 32


def test_an_unknown_filter_parameter_is_a_400_naming_it(viewer_api, seed_plan):
    for url in ("/api/rails/", "/api/exclusions/", "/api/nodes/", "/api/nics/", "/api/plans/"):
        response = viewer_api.get(f"{url}?plna={seed_plan.slug}")
        assert response.status_code == 400, url
        assert "Unknown query parameter" in response.json()["plna"][0]
        assert "limit" in response.json()["plna"][0]  # says what is known
    paged = viewer_api.get("/api/rails/?limit=2&offset=2&index=3")
    assert paged.status_code == 200 and paged.json()["count"] == 1
