"""The IP map's geometry: pure data from a RailSpace, no database."""

import pytest

from planner import ipam, svg

SLASH16 = "10.50.0.0/16"


def ip(text: str) -> int:
    return ipam.ip_to_int(text)


def span(cidr: str) -> ipam.Span:
    return ipam.span_of(cidr)


def kinds(rail_map: svg.RailMap) -> list[str]:
    return [segment.kind for segment in rail_map.segments]


def assert_tiles_the_bar(rail_map: svg.RailMap) -> None:
    """Segments are in address order, touch each other and cover the subnet and the bar."""
    segments = rail_map.segments
    assert segments[0].first == rail_map.first and segments[0].x == 0
    assert segments[-1].last == rail_map.first + rail_map.size - 1
    for left, right in zip(segments, segments[1:], strict=False):
        assert right.first == left.last + 1
        assert right.x == pytest.approx(left.x + left.width)
    assert sum(s.width for s in segments) == pytest.approx(rail_map.width)


def test_an_empty_rail_is_network_free_space_and_broadcast():
    rail_map = svg.rail_map(ipam.RailSpace.build(SLASH16), width=1000)
    assert kinds(rail_map) == ["reserved", "free", "reserved"]
    network, free, broadcast = rail_map.segments
    assert (network.size, free.size, broadcast.size) == (1, 65534, 1)
    assert free.label == "10.50.0.1-10.50.255.254"
    assert free.width == pytest.approx(1000 * 65534 / 65536)
    assert_tiles_the_bar(rail_map)


def test_exclusions_hosts_and_free_space_get_their_own_segments_and_widths():
    space = ipam.RailSpace.build(
        SLASH16,
        exclusions=[span("10.50.0.0/24"), span("10.50.128.0/20")],
        host_ips=range(ip("10.50.1.0"), ip("10.50.1.0") + 600),
    )
    rail_map = svg.rail_map(space, width=1000)
    assert kinds(rail_map) == ["excluded", "host", "free", "excluded", "free", "reserved"]
    widths = rail_map.kind_widths()
    assert widths["excluded"] == pytest.approx(1000 * (256 + 4096) / 65536)
    assert widths["host"] == pytest.approx(1000 * 600 / 65536)
    assert widths["reserved"] == pytest.approx(1000 / 65536)
    assert sum(widths.values()) == pytest.approx(1000)
    assert rail_map.segments[0].label == "10.50.0.0/24"
    assert rail_map.segments[1].label == "10.50.1.0-10.50.3.87"
    assert_tiles_the_bar(rail_map)


def test_tooltips_give_the_range_size_and_the_purpose_note():
    space = ipam.RailSpace.build(SLASH16, exclusions=[span("10.50.0.0/24")])
    notes = [(span("10.50.0.0/24"), "Infrastructure: switch loopbacks")]
    excluded = svg.rail_map(space, notes).segments[0]
    assert excluded.kind == "excluded"
    assert (
        excluded.tooltip
        == "Excluded · 10.50.0.0/24 · 256 addresses · Infrastructure: switch loopbacks"
    )


def test_a_narrow_marked_segment_is_still_drawn_visibly():
    space = ipam.RailSpace.build("10.0.0.0/8", exclusions=[span("10.7.0.0/24")])
    rail_map = svg.rail_map(space, width=1000)
    excluded = next(s for s in rail_map.segments if s.kind == "excluded")
    assert excluded.width < 0.1
    assert excluded.draw_width == svg.MIN_VISIBLE
    assert rail_map.marked_segments[-1].kind == "reserved"  # free space is drawn first
    assert all(s.kind == "free" for s in rail_map.free_segments)


def test_a_slash8_with_10000_exclusions_draws_a_bounded_number_of_segments():
    base = ip("10.0.0.0")
    exclusions = [(base + i * 1024, base + i * 1024 + 255) for i in range(10_000)]
    space = ipam.RailSpace.build("10.0.0.0/8", exclusions=exclusions)
    rail_map = svg.rail_map(space, width=1000)
    assert len(rail_map.segments) <= 2 * 1000 + 1
    assert "dense" in kinds(rail_map)
    assert_tiles_the_bar(rail_map)
    # the dense region ends where the exclusions do; past it, one free segment
    dense = [s for s in rail_map.segments if s.kind == "dense"]
    assert dense[0].first == base
    assert sum(s.width for s in dense) == pytest.approx(1000 * 10_000 * 1024 / 2**24, rel=0.01)
    assert dense[0].tooltip == (
        "Dense (many small blocks) · 10.0.0.0-10.0.67.255 · 17,408 addresses · "
        "Excluded: 4,352 addresses in 17 blocks · Free for pods: 13,056 addresses in 17 blocks"
    )
    assert rail_map.segments[-2].kind == "free" and rail_map.segments[-2].width > 300


def test_segment_count_is_bounded_by_the_width_whatever_the_input():
    base = ip("10.0.0.0")
    crowded = [(base + i * 7, base + i * 7 + 2) for i in range(50_000)]
    # worst case: three tiny spans before every wide one (one pixel of a /8 is 16,777 addresses)
    sparse = [
        (base + i * 40_000 + k * 2, base + i * 40_000 + k * 2) for i in range(400) for k in (1, 3)
    ]
    for exclusions in (crowded, sparse):
        space = ipam.RailSpace.build("10.0.0.0/8", exclusions=exclusions)
        for width in (200, 1000):
            rail_map = svg.rail_map(space, width=width)
            assert len(rail_map.segments) <= svg.DENSE_MIN_SPANS * width + 1
            assert_tiles_the_bar(rail_map)


def test_a_few_tiny_spans_before_wide_free_space_keep_their_kinds():
    space = ipam.RailSpace.build(SLASH16, host_ips=[ip("10.50.0.1"), ip("10.50.0.2")])
    rail_map = svg.rail_map(space, width=1000)
    assert kinds(rail_map) == ["reserved", "host", "free", "reserved"]
    assert rail_map.segments[1].tooltip == "Host IPs · 10.50.0.1-10.50.0.2 · 2 addresses"


def test_a_pod_range_marks_the_rest_of_the_subnet_as_reserved():
    space = ipam.RailSpace.build(SLASH16, range_start="10.50.16.0", range_end="10.50.31.255")
    rail_map = svg.rail_map(space)
    assert kinds(rail_map) == ["reserved", "free", "reserved"]
    assert rail_map.segments[1].label == "10.50.16.0/20"


def test_ipv6_rails_and_ticks():
    space = ipam.RailSpace.build("fd00:50::/64", exclusions=[span("fd00:50::/120")])
    rail_map = svg.rail_map(space, width=1000)
    assert rail_map.version == 6 and rail_map.size == 2**64
    assert rail_map.segments[0].kind == "excluded"
    assert_tiles_the_bar(rail_map)
    assert [t.label for t in rail_map.ticks][0] == "fd00:50::"
    assert rail_map.ticks[-1].label == "fd00:50::ffff:ffff:ffff:ffff"
    v4 = svg.rail_map(ipam.RailSpace.build(SLASH16))
    assert [t.label for t in v4.ticks] == [
        "10.50.0.0",
        "10.50.64.0",
        "10.50.128.0",
        "10.50.192.0",
        "10.50.255.255",
    ]


def test_svg_attributes_are_short_decimal_strings():
    rail_map = svg.rail_map(ipam.RailSpace.build(SLASH16, exclusions=[span("10.50.0.0/24")]))
    first = rail_map.segments[0]
    assert first.svg_x == "0.000" and first.svg_width == "3.906"
