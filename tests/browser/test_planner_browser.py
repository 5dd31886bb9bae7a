"""The studio in headless Chromium: log in, create a plan, drag an exclusion onto the IP map."""

import re

import pytest
from playwright.sync_api import expect

from planner.models import Exclusion, Node, Plan
from tests.browser.helpers import log_in, make_user, screenshot

MARKER = "no full reload happened"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def on_screen_box(locator) -> dict:
    locator.scroll_into_view_if_needed()
    return locator.bounding_box()


def drag_across(page, locator, start: float, end: float) -> None:
    box = on_screen_box(locator)
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * start, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * (start + end) / 2, y, steps=5)
    page.mouse.move(box["x"] + box["width"] * end, y, steps=5)
    page.mouse.up()


def test_planner_creates_a_plan_and_drags_an_exclusion(
    page, live_server, django_user_model, tmp_path
):
    make_user(django_user_model, "pat", "planner")
    log_in(page, live_server, "pat")
    expect(page.locator("#first-run")).to_contain_text("Create a plan")
    screenshot(page, tmp_path, "home-empty.png")
    page.locator("#first-run").get_by_role("link", name="Create a plan").click()
    page.get_by_role("textbox", name="Name", exact=True).fill("Fabric A")
    page.get_by_label("Supernet").fill("10.50.0.0/13")
    page.get_by_label("Rails", exact=True).fill("9")
    with page.expect_navigation():  # the refused post's page, however slow the machine
        page.get_by_role("button", name="Create plan").click()
    expect(page.locator("#err_supernet")).to_have_text(
        "10.50.0.0/13 holds only 8 /16 subnets, not 9."
    )
    expect(page.get_by_label("Supernet")).to_have_value("10.50.0.0/13")
    screenshot(page, tmp_path, "plan-form-errors.png")
    page.get_by_label("Rails", exact=True).fill("8")
    page.get_by_role("button", name="Create plan").click()

    expect(page).to_have_url(f"{live_server.url}/plans/fabric-a/")
    expect(page.locator(".rail-card")).to_have_count(8)
    expect(page.locator("#rail-7 .subnet")).to_have_text("10.57.0.0/16")
    expect(page.locator("#util-0")).to_have_text("0.0%")
    page.evaluate(f"window.railStudioMarker = '{MARKER}'")

    bar = page.locator("#rail-0 svg.ipmap")
    box = on_screen_box(bar)
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + 10)
    expect(page.locator("#rail-0 .ipmap-readout")).to_have_text(
        re.compile(r"^10\.50\.12[78]\.\d+ +— +Free for pods · 10\.50\.0\.1-10\.50\.255\.254")
    )

    drag_across(page, bar, 0.55, 0.70)
    expect(page.locator("#rail-0 .flash")).to_contain_text("Excluded 10.50.128.0/18")
    expect(page.locator("#rail-0 .exclusion-list")).to_contain_text("10.50.128.0/18")
    expect(page.locator("#util-0")).to_have_text("25.0%")
    expect(page.locator("#rail-0 .seg-excluded")).to_have_count(1)
    assert page.evaluate("window.railStudioMarker") == MARKER
    exclusion = Exclusion.objects.get(rail__plan__slug="fabric-a")
    assert (exclusion.rail.index, exclusion.cidr, exclusion.purpose) == (
        0,
        "10.50.128.0/18",
        "reserved",
    )

    # a second drag over the same range is refused inline, still without a reload
    drag_across(page, page.locator("#rail-0 svg.ipmap"), 0.60, 0.65)
    expect(page.locator("#rail-0 .drag-error")).to_contain_text("overlaps the exclusion")
    expect(page.locator("#util-0")).to_have_text("25.0%")
    assert page.evaluate("window.railStudioMarker") == MARKER

    # the typed form: a bad CIDR keeps the input and names the problem, a good one is added
    form = page.locator("#rail-1 form.exclusion-form")
    form.get_by_label("CIDR").fill("10.60.0.0/24")
    form.get_by_role("button", name="Add exclusion").click()
    expect(page.locator("#rail-1 .field-error")).to_contain_text("outside the rail subnet")
    expect(page.locator("#rail-1").get_by_label("CIDR")).to_have_value("10.60.0.0/24")
    page.locator("#rail-1").get_by_label("CIDR").fill("10.51.0.0/24")
    page.locator("#rail-1").get_by_label("Note").fill("switch loopbacks")
    page.locator("#rail-1").get_by_role("button", name="Add exclusion").click()
    expect(page.locator("#util-1")).to_have_text("0.39%")
    assert page.evaluate("window.railStudioMarker") == MARKER

    shot = screenshot(page, tmp_path, "plan-page.png")
    assert shot.stat().st_size > 10_000
    page.locator("#rail-0").scroll_into_view_if_needed()
    page.evaluate("window.scrollBy(0, -60)")
    page.locator("#rail-0 svg.ipmap").hover(position={"x": 700, "y": 20})
    screenshot(page, tmp_path, "plan-ip-map.png", whole_page=False)


def test_planner_imports_nodes_and_allocates_host_ips(
    page, live_server, django_user_model, tmp_path
):
    from planner.services import create_plan

    create_plan(name="Fabric B", slug="fabric-b", supernet="10.50.0.0/13", rail_prefix_length=16)
    make_user(django_user_model, "pat", "planner")
    log_in(page, live_server, "pat")
    page.goto(f"{live_server.url}/plans/fabric-b/nodes/")
    expect(page.locator(".empty-state")).to_contain_text("import the inventory")

    page.get_by_label("or paste it").fill(
        INVENTORY + "gpu-z,8,11,ens1f0np0,0000:0c:00.0,x,8,mlx5_0\n"
    )
    page.get_by_role("button", name="Import", exact=True).click()
    errors = page.locator("#import-errors")
    expect(errors).to_contain_text("line 6.numa_node")
    expect(errors).to_contain_text("No rail with index 11")
    expect(page.get_by_label("or paste it")).to_have_value(re.compile("gpu-z,8,11"))
    screenshot(page, tmp_path, "nodes-import-errors.png")

    page.get_by_label("or paste it").fill(INVENTORY)
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.locator(".message")).to_contain_text("2 nodes created")
    expect(page.locator(".node-group")).to_have_count(2)
    page.get_by_role("button", name="Allocate host IPs").click()
    expect(page.locator(".message")).to_contain_text("Allocated 4 host IPs")
    expect(page.locator(".nodes-table")).to_contain_text("10.50.0.2")
    screenshot(page, tmp_path, "nodes-allocated.png")

    page.locator(".plan-tabs").get_by_role("link", name="Overview & IP map").click()
    expect(page.locator("#rail-0 .seg-host")).to_have_count(1)
    expect(page.locator("#rail-0 .exclusion-list")).to_contain_text("1 host-IP block")


INVENTORY = """node,gpu_count,rail,pf_name,pci_address,numa_node,vf_count,rdma_device
gpu-a,8,0,ens1f0np0,0000:0c:00.0,0,8,mlx5_0
gpu-a,8,1,ens2f0np0,0000:2a:00.0,0,8,mlx5_1
gpu-b,8,0,ens1f0np0,0000:0c:00.0,0,8,mlx5_0
gpu-b,8,1,ens2f0np0,0000:2a:00.0,0,8,mlx5_1
"""


def test_a_viewer_sees_the_seed_plan_without_edit_controls(
    page, live_server, django_user_model, seed_plan, tmp_path
):
    make_user(django_user_model, "vera", "viewer")
    Node.objects.filter(plan=seed_plan).update(labels={})
    log_in(page, live_server, "vera")
    expect(page.locator(".plan-card")).to_have_count(1)
    expect(page.locator(".plan-card .usage-bar")).to_have_count(8)
    screenshot(page, tmp_path, "home.png")

    page.get_by_role("link", name=Plan.objects.get().name).click()
    expect(page.locator(".rail-card")).to_have_count(8)
    expect(page.locator("form.exclusion-form")).to_have_count(0)
    expect(page.locator("svg.ipmap[data-drag-url]")).to_have_count(0)
    drag_across(page, page.locator("#rail-0 svg.ipmap"), 0.3, 0.6)
    page.wait_for_timeout(300)
    assert Exclusion.objects.filter(rail__plan=seed_plan).count() == 8

    page.get_by_role("link", name="Nodes & NICs").first.click()
    expect(page.locator(".node-group")).to_have_count(4)
    expect(page.get_by_role("button", name="Allocate host IPs")).to_have_count(0)
    screenshot(page, tmp_path, "nodes.png")


def test_a_slash8_rail_with_10000_exclusions_renders_quickly(
    page, live_server, django_user_model, tmp_path
):
    from planner import ipam
    from planner.models import Node, NodeNIC, Rail

    plan = Plan.objects.create(name="Big", slug="big")
    rail = Rail.objects.create(plan=plan, index=0, subnet="10.0.0.0/8")
    base = ipam.ip_to_int("10.0.0.0")
    Exclusion.objects.bulk_create(
        Exclusion(
            rail=rail,
            cidr=f"{ipam.int_to_ip(base + (i + 1) * 1024)}/24",
            first_ip=ipam.int_to_ip(base + (i + 1) * 1024),
            last_ip=ipam.int_to_ip(base + (i + 1) * 1024 + 255),
            note=f"block {i}",
        )
        for i in range(10_000)
    )
    nodes = Node.objects.bulk_create(Node(plan=plan, name=f"n{i:04d}") for i in range(500))
    NodeNIC.objects.bulk_create(
        NodeNIC(node=node, rail=rail, host_ip=ipam.int_to_ip(base + 12_000_000 + i))
        for i, node in enumerate(nodes)
    )
    make_user(django_user_model, "vera", "viewer")
    log_in(page, live_server, "vera")
    page.goto(f"{live_server.url}/plans/big/")
    timing = page.evaluate("performance.getEntriesByType('navigation')[0].toJSON()")
    assert timing["loadEventEnd"] - timing["startTime"] < 5000
    segments = page.locator("#rail-0 svg.ipmap rect.seg")
    assert segments.count() <= 2100
    expect(page.locator("#rail-0 .seg-dense").first).to_be_visible()
    expect(page.locator("#rail-0 .seg-host")).to_have_count(1)
    expect(page.locator("#rail-0 .exclusion-list")).to_contain_text("and 9,900 more")
    box = on_screen_box(page.locator("#rail-0 svg.ipmap"))
    page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + 10)
    expect(page.locator("#rail-0 .ipmap-readout")).to_contain_text("Dense (many small blocks)")
    screenshot(page, tmp_path, "big-rail.png", whole_page=False)
