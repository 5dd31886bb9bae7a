"""Unit tests of the lab's pure parts: whereabouts, selectors, spec, annotations, patches."""

import ipaddress
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labsim.cni import MultusError, parse_networks, render_network_status
from labsim.patching import json_patch, merge_patch, strategic_merge_patch
from labsim.resources import Registry
from labsim.selectors import label_matcher, parse_label_selector
from labsim.spec import Components, SpecError, build_spec
from labsim.status import ApiError
from labsim.store import Store
from labsim.whereabouts import IpamError, Whereabouts, parse_ranges

pytestmark = pytest.mark.timeout(60)


def _whereabouts() -> Whereabouts:
    return Whereabouts(Store(Registry(Components())))


def test_range_forms_and_limits():
    (cidr,) = parse_ranges({"range": "10.50.3.7/16"})
    assert str(cidr.network) == "10.50.0.0/16" and cidr.pool_name == "10.50.0.0-16"
    assert (cidr.first, cidr.last) == (1, 65534)
    (span,) = parse_ranges({"range": "192.168.2.225-192.168.2.230/28"})
    assert (str(span.address(span.first)), str(span.address(span.last))) == (
        "192.168.2.225",
        "192.168.2.230",
    )
    (ignored,) = parse_ranges({"range": "10.0.0.0/24", "range_start": "10.9.9.9"})
    assert ignored.first == 1
    with pytest.raises(IpamError, match="net mask is too short, subnet 10.0.0.0/31 has no usable"):
        parse_ranges({"range": "10.0.0.0/31"})
    named = parse_ranges({"range": "10.1.0.0/24", "network_name": "rail0"})[0]
    assert named.pool_name == "rail0-10.1.0.0-24"


def test_lowest_free_address_skips_excludes_and_is_idempotent():
    allocator = _whereabouts()
    (ip_range,) = parse_ranges(
        {"range": "10.50.0.0/16", "exclude": ["10.50.0.0/24", "10.50.1.0", "10.50.1.2/32"]}
    )
    first = allocator.allocate(ip_range, "ns/a", "net1", "c1")
    second = allocator.allocate(ip_range, "ns/b", "net1", "c2")
    assert (str(first), str(second)) == ("10.50.1.1/16", "10.50.1.3/16")
    assert allocator.allocate(ip_range, "ns/a", "net1", "c9") == first
    allocator.release(ip_range, "ns/a", "net1")
    assert str(allocator.allocate(ip_range, "ns/c", "net1", "c3")) == "10.50.1.1/16"


def test_exhaustion_message():
    allocator = _whereabouts()
    (ip_range,) = parse_ranges({"range": "10.60.0.0/29", "exclude": ["10.60.0.4/30"]})
    for pod in ("a", "b", "c"):
        allocator.allocate(ip_range, f"ns/{pod}", "net1", pod)
    with pytest.raises(IpamError) as raised:
        allocator.allocate(ip_range, "ns/d", "net1", "d")
    assert str(raised.value) == (
        "Could not allocate IP in range: ip: 10.60.0.1 / - 10.60.0.6 / range: 10.60.0.0/29 / "
        "excludeRanges: [10.60.0.4/30]"
    )


@settings(max_examples=60, deadline=None)
@given(
    taken=st.sets(st.integers(1, 62), max_size=40),
    excluded=st.sets(st.integers(0, 15), max_size=6),
    releases=st.lists(st.integers(1, 62), max_size=10),
)
def test_allocation_is_always_the_lowest_free_non_excluded_address(taken, excluded, releases):
    exclude = [f"10.9.0.{block * 4}/30" for block in excluded]
    (ip_range,) = parse_ranges({"range": "10.9.0.0/26", "exclude": exclude})
    allocator = _whereabouts()
    excluded_offsets = {o for b in excluded for o in range(b * 4, b * 4 + 4)}
    holders = {}
    for offset in sorted(taken - excluded_offsets):
        address = allocator.allocate(ip_range, f"ns/p{offset}", "net1", "c")
        holders[int(address.ip) - int(ip_range.network.network_address)] = f"ns/p{offset}"
    for offset in releases:
        if offset in holders:
            allocator.release(ip_range, holders.pop(offset), "net1")
    free = [o for o in range(1, 63) if o not in holders and o not in excluded_offsets]
    if not free:
        with pytest.raises(IpamError):
            allocator.allocate(ip_range, "ns/new", "net1", "c")
        return
    address = allocator.allocate(ip_range, "ns/new", "net1", "c")
    assert int(address.ip) - int(ip_range.network.network_address) == free[0]
    assert not any(address.ip in ipaddress.ip_network(n) for n in exclude)


def test_label_selectors():
    match = label_matcher("rail in (0,1),numa!=1,!draining,tier")
    assert match({"metadata": {"labels": {"rail": "0", "numa": "0", "tier": "x"}}})
    assert not match({"metadata": {"labels": {"rail": "2", "tier": "x"}}})
    assert not match({"metadata": {"labels": {"rail": "0", "tier": "x", "draining": ""}}})
    assert [r.operator for r in parse_label_selector("a==b,c notin (d)")] == ["=", "notin"]
    with pytest.raises(ApiError) as raised:
        parse_label_selector("a in b")
    assert raised.value.code == 400


def test_spec_defaults_overrides_and_errors():
    spec = build_spec(
        {"nodes": {"count": 2, "overrides": {"gpu-node-1": {"rails": [{"index": 3, "vfs": 2}]}}}}
    )
    node0, node1 = spec.nodes
    assert len(node0.rails) == 8 and node0.rails[3].resource == "nvidia.com/rail3_vf"
    assert (node0.rails[3].vfs, node1.rails[3].vfs) == (8, 2)
    assert [g.numa for g in node0.gpus] == [0, 0, 0, 0, 1, 1, 1, 1]
    assert node1.pod_cidr == "10.100.1.0/24"
    with pytest.raises(SpecError, match="holds only 4 /24 node ranges"):
        build_spec({"nodes": 5, "pod_cidr": "10.0.0.0/22"})
    with pytest.raises(SpecError, match="unknown keys in timing"):
        build_spec({"timing": {"sandbox_delay": 1}})


def test_networks_annotation_forms():
    comma = parse_networks("sriov-rail-0@net1, other/sriov-rail-1", "ai-training")
    assert [(n.namespace, n.name, n.interface) for n in comma] == [
        ("ai-training", "sriov-rail-0", "net1"),
        ("other", "sriov-rail-1", ""),
    ]
    parsed = parse_networks(
        '[{"name":"r0","namespace":"x","interface":"net-r0","ips":["10.0.0.2/24"]}]', "y"
    )
    assert (parsed[0].namespace, parsed[0].ips) == ("x", ["10.0.0.2/24"])
    with pytest.raises(MultusError, match="must be less than 15 chars"):
        parse_networks("r0@this-name-is-far-too-long", "y")
    with pytest.raises(MultusError, match="failed to parse pod Network Attachment Selection"):
        parse_networks("[{bad json", "y")


def test_network_status_is_go_marshal_indent():
    rendered = render_network_status(
        [{"name": "net", "ips": ["10.0.0.1"], "dns": {}}, {"name": "b", "default": True}]
    )
    assert rendered == (
        '[{\n    "name": "net",\n    "ips": [\n        "10.0.0.1"\n    ],\n    "dns": {}\n},'
        '{\n    "name": "b",\n    "default": true\n}]'
    )
    assert json.loads(rendered)[1]["default"] is True


def test_patches():
    pod = {
        "spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "1"}]},
        "metadata": {"finalizers": ["x"]},
    }
    patched = strategic_merge_patch(
        pod,
        {"spec": {"containers": [{"name": "b", "image": "2"}]}, "metadata": {"finalizers": ["y"]}},
    )
    assert [c["image"] for c in patched["spec"]["containers"]] == ["1", "2"]
    assert patched["metadata"]["finalizers"] == ["x", "y"]
    removed = strategic_merge_patch(
        pod, {"spec": {"containers": [{"name": "a", "$patch": "delete"}]}}
    )
    assert [c["name"] for c in removed["spec"]["containers"]] == ["b"]
    assert merge_patch({"a": {"b": 1, "c": 2}}, {"a": {"b": None}}) == {"a": {"c": 2}}
    document = json_patch(
        {"a": [1, 2]},
        [
            {"op": "add", "path": "/a/-", "value": 3},
            {"op": "replace", "path": "/a/0", "value": 0},
            {"op": "test", "path": "/a/2", "value": 3},
        ],
    )
    assert document == {"a": [0, 2, 3]}
    with pytest.raises(ApiError):
        json_patch({"a": 1}, [{"op": "remove", "path": "/b"}])
