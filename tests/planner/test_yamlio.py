import pytest

from planner import manifests, yamlio
from planner.seed import seed_plan_spec
from planner.yamlio import YamlInputError

MIXED = """\
apiVersion: v1
kind: Pod
metadata: {name: a}
---
# a comment-only document is empty
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: b}
---
apiVersion: batch/v1
kind: Job
metadata: {name: c}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: d}
---
apiVersion: v1
kind: PodTemplate
metadata: {name: e}
---
apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata: {name: f}
"""


def test_loads_every_kind_in_any_mix_and_skips_empty_documents():
    objects = yamlio.load_documents(MIXED)
    assert [(obj["kind"], obj["metadata"]["name"]) for obj in objects] == [
        ("Pod", "a"),
        ("Deployment", "b"),
        ("Job", "c"),
        ("StatefulSet", "d"),
        ("PodTemplate", "e"),
        ("NetworkAttachmentDefinition", "f"),
    ]


def test_a_list_document_is_unpacked():
    text = (
        "apiVersion: v1\nkind: List\n"
        "items:\n- {apiVersion: v1, kind: Pod}\n- {apiVersion: v1, kind: Pod}\n"
    )
    assert [obj["kind"] for obj in yamlio.load_documents(text)] == ["Pod", "Pod"]


def test_json_is_accepted():
    assert yamlio.load_documents('{"apiVersion": "v1", "kind": "Pod"}') == [
        {"apiVersion": "v1", "kind": "Pod"}
    ]


def test_bytes_are_decoded_and_bad_bytes_are_reported():
    assert yamlio.load_documents(b"apiVersion: v1\nkind: Pod\n")[0]["kind"] == "Pod"
    with pytest.raises(YamlInputError, match="not UTF-8"):
        yamlio.load_documents(b"kind: \xff\n")


@pytest.mark.parametrize(
    ("text", "document_index", "line", "message"),
    [
        ("apiVersion: v1\nkind: Pod\nspec: [\n", 0, 4, "invalid YAML"),
        (
            "apiVersion: v1\nkind: Pod\n---\napiVersion: v1\nkind: Pod\n  bad: indent\n",
            1,
            6,
            "invalid YAML",
        ),
        ("apiVersion: v1\nkind: Pod\n---\n- a\n- b\n", 1, 4, "got a list"),
        ("---\nname: x\n", 0, 2, "no apiVersion and no kind"),
        ("apiVersion: v1\nkind: Pod\n---\napiVersion: v1\n", 1, 4, "no kind"),
        ("apiVersion: v1\nkind: Pod\nmetadata: [1]\n", 0, 1, "metadata must be a mapping"),
        (
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  name: b\n",
            0,
            5,
            "duplicate key 'name'",
        ),
        ("just text\n", 0, 1, "got a str"),
    ],
)
def test_bad_input_names_the_document_the_line_and_the_reason(text, document_index, line, message):
    with pytest.raises(YamlInputError, match=message) as caught:
        yamlio.load_documents(text)
    assert caught.value.document_index == document_index
    assert caught.value.line == line
    assert str(caught.value).startswith(f"document {document_index + 1}, line {line}: ")
    assert caught.value.to_dict()["line"] == line


def test_input_size_is_limited():
    with pytest.raises(YamlInputError, match="limit is 10") as caught:
        yamlio.load_documents("apiVersion: v1\nkind: Pod\n", max_chars=10)
    assert caught.value.document_index is None


def test_dump_round_trips_and_is_stable():
    objects = manifests.render_bundle(seed_plan_spec()) + manifests.render_job(seed_plan_spec())
    text = yamlio.dump_all(objects)
    assert yamlio.load_documents(text) == objects
    assert yamlio.dump_all(yamlio.load_documents(text)) == text
    assert text.count("\n---\n") == len(objects) - 1


def test_dump_keeps_key_order_and_block_style():
    text = yamlio.dump({"kind": "X", "apiVersion": "v1", "list": [{"b": 1, "a": 2}], "empty": {}})
    assert text == "kind: X\napiVersion: v1\nlist:\n- b: 1\n  a: 2\nempty: {}\n"


def test_dump_writes_multiline_strings_as_literal_blocks():
    nad = manifests.render_nads(seed_plan_spec())[0]
    text = yamlio.dump(nad)
    assert '  config: |-\n    {\n      "cniVersion": "0.3.1",\n' in text
    pod = manifests.render_pod(seed_plan_spec())[0]
    assert (
        'k8s.v1.cni.cncf.io/networks: |\n      [\n        {"name": "sriov-rail-0"'
        in yamlio.dump(pod)
    )


def test_dump_quotes_strings_yaml_would_misread():
    text = yamlio.dump({"spoofChk": "on", "trust": "off", "count": "8", "flag": True, "n": 8})
    assert text == "spoofChk: 'on'\ntrust: 'off'\ncount: '8'\nflag: true\nn: 8\n"
    assert yamlio.load_documents("apiVersion: v1\nkind: X\n" + text)[0]["spoofChk"] == "on"


def test_libyaml_and_pure_python_write_the_same_text():
    plan = seed_plan_spec()
    objects = (
        manifests.render_bundle(plan, pod_options={"layout": "per-numa", "nccl_env": True})
        + manifests.render_sriov_operator(manifests.with_pod_options(plan))
        + manifests.render_job(plan)
        + [{"apiVersion": "v1", "kind": "X", "data": {"on": "on", "text": "é\n", "n": None}}]
    )
    assert yamlio.dump_all(objects) == yamlio.dump_all(objects, pure_python=True)


def test_dump_never_writes_aliases_for_shared_objects():
    shared = {"a": 1}
    text = yamlio.dump({"x": shared, "y": shared})
    assert "&" not in text and "*" not in text


def test_highlighted_yaml_is_escaped_html_with_line_anchors():
    from planner import highlight

    html = highlight.highlight_yaml("metadata:\n  name: <script>\n", anchor_prefix="doc")
    assert html.startswith('<div class="highlight"><pre>')
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'id="doc-2"' in html
    assert '<span class="nt">metadata</span>' in html
    assert ".highlight .nt" in highlight.css()


def test_highlighting_falls_back_to_plain_text_for_huge_input():
    from planner import highlight

    html = highlight.highlight_yaml("a: <b>\n" * 10, max_chars=20)
    assert html == '<div class="highlight"><pre>' + "a: &lt;b&gt;\n" * 10 + "</pre></div>"
    with pytest.raises(ValueError, match="yaml, json"):
        highlight.highlight("a", language="toml")
