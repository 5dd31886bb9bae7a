"""The name rules, as the API server applies them."""

import pytest

from planner import k8snames


@pytest.mark.parametrize("name", ["a", "ai-training", "x" * 63, "0abc9"])
def test_labels(name):
    assert k8snames.label_error(name) is None


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "empty"),
        ("x" * 64, "longer than 63"),
        ("AI", "DNS-1123 label"),
        ("-a", "DNS-1123 label"),
        ("a.b", "DNS-1123 label"),
        ("a\x00", "DNS-1123 label"),
        (5, "empty"),
    ],
)
def test_bad_labels(name, reason):
    assert reason in k8snames.label_error(name)


@pytest.mark.parametrize("name", ["worker-0", "a.b.c", "x" * 253, "a-1.b-2"])
def test_subdomains(name):
    assert k8snames.pod_name_error(name) is None


@pytest.mark.parametrize("name", ["..", ".", "a..b", "x" * 254, "a/b", "%2e%2e", "A", ".a"])
def test_bad_subdomains(name):
    assert k8snames.pod_name_error(name)


def test_messages_name_the_thing_and_show_control_characters():
    assert k8snames.namespace_error("Bad\n").startswith("The namespace 'Bad\\n'")
    assert k8snames.container_name_error("c" * 300).count("c") < 100  # quoted short


@pytest.mark.parametrize("segment", ["", ".", "..", "a/b", "a%2fb"])
def test_path_segments(segment):
    assert k8snames.path_segment_error(segment)
    assert k8snames.path_segment_error("worker-0") is None
