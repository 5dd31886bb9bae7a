"""Starting a plan: the New-plan form previews the rails it will carve and says how an unaligned
supernet is read; a plan document can be imported from a page; Export downloads a named file."""

import html as html_lib
import re

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from planner import ipam
from planner.models import Plan

pytestmark = pytest.mark.django_db


def text_of(response) -> str:
    return re.sub(r"\s+", " ", html_lib.unescape(response.content.decode()))


def preview(client, **values) -> str:
    return text_of(client.get(reverse("plan-create-preview"), values))


# ---------------------------------------------------------------------------------------------
# What a supernet carves


def test_an_aligned_supernet_says_what_it_carves_and_nothing_more():
    reading = ipam.read_carve("10.56.0.0/13", 16, 8)
    assert reading.summary == "8 × /16: 10.56.0.0 – 10.63.255.255 (524,288 addresses)"
    assert reading.aligned and reading.note == "" and reading.network == "10.56.0.0/13"


def test_an_unaligned_supernet_says_which_network_it_is_not_and_what_lies_outside():
    reading = ipam.read_carve("10.60.0.0/13", 16, 8)
    assert reading.subnets[0] == "10.60.0.0/16" and reading.subnets[-1] == "10.67.0.0/16"
    assert not reading.aligned and reading.network == "10.56.0.0/13"
    assert reading.outside == "10.64.0.0 – 10.67.255.255"
    assert reading.note == (
        "10.60.0.0/13 is not a network boundary: the /13 holding 10.60.0.0 is 10.56.0.0/13. "
        "Rail Studio reads a supernet as a start address and a size, so the rails start at "
        "10.60.0.0, and 10.64.0.0 – 10.67.255.255 lies outside 10.56.0.0/13."
    )
    inside = ipam.read_carve("10.60.0.0/13", 16, 4)  # 10.60-10.63: unaligned, but inside
    assert not inside.aligned and inside.outside == "" and "lies outside" not in inside.note


def test_the_form_previews_the_rails_before_creating_anything(as_planner):
    page = text_of(as_planner.get(reverse("plan-create")))
    assert 'hx-get="/plans/new/preview/"' in page and "Rails it will carve" in page
    assert "Read as a start address and a size" in page  # the supernet's help says it up front
    shown = preview(as_planner, supernet="10.60.0.0/13", rail_count="8", rail_prefix_length="16")
    assert "Will carve 8 × /16: 10.60.0.0 – 10.67.255.255 (524,288 addresses)." in shown
    assert 'id="carve-note"' in shown and "the /13 holding 10.60.0.0 is 10.56.0.0/13" in shown
    assert "To carve inside 10.56.0.0/13 instead, give that network as the supernet." in shown
    rows = re.findall(
        r'<tr><td class="num">(\d+)</td><td class="mono">([^<]+)</td><td class="mono">([^<]+)</td>',
        shown,
    )
    assert rows[0] == ("0", "10.60.0.0/16", "sriov-rail-0") and rows[7][1] == "10.67.0.0/16"
    assert "net8" in shown and "nvidia.com/rail7_vf" in shown
    assert not Plan.objects.exists()


@pytest.mark.parametrize(
    ("values", "says"),
    [
        ({"supernet": ""}, "No supernet: the plan starts with no rails."),
        ({"supernet": "10.50.0.0/13", "rail_count": "9", "rail_prefix_length": "16"},
         "10.50.0.0/13 holds only 8 /16 subnets, not 9."),
        ({"supernet": "nonsense", "rail_count": "8", "rail_prefix_length": "16"},
         "'nonsense' is not a CIDR"),
        ({"supernet": "10.50.0.0/13", "rail_count": "x", "rail_prefix_length": "16"},
         "Rails must be a whole number from 1 to 64."),
    ],
)  # fmt: skip
def test_the_preview_says_why_nothing_can_be_carved(as_planner, values, says):
    assert says in preview(as_planner, **values)


def test_the_preview_and_the_import_page_cost_a_few_queries(
    as_planner, django_assert_max_num_queries
):
    with django_assert_max_num_queries(4):  # session, user, the role check; nothing to read
        as_planner.get(reverse("plan-create-preview"), {"supernet": "10.0.0.0/8"})
    with django_assert_max_num_queries(4):
        as_planner.get(reverse("plan-import"))


def test_the_preview_is_for_planners(as_viewer):
    assert as_viewer.get(reverse("plan-create-preview")).status_code == 403


def test_the_summary_says_how_the_supernet_was_carved(as_planner):
    as_planner.post(
        reverse("plan-create"),
        {"name": "Fabric B", "namespace": "ai-training", "supernet": "10.60.0.0/13",
         "rail_count": "8", "rail_prefix_length": "16", "cni_type": "sriov",
         "pod_cidr": "10.100.0.0/16"},
    )  # fmt: skip
    page = text_of(as_planner.get(reverse("plan-detail", args=["fabric-b"])))
    assert (
        "carved from its address: 10.60.0.0 – 10.67.255.255 (the /13 network is 10.56.0.0/13)"
        in page
    )


# ---------------------------------------------------------------------------------------------
# Import and export


def test_a_plan_exported_from_one_install_imports_on_another_page(as_planner, seed_plan):
    exported = as_planner.get(f"/api/plans/{seed_plan.slug}/export/")
    assert exported["Content-Disposition"] == f'attachment; filename="{seed_plan.slug}.yaml"'
    as_json = as_planner.get(f"/api/plans/{seed_plan.slug}/export/?format=json")
    assert as_json["Content-Disposition"] == f'attachment; filename="{seed_plan.slug}.json"'
    document = yaml.safe_load(exported.content)
    document["plan"].update(name="Copy of the seed", slug="seed-copy")
    upload = SimpleUploadedFile("seed-copy.yaml", yaml.safe_dump(document).encode())
    response = as_planner.post(reverse("plan-import"), {"file": upload, "text": ""})
    copy = Plan.objects.get(slug="seed-copy")
    assert response.status_code == 302 and response["Location"] == copy.get_absolute_url()
    assert copy.rails.count() == 8 and copy.nodes.count() == seed_plan.nodes.count()
    page = text_of(as_planner.get(copy.get_absolute_url()))
    assert "Imported plan Copy of the seed with 8 rails." in page
    assert f'href="/api/plans/{copy.slug}/export/" download="{copy.slug}.yaml"' in page


def test_a_bad_document_is_refused_by_path_and_keeps_the_text(as_planner, seed_plan):
    exported = yaml.safe_load(as_planner.get(f"/api/plans/{seed_plan.slug}/export/").content)
    exported["rails"][2]["subnet"] = "10.52.0.1/16"
    text = yaml.safe_dump(exported)
    response = as_planner.post(reverse("plan-import"), {"text": text})
    assert response.status_code == 422
    page = text_of(response)
    assert "The plan was not imported" in page
    assert '<td class="mono">plan.name</td>' in page  # the seed's name is taken
    assert '<td class="mono">rails.2.subnet</td>' in page
    assert "host bits set" in page
    assert html_lib.escape(text.splitlines()[0]) in response.content.decode()  # kept for editing
    broken = as_planner.post(reverse("plan-import"), {"text": "plan: [unclosed\n"})
    broken_text = text_of(broken)
    assert broken.status_code == 422 and "not valid YAML" in broken_text and "line 2" in broken_text
    empty = as_planner.post(reverse("plan-import"), {"text": " "})
    assert "Choose a file, or paste the plan document" in text_of(empty)
    assert Plan.objects.count() == 1


def test_importing_needs_the_planner_role(as_viewer):
    assert as_viewer.get(reverse("plan-import")).status_code == 403
