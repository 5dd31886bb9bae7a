"""The studio pages through Django's test client: roles, htmx partials, inline errors."""

import html as html_lib
import re
import time

import pytest
from django.urls import reverse

from planner import ipam
from planner.models import Exclusion, Node, NodeNIC, Plan, Rail

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
EDIT_MARKERS = (
    "Add exclusion",
    "Delete",
    "Allocate host IPs",
    "Import",
    "New plan",
    "data-drag-url",
)


def text_of(response) -> str:
    """The response body with HTML entities decoded (messages quote values as '...')."""
    return html_lib.unescape(response.content.decode())


def plan_url(plan) -> str:
    return reverse("plan-detail", args=[plan.slug])


def rail0(plan) -> Rail:
    return plan.rails.get(index=0)


def add_url(plan, index=0):
    return reverse("exclusion-add", args=[plan.slug, index])


def drag_url(plan, index=0):
    return reverse("exclusion-drag", args=[plan.slug, index])


def page_urls(plan):
    return [
        reverse("home"),
        reverse("plan-list"),
        reverse("plan-detail", args=[plan.slug]),
        reverse("plan-nodes", args=[plan.slug]),
    ]


# ---------------------------------------------------------------------------------------------
# Access


def test_every_page_renders_for_a_viewer_without_edit_controls(as_viewer, seed_plan):
    for url in page_urls(seed_plan):
        response = as_viewer.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert "vera" in html and "viewer" in html
        for marker in EDIT_MARKERS:
            assert marker not in html, (url, marker)
    detail = as_viewer.get(plan_url(seed_plan)).content.decode()
    assert "10.50.0.0/24" in detail and 'class="ipmap"' in detail


def test_a_planner_sees_the_edit_controls(as_planner, seed_plan):
    detail = as_planner.get(plan_url(seed_plan)).content.decode()
    assert detail.count("Add exclusion") == 8 and "data-drag-url" in detail
    nodes = as_planner.get(reverse("plan-nodes", args=[seed_plan.slug])).content.decode()
    assert "Allocate host IPs" in nodes and "Import inventory" in nodes


def test_a_viewer_cannot_post_anywhere(as_viewer, seed_plan):
    exclusion = Exclusion.objects.filter(rail__plan=seed_plan).first()
    posts = [
        (add_url(seed_plan), {"cidr": "10.50.9.0/24"}),
        (drag_url(seed_plan), {"first": "10.50.3.17", "last": "10.50.4.200"}),
        (reverse("exclusion-delete", args=[seed_plan.slug, exclusion.pk]), {}),
        (reverse("node-import", args=[seed_plan.slug]), {"text": "node,rail\nx,0\n"}),
        (reverse("host-ip-allocate", args=[seed_plan.slug]), {}),
        (reverse("plan-create"), {"name": "Sneaky", "supernet": "10.60.0.0/13"}),
    ]
    for url, data in posts:
        assert as_viewer.post(url, data, **HTMX).status_code == 403, url
    assert as_viewer.get(reverse("plan-create")).status_code == 403
    assert Exclusion.objects.filter(rail__plan=seed_plan).count() == 8
    assert not Plan.objects.filter(name="Sneaky").exists()
    assert not NodeNIC.objects.filter(host_ip__isnull=False).exists()


def test_anonymous_users_are_sent_to_the_login_page(client, seed_plan):
    for url in page_urls(seed_plan):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("login") + "?next=")
    assert client.post(add_url(seed_plan), {"cidr": "10.50.9.0/24"}).status_code == 302
    login = client.get(reverse("login"))
    assert login.status_code == 200 and 'name="password"' in login.content.decode()


def test_a_user_without_a_role_gets_403(client, django_user_model, seed_plan):
    client.force_login(django_user_model.objects.create_user("nobody", password="x"))
    assert client.get(plan_url(seed_plan)).status_code == 403


def test_the_page_url_names_reverse_to_the_pages(seed_plan):
    assert reverse("plan-list") == "/plans/"
    assert seed_plan.get_absolute_url() == "/plans/training/"


# ---------------------------------------------------------------------------------------------
# Home and plans


def test_home_tells_a_new_planner_to_create_a_plan(as_planner):
    html = as_planner.get(reverse("home")).content.decode()
    assert "Welcome to Rail Studio" in html and "Create a plan" in html
    assert reverse("plan-create") in html and reverse("plan-import") in html


def test_home_shows_utilisation_per_rail(as_viewer, seed_plan):
    html = as_viewer.get(reverse("home")).content.decode()
    assert seed_plan.name in html
    assert html.count('class="usage-bar"') == 8
    assert "0.39%" in html  # a /24 excluded of a /16's 65,534 usable addresses


def test_creating_a_plan_from_a_supernet_carves_eight_rails(as_planner):
    response = as_planner.post(
        reverse("plan-create"),
        {
            "name": "Fabric A",
            "namespace": "ai-training",
            "supernet": "10.50.0.0/13",
            "rail_count": "8",
            "rail_prefix_length": "16",
            "cni_type": "sriov",
            "pod_cidr": "10.100.0.0/16",
            "service_cidr": "",
        },
    )
    plan = Plan.objects.get(name="Fabric A")
    assert response.status_code == 302 and response.url == plan_url(plan)
    assert [r.subnet for r in plan.rails.order_by("index")] == [
        f"10.{50 + i}.0.0/16" for i in range(8)
    ]
    assert plan.service_cidr is None
    html = as_planner.get(response.url).content.decode()
    assert "Created plan Fabric A with 8 rails." in html
    assert html.count('class="card rail-card"') == 8


def test_bad_plan_input_names_the_field_and_keeps_what_was_typed(as_planner):
    response = as_planner.post(
        reverse("plan-create"),
        {
            "name": "Fabric B",
            "supernet": "10.50.0.0/13",
            "rail_count": "9",
            "rail_prefix_length": "abc",
            "pod_cidr": "10.100.0.1/16",
            "cni_type": "sriov",
        },
    )
    assert response.status_code == 422
    html = text_of(response)
    assert "A valid integer is required." in html
    assert 'value="10.100.0.1/16"' in html and 'value="abc"' in html and 'value="9"' in html
    assert 'aria-invalid="true"' in html
    fixed = as_planner.post(
        reverse("plan-create"),
        {"name": "Fabric B", "pod_cidr": "10.100.0.1/16", "cni_type": "sriov"},
    )
    assert fixed.status_code == 422
    assert "'10.100.0.1/16' has host bits set; the network is 10.100.0.0/16." in text_of(fixed)
    assert not Plan.objects.exists()


def test_a_supernet_too_small_for_the_rails_is_an_inline_error(as_planner):
    response = as_planner.post(
        reverse("plan-create"),
        {"name": "Fabric C", "supernet": "10.50.0.0/13", "rail_count": "9", "cni_type": "sriov"},
    )
    assert response.status_code == 422
    assert "holds only 8 /16 subnets, not 9" in response.content.decode()


def test_a_name_whose_slug_is_taken_is_an_inline_error_not_a_500(as_planner, seed_plan):
    response = as_planner.post(reverse("plan-create"), {"name": "Training", "cni_type": "sriov"})
    assert response.status_code == 422
    assert "choose another name" in response.content.decode()


# ---------------------------------------------------------------------------------------------
# Exclusions through htmx


def test_a_planner_adds_an_exclusion_and_gets_the_updated_partial(as_planner, seed_plan):
    response = as_planner.post(
        add_url(seed_plan), {"cidr": "10.50.8.0/22", "purpose": "gateway", "note": "ToR"}, **HTMX
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith("{#") is False
    assert 'id="rail-0"' in html and "<!doctype" not in html.lower()
    assert "Excluded 10.50.8.0/22." in html and "ToR" in html
    assert 'id="rail-usage" hx-swap-oob="true"' in html
    exclusion = Exclusion.objects.get(rail__plan=seed_plan, cidr="10.50.8.0/22")
    assert exclusion.purpose == "gateway" and exclusion.note == "ToR"
    # the utilisation row of rail 0 counts 256 + 1024 excluded addresses now
    usage = re.search(r'id="util-0">([\d.]+)%', html).group(1)
    assert float(usage) == pytest.approx(100 * 1280 / 65534, abs=0.01)


def test_an_invalid_exclusion_gives_the_inline_error_and_keeps_the_input(as_planner, seed_plan):
    response = as_planner.post(add_url(seed_plan), {"cidr": "10.60.0.0/24"}, **HTMX)
    assert response.status_code == 422
    html = response.content.decode()
    assert "10.60.0.0/24 is outside the rail subnet 10.50.0.0/16." in html
    assert 'value="10.60.0.0/24"' in html and 'id="rail-0"' in html
    overlap = as_planner.post(
        add_url(seed_plan), {"start": "10.50.0.10", "end": "10.50.1.5"}, **HTMX
    )
    assert overlap.status_code == 422
    assert "overlaps the exclusion 10.50.0.0/24" in overlap.content.decode()
    half = as_planner.post(add_url(seed_plan), {"start": "10.50.7.1"}, **HTMX)
    assert "A range needs an end address." in half.content.decode()
    garbage = as_planner.post(add_url(seed_plan), {"cidr": "banana"}, **HTMX)
    assert garbage.status_code == 422
    assert "'banana' is not a valid IP address." in text_of(garbage)
    assert Exclusion.objects.filter(rail__plan=seed_plan).count() == 8


def test_the_drag_endpoint_snaps_to_cidr_boundaries(as_planner, seed_plan):
    response = as_planner.post(
        drag_url(seed_plan), {"first": "10.50.3.17", "last": "10.50.4.200"}, **HTMX
    )
    assert response.status_code == 200
    exclusion = Exclusion.objects.get(rail=rail0(seed_plan), note="Drawn on the IP map")
    assert (exclusion.cidr, exclusion.start, exclusion.end) == (None, "10.50.3.0", "10.50.4.255")
    assert "10.50.3.0-10.50.4.255" in response.content.decode()


def test_a_drag_that_snaps_to_one_cidr_is_stored_as_a_cidr(as_planner, seed_plan):
    first, last = ipam.ip_to_int("10.50.16.9"), ipam.ip_to_int("10.50.31.250")
    response = as_planner.post(drag_url(seed_plan), {"first": first, "last": last}, **HTMX)
    assert response.status_code == 200
    assert Exclusion.objects.filter(rail=rail0(seed_plan), cidr="10.50.16.0/20").exists()


def test_a_drag_over_an_exclusion_is_refused_inline(as_planner, seed_plan):
    response = as_planner.post(
        drag_url(seed_plan), {"first": "10.50.0.200", "last": "10.50.1.3"}, **HTMX
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert (
        "Cannot exclude the dragged range: "
        "10.50.0.192-10.50.1.31 overlaps the exclusion 10.50.0.0/24." in html
    )
    bad = as_planner.post(drag_url(seed_plan), {"first": "", "last": "10.50.1.3"}, **HTMX)
    assert bad.status_code == 422 and "The drag has no first address." in bad.content.decode()
    outside = as_planner.post(drag_url(seed_plan), {"first": "1.1.1.1", "last": "1.1.1.9"}, **HTMX)
    assert outside.status_code == 422 and "outside the rail subnet" in outside.content.decode()


def test_deleting_an_exclusion_swaps_the_rail(as_planner, seed_plan):
    exclusion = Exclusion.objects.get(rail=rail0(seed_plan))
    url = reverse("exclusion-delete", args=[seed_plan.slug, exclusion.pk])
    response = as_planner.post(url, **HTMX)
    assert response.status_code == 200
    assert "Removed the exclusion 10.50.0.0/24." in response.content.decode()
    assert re.search(r'id="util-0">0.0%', response.content.decode())
    assert not Exclusion.objects.filter(pk=exclusion.pk).exists()
    assert as_planner.post(url, **HTMX).status_code == 404


def test_without_htmx_a_post_redirects_or_renders_the_page_with_the_error(as_planner, seed_plan):
    ok = as_planner.post(add_url(seed_plan, 2), {"cidr": "10.52.9.0/24"})
    assert ok.status_code == 302 and ok.url.endswith("#rail-2")
    bad = as_planner.post(add_url(seed_plan, 2), {"cidr": "10.52.9.0/24"})
    assert bad.status_code == 422
    html = bad.content.decode()
    assert "<!doctype html>" in html.lower() and "overlaps the exclusion 10.52.9.0/24" in html


def test_a_large_rail_with_thousands_of_exclusions_renders_fast(as_viewer, db):
    plan = Plan.objects.create(name="Big", slug="big")
    rail = Rail.objects.create(plan=plan, index=0, subnet="10.0.0.0/8")
    base = ipam.ip_to_int("10.0.0.0")
    Exclusion.objects.bulk_create(
        Exclusion(
            rail=rail,
            cidr=f"{ipam.int_to_ip(base + i * 1024)}/24",
            first_ip=ipam.int_to_ip(base + i * 1024),
            last_ip=ipam.int_to_ip(base + i * 1024 + 255),
        )
        for i in range(10_000)
    )
    started = time.perf_counter()
    response = as_viewer.get(plan_url(plan))
    elapsed = time.perf_counter() - started
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('<rect class="seg') <= 2100
    assert "seg-dense" in html and "and 9,900 more" in html
    assert elapsed < 5, f"the page took {elapsed:.2f}s"


# ---------------------------------------------------------------------------------------------
# Nodes and NICs

CSV = """node,gpu_count,rail,pf_name,pci_address,numa_node,vf_count,rdma_device
gpu-a,8,0,ens1f0np0,0000:0c:00.0,0,8,mlx5_0
gpu-a,8,1,ens2f0np0,0000:2a:00.0,0,8,mlx5_1
gpu-b,8,0,ens1f0np0,0000:0c:00.0,0,8,mlx5_0
"""


def test_inventory_import_happy_path(as_planner, seed_plan):
    url = reverse("node-import", args=[seed_plan.slug])
    response = as_planner.post(url, {"text": CSV}, follow=True)
    assert response.status_code == 200
    html = response.content.decode()
    assert "2 nodes created" in html and "3 NICs created" in html
    assert "gpu-a" in html and "ens2f0np0" in html and "0000:2a:00.0" in html
    assert Node.objects.filter(plan=seed_plan, name__in=["gpu-a", "gpu-b"]).count() == 2


def test_inventory_upload_of_a_yaml_file(as_planner, seed_plan):
    from django.core.files.uploadedfile import SimpleUploadedFile

    yaml_text = b"- name: gpu-y\n  nics:\n    - {rail: 3, pf_name: ens4f0np0, vf_count: 2}\n"
    upload = SimpleUploadedFile("nodes.yaml", yaml_text, content_type="application/yaml")
    response = as_planner.post(reverse("node-import", args=[seed_plan.slug]), {"file": upload})
    assert response.status_code == 302
    assert NodeNIC.objects.get(node__name="gpu-y").rail.index == 3


def test_inventory_errors_are_keyed_by_line_and_keep_the_text(as_planner, seed_plan):
    bad = CSV + "gpu-d,8,9,ens1,0000:0c:00.0,x,8,mlx5_0\n"
    response = as_planner.post(reverse("node-import", args=[seed_plan.slug]), {"text": bad})
    assert response.status_code == 422
    html = response.content.decode()
    assert "line 5.numa_node" in html and "is not a whole number" in html
    assert "line 5.rail" in html and "No rail with index 9" in html
    assert "gpu-d,8,9,ens1" in html  # the pasted text is still in the box
    assert not Node.objects.filter(name="gpu-a").exists()
    empty = as_planner.post(reverse("node-import", args=[seed_plan.slug]), {"text": "  "})
    assert empty.status_code == 422 and "paste the inventory" in empty.content.decode()


def test_allocate_host_ips_and_the_no_room_error(as_planner, seed_plan):
    url = reverse("host-ip-allocate", args=[seed_plan.slug])
    response = as_planner.post(url, follow=True)
    assert "Allocated 32 host IPs" in response.content.decode()
    assert not NodeNIC.objects.filter(node__plan=seed_plan, host_ip__isnull=True).exists()
    assert NodeNIC.objects.filter(rail__index=0, host_ip="10.50.1.0").exists()

    tiny = Plan.objects.create(name="Tiny", slug="tiny")
    rail = Rail.objects.create(plan=tiny, index=0, subnet="10.9.0.0/30")
    for name in ("n1", "n2", "n3"):
        NodeNIC.objects.create(node=Node.objects.create(plan=tiny, name=name), rail=rail)
    response = as_planner.post(reverse("host-ip-allocate", args=[tiny.slug]))
    assert response.status_code == 409
    assert "has 2 free addresses; 3 were asked for" in response.content.decode()
    assert not NodeNIC.objects.filter(rail=rail, host_ip__isnull=False).exists()


def test_the_node_table_is_paginated(as_viewer, seed_plan):
    Node.objects.bulk_create(Node(plan=seed_plan, name=f"bulk-{i:04d}") for i in range(120))
    html = as_viewer.get(reverse("plan-nodes", args=[seed_plan.slug])).content.decode()
    assert "Page 1 of 3" in html and html.count('class="node-group"') == 50
    page3 = as_viewer.get(reverse("plan-nodes", args=[seed_plan.slug]) + "?page=3")
    assert page3.content.decode().count('class="node-group"') == 24
    found = as_viewer.get(reverse("plan-nodes", args=[seed_plan.slug]) + "?q=gpu-node-2")
    assert found.content.decode().count('class="node-group"') == 1


def test_an_inventory_with_a_shared_host_ip_is_an_inline_error_not_a_500(as_planner, seed_plan):
    clash = "node,rail,host_ip\ngpu-x,0,10.50.9.9\ngpu-y,0,10.50.9.9\n"
    response = as_planner.post(reverse("node-import", args=[seed_plan.slug]), {"text": clash})
    assert response.status_code == 422
    assert "already the host IP of gpu-x" in text_of(response)
    assert not Node.objects.filter(name__in=["gpu-x", "gpu-y"]).exists()


def test_an_htmx_request_without_a_session_is_sent_to_the_login_page(client, seed_plan):
    response = client.post(f"/plans/{seed_plan.slug}/rails/0/exclusions/", HTTP_HX_REQUEST="true")
    assert response.status_code == 204
    assert response["HX-Redirect"].startswith("/accounts/login/?next=")
