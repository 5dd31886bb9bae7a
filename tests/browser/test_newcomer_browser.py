"""A newcomer's first hour in headless Chromium: the first-run page, importing a plan, the New-plan
preview, the IP map's drag preview and keyboard, the plan tabs and breadcrumbs, Export's file
name and the 404 page. Screenshots go to /tmp/railstudio-shots/."""

import re
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import expect

from clusters.models import Cluster
from planner import documents
from planner.models import Exclusion, Plan
from planner.seed import seed_plan_spec
from tests.browser.helpers import log_in, make_user, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONG_NAME = "Seed: 8-rail training cluster, east hall, rows 12 to 19"


def seed(name: str = LONG_NAME) -> Plan:
    document = documents.document_from_spec(seed_plan_spec())
    document["plan"]["name"] = name
    return documents.import_plan(document)


def bar_point(page, locator, fraction: float) -> tuple[float, float]:
    locator.scroll_into_view_if_needed()
    box = locator.bounding_box()
    return box["x"] + box["width"] * fraction, box["y"] + box["height"] / 2


def test_first_run_page_then_a_lab_registering_turns_it_into_the_dashboard(
    page, live_server, django_user_model, tmp_path
):
    make_user(django_user_model, "otto", "operator")
    page.set_viewport_size({"width": 1280, "height": 900})
    log_in(page, live_server, "otto")
    first_run = page.locator("#first-run")
    expect(page.get_by_role("heading", name="Welcome to Rail Studio")).to_be_visible()
    for label in ("Create a plan", "Import a plan (YAML)", "Register a cluster"):
        expect(first_run.get_by_role("link", name=label, exact=True)).to_be_visible()
    expect(page.locator("#lab-command")).to_have_text(".venv/bin/python manage.py labcluster up")
    page.locator("#first-run [data-copy='lab-command']").click()
    expect(page.locator("#first-run [data-copy='lab-command']")).to_have_text(
        re.compile("Copied|Copy failed")
    )
    screenshot(page, tmp_path, "first-run.png")

    # what `labcluster up` does when it starts: register the lab; the page notices by itself
    Cluster.objects.create(name="lab", server="https://127.0.0.1:6443", is_lab=True)
    expect(page.get_by_role("heading", name="Home", exact=True)).to_be_visible(timeout=15_000)
    expect(page.locator('#dash-clusters [data-cluster="lab"]')).to_be_visible()


def test_import_a_plan_from_the_first_run_page(page, live_server, django_user_model, tmp_path):
    make_user(django_user_model, "pat", "planner")
    document = documents.document_from_spec(seed_plan_spec())
    log_in(page, live_server, "pat")
    page.locator("#first-run").get_by_role("link", name="Import a plan (YAML)").click()
    expect(page.get_by_role("heading", name="Import a plan")).to_be_visible()
    broken = yaml.safe_load(yaml.safe_dump(document))
    broken["rails"][0]["subnet"] = "10.50.0.1/16"
    broken = yaml.safe_dump(broken)
    page.get_by_label("or paste it").fill(broken)
    page.get_by_role("button", name="Import plan").click()
    expect(page.locator("#import-errors")).to_contain_text("rails.0.subnet")
    expect(page.get_by_label("or paste it")).to_have_value(re.compile("10.50.0.1/16"))
    screenshot(page, tmp_path, "plan-import-errors.png")
    page.get_by_label("or paste it").fill(yaml.safe_dump(document))
    page.get_by_role("button", name="Import plan").click()
    plan = Plan.objects.get()
    expect(page).to_have_url(f"{live_server.url}{plan.get_absolute_url()}")
    expect(page.locator(".message")).to_contain_text(f"Imported plan {plan.name} with 8 rails.")
    expect(page.locator(".rail-card")).to_have_count(8)


def test_the_new_plan_form_previews_the_rails_and_reads_an_unaligned_supernet(
    page, live_server, django_user_model, tmp_path
):
    make_user(django_user_model, "pat", "planner")
    log_in(page, live_server, "pat")
    page.goto(f"{live_server.url}/plans/new/")
    preview = page.locator("#carve-preview")
    expect(preview).to_contain_text("No supernet")
    page.get_by_role("textbox", name="Name", exact=True).fill("Fabric C")
    page.get_by_label("Supernet").fill("10.60.0.0/13")
    expect(preview).to_contain_text("Will carve 8 × /16: 10.60.0.0 – 10.67.255.255")
    expect(page.locator("#carve-note")).to_contain_text("the /13 holding 10.60.0.0 is 10.56.0.0/13")
    expect(page.locator("#carve-note")).to_contain_text(
        "and 10.64.0.0 – 10.67.255.255 lies outside 10.56.0.0/13"
    )
    expect(preview.locator("tbody tr")).to_have_count(8)
    expect(preview.locator("tbody tr").last).to_contain_text("10.67.0.0/16")
    screenshot(page, tmp_path, "new-plan-preview.png")
    page.get_by_label("Rails", exact=True).fill("4")
    expect(preview).to_contain_text("Will carve 4 × /16: 10.60.0.0 – 10.63.255.255")
    expect(page.locator("#carve-note")).not_to_contain_text("lies outside")
    page.get_by_label("Supernet").fill("10.56.0.0/13")
    expect(preview).to_contain_text("Will carve 4 × /16: 10.56.0.0 – 10.59.255.255")
    expect(page.locator("#carve-note")).to_have_count(0)
    assert not Plan.objects.exists()  # nothing created while previewing
    page.get_by_role("button", name="Create plan").click()
    expect(page.locator(".rail-card")).to_have_count(4)
    expect(page.locator("#rail-3 .subnet")).to_have_text("10.59.0.0/16")


def test_the_ip_map_previews_the_snapped_block_and_works_from_the_keyboard(
    page, live_server, django_user_model, tmp_path
):
    plan = seed()
    make_user(django_user_model, "pat", "planner")
    page.set_viewport_size({"width": 1280, "height": 900})
    log_in(page, live_server, "pat")
    page.goto(f"{live_server.url}{plan.get_absolute_url()}")
    bar = page.locator("#rail-0 svg.ipmap")
    readout = page.locator("#rail-0 .ipmap-readout")
    selection = page.locator("#rail-0 .ipmap-selection")

    # dragging: before release, the block the server will exclude, with its range and size
    x0, y = bar_point(page, bar, 0.55)
    x1, _ = bar_point(page, bar, 0.70)
    page.mouse.move(x0, y)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, y, steps=4)
    page.mouse.move(x1, y, steps=4)
    expect(readout).to_contain_text(
        "Release to exclude 10.50.128.0/18 · 10.50.128.0 – 10.50.191.255 · 16,384 addresses"
    )
    expect(readout).to_contain_text("widened to CIDR boundaries")
    assert float(selection.get_attribute("width")) > float(
        page.locator("#rail-0 .ipmap-drag").get_attribute("width")
    )  # the snapped block is wider than what was dragged
    page.locator("#rail-0").scroll_into_view_if_needed()
    screenshot(page, tmp_path, "ipmap-drag-preview.png", whole_page=False)
    page.keyboard.press("Escape")
    page.mouse.up()
    expect(readout).to_have_text("Cancelled: nothing excluded.")
    assert Exclusion.objects.filter(rail__index=0).count() == 1  # only the seed's

    # the same drag released: exactly the previewed block
    page.mouse.move(x0, y)
    page.mouse.down()
    page.mouse.move(x1, y, steps=6)
    expect(readout).to_contain_text("Release to exclude 10.50.128.0/18")
    page.mouse.up()
    expect(page.locator("#rail-0 .flash")).to_contain_text("Excluded 10.50.128.0/18")

    # an overlap is said before release (the card was swapped: measure the bar again)
    x2, y = bar_point(page, page.locator("#rail-0 svg.ipmap"), 0.60)
    x3, _ = bar_point(page, page.locator("#rail-0 svg.ipmap"), 0.66)
    page.mouse.move(x2, y)
    page.mouse.down()
    page.mouse.move(x3, y, steps=4)
    expect(page.locator("#rail-0 .ipmap-readout")).to_contain_text(
        "overlaps 10.50.128.0/18: it would be refused"
    )
    page.keyboard.press("Escape")
    page.mouse.up()

    # the keyboard: focus the bar, move, widen, narrow, Enter; focus comes back for more
    rail1 = page.locator("#rail-1 svg.ipmap")
    rail1.focus()
    readout1 = page.locator("#rail-1 .ipmap-readout")
    expect(readout1).to_have_text(
        re.compile(r"^Selected 10\.51\.1\.0/24 · 10\.51\.1\.0 – 10\.51\.1\.255 · 256 addresses\.")
    )
    page.keyboard.press("ArrowRight")
    expect(readout1).to_contain_text("Selected 10.51.2.0/24")
    page.keyboard.press("Shift+ArrowRight")
    expect(readout1).to_contain_text(
        "Selected 10.51.2.0/23 · 10.51.2.0 – 10.51.3.255 · 512 addresses"
    )
    page.keyboard.press("Shift+ArrowRight")
    expect(readout1).to_contain_text("Selected 10.51.0.0/22")
    expect(readout1).to_contain_text("overlaps 10.51.0.0/24: it would be refused")
    page.keyboard.press("Shift+ArrowLeft")
    expect(readout1).to_contain_text("Selected 10.51.0.0/23")
    page.keyboard.press("ArrowRight")
    expect(readout1).to_contain_text("Selected 10.51.2.0/23")
    page.locator("#rail-1").scroll_into_view_if_needed()
    screenshot(page, tmp_path, "ipmap-keyboard.png", whole_page=False)
    page.keyboard.press("Escape")
    expect(readout1).to_have_text("Cancelled: nothing excluded.")
    page.keyboard.press("ArrowRight")  # after Escape, the block starts over from the suggestion
    expect(readout1).to_contain_text("Selected 10.51.2.0/24")
    page.keyboard.press("Shift+ArrowRight")
    expect(readout1).to_contain_text("Selected 10.51.2.0/23")
    page.keyboard.press("Enter")
    expect(page.locator("#rail-1 .flash")).to_contain_text("Excluded 10.51.2.0/23")
    expect(page.locator("#rail-1 svg.ipmap")).to_be_focused()
    expect(page.locator("#rail-1 .ipmap-readout")).to_contain_text("Selected 10.51.1.0/24")
    assert sorted(Exclusion.objects.filter(rail__index=1).values_list("cidr", flat=True)) == [
        "10.51.0.0/24",
        "10.51.2.0/23",
    ]
    attributes = page.locator("#rail-1 svg.ipmap")
    expect(attributes).to_have_attribute("role", "application")
    expect(attributes).to_have_attribute("aria-roledescription", "IP map")
    expect(attributes).to_have_attribute("aria-describedby", "ipmap-keys ipmap-readout-1")
    expect(page.locator("#ipmap-keys")).to_contain_text("Enter excludes it")


def test_tabs_breadcrumbs_sidebar_export_and_404(page, live_server, django_user_model, tmp_path):
    plan = seed()
    make_user(django_user_model, "pat", "planner")
    page.set_viewport_size({"width": 1280, "height": 900})
    log_in(page, live_server, "pat")
    page.goto(f"{live_server.url}{plan.get_absolute_url()}")
    tabs = page.locator(".plan-tabs")
    crumbs = page.get_by_role("navigation", name="Breadcrumb")
    sidebar_title = page.locator(".plan-nav .nav-title")
    expect(sidebar_title).to_have_text(LONG_NAME)  # whole, wrapped
    box = sidebar_title.bounding_box()
    assert box["height"] > 20  # it wraps instead of being cut
    for label, heading in (
        ("Nodes & NICs", "Nodes and NICs"),
        ("Manifests", "Manifests"),
        ("Rollouts", "Rollouts"),
        ("Overview & IP map", None),
    ):
        tabs.get_by_role("link", name=label).click()
        expect(tabs.locator('[aria-current="page"]')).to_have_text(label)
        expect(page.locator(".plan-nav [aria-current='page']")).to_have_text(label)
        expect(page.get_by_role("heading", level=1)).to_have_text(LONG_NAME)
        expect(page.get_by_role("navigation", name="Main").locator("[aria-current]")).to_have_text(
            "Plans"
        )
        if heading:
            expect(page.get_by_role("heading", level=2, name=heading, exact=True)).to_be_visible()
            expect(crumbs.locator('[aria-current="page"]')).to_have_text(label)
            expect(crumbs.get_by_role("link", name=LONG_NAME)).to_be_visible()
        if label == "Nodes & NICs":
            screenshot(page, tmp_path, "plan-tabs-nodes.png", whole_page=False)
    expect(crumbs.locator('[aria-current="page"]')).to_have_text(LONG_NAME)
    screenshot(page, tmp_path, "plan-tabs-overview.png", whole_page=False)

    with page.expect_download() as download:
        page.get_by_role("link", name="Export YAML").click()
    assert download.value.suggested_filename == f"{plan.slug}.yaml"
    exported = yaml.safe_load(Path(download.value.path()).read_text())
    assert exported["plan"]["name"] == LONG_NAME and len(exported["rails"]) == 8
    with page.expect_download() as download:
        page.locator(".plan-head").get_by_role("link", name="JSON", exact=True).click()
    assert download.value.suggested_filename == f"{plan.slug}.json"

    page.goto(f"{live_server.url}/plans/no-such-plan/")
    expect(page.get_by_role("heading", name="Nothing here")).to_be_visible()
    expect(page).to_have_title("Not found · Rail Studio")
    screenshot(page, tmp_path, "404.png")
    icon = page.locator('link[rel="icon"]').get_attribute("href")
    assert icon.endswith("railstudio/favicon.svg")
    assert page.request.get(f"{live_server.url}{icon}").status == 200
