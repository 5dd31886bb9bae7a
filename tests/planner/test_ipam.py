import netaddr
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner import ipam


def test_seed_rail_counts_like_whereabouts():
    space = ipam.RailSpace.build("10.50.0.0/16", [ipam.span_of("10.50.0.0/24")])
    usage = space.usage()
    assert usage.size == 65536
    assert usage.usable == 65534  # network+1 .. broadcast-1
    assert usage.excluded == 255  # 10.50.0.1 .. 10.50.0.255 of the usable span
    assert usage.free == 65534 - 255
    assert ipam.expand(space.first_free(3)) == ["10.50.1.0", "10.50.1.1", "10.50.1.2"]


def test_range_start_and_end_clip_the_pool_and_are_ignored_outside_it():
    space = ipam.RailSpace.build("10.50.0.0/24", range_start="10.50.0.100", range_end="10.50.0.109")
    assert space.usage().usable == 10
    ignored = ipam.RailSpace.build("10.50.0.0/24", range_start="10.60.0.1")
    assert ignored.usage().usable == 254


@pytest.mark.parametrize("subnet", ["10.0.0.0/31", "10.0.0.0/32", "fd00::/127"])
def test_point_to_point_subnets_have_no_usable_address(subnet):
    assert ipam.usable_span(subnet) is None
    assert ipam.RailSpace.build(subnet).usage().usable == 0


def test_host_ips_are_counted_and_skipped():
    hosts = [ipam.ip_to_int(f"10.50.1.{i}") for i in range(10)]
    space = ipam.RailSpace.build("10.50.0.0/16", [ipam.span_of("10.50.0.0/24")], host_ips=hosts)
    assert space.usage().host_assigned == 10
    assert ipam.expand(space.first_free(1)) == ["10.50.1.10"]


def test_next_free_prefix_is_aligned_and_skips_taken_space():
    space = ipam.RailSpace.build(
        "10.50.0.0/16", [ipam.span_of("10.50.0.0/24"), ipam.span_of("10.50.1.5")]
    )
    assert space.next_free_prefix(24) == "10.50.2.0/24"
    assert space.next_free_prefix(30) == "10.50.1.0/30"
    assert space.next_free_prefix(15) is None


def test_carve_consecutive_rails_from_the_seed_supernet():
    assert ipam.carve("10.50.0.0/13", 16, 8) == [f"10.{50 + i}.0.0/16" for i in range(8)]
    with pytest.raises(ipam.AddressError, match="only 8"):
        ipam.carve("10.50.0.0/13", 16, 9)
    with pytest.raises(ipam.AddressError, match="boundary"):
        ipam.carve("10.50.1.0/13", 16, 2)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("10.50.0.1/16", "host bits set"),
        ("10.50.0.0", "not a CIDR"),
        ("10.50.0.0/33", "not a valid CIDR"),
        ("banana/8", "not a valid CIDR"),
    ],
)
def test_bad_networks_name_the_reason(value, reason):
    with pytest.raises(ipam.AddressError, match=reason):
        ipam.parse_network(value)


def test_range_to_minimal_cidrs():
    span = ipam.range_span("10.50.0.1", "10.50.0.10")
    assert ipam.span_to_cidrs(span) == [
        "10.50.0.1/32",
        "10.50.0.2/31",
        "10.50.0.4/30",
        "10.50.0.8/31",
        "10.50.0.10/32",
    ]


def test_a_slash_8_with_ten_thousand_exclusions_stays_in_ranges():
    exclusions = [ipam.span_of(f"10.{i // 256}.{i % 256}.0/28") for i in range(10_000)]
    space = ipam.RailSpace.build("10.0.0.0/8", exclusions)
    assert len(space.free_spans()) == 10_000  # the first exclusion starts at the network address
    first = ipam.expand(space.first_free(50))
    assert first[0] == "10.0.0.16" and len(first) == 50
    assert space.usage().excluded == 10_000 * 16 - 1  # 10.0.0.0 is the network address


spans = st.lists(
    st.tuples(st.integers(0, 4095), st.integers(0, 64)).map(lambda t: (t[0], t[0] + t[1])),
    max_size=12,
)


def _ipset(items):
    result = netaddr.IPSet()
    for first, last in items:
        result.add(netaddr.IPRange(first, last))
    return result


@settings(max_examples=200, deadline=None)
@given(spans, spans)
def test_span_algebra_matches_netaddr_ipset(left, right):
    assert ipam.size(ipam.subtract(left, right)) == (_ipset(left) - _ipset(right)).size
    assert ipam.size(ipam.intersect(left, right)) == (_ipset(left) & _ipset(right)).size
    assert ipam.size(ipam.normalize(left + right)) == (_ipset(left) | _ipset(right)).size
    merged = ipam.normalize(left)
    assert all(a[1] + 1 < b[0] for a, b in zip(merged, merged[1:], strict=False))


def test_a_drag_snaps_to_cidr_boundaries():
    subnet = ipam.span_of("10.50.0.0/16")
    start, end = ipam.ip_to_int("10.50.3.17"), ipam.ip_to_int("10.50.4.200")
    snapped = ipam.snap_span(end, start, subnet)
    assert ipam.span_text(snapped) == "10.50.3.0-10.50.4.255"
    assert ipam.span_to_cidrs(snapped) == ["10.50.3.0/24", "10.50.4.0/24"]
    whole = ipam.snap_span(subnet[0] - 5, subnet[1] + 5, subnet)
    assert whole == subnet


@settings(max_examples=200, deadline=None)
@given(spans, spans)
def test_the_lazy_free_walk_matches_the_span_algebra(exclusions, hosts):
    space = ipam.RailSpace(
        subnet="0.0.0.0/20",
        version=4,
        subnet_span=(0, 4095),
        usable=(1, 4094),
        exclusions=ipam.normalize(exclusions),
        hosts=ipam.normalize(hosts),
    )
    expected = ipam.subtract(ipam.subtract([(1, 4094)], exclusions), hosts)
    assert space.free_spans() == expected
    assert ipam.size(space.first_free(37)) == min(37, ipam.size(expected))
