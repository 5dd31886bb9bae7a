"""The pod diagram's geometry (clusters.pod_svg), from PodReport dicts of the lab captures and
from hand-made reports: one box per interface, red with the diagnosis for a bad one, no
overlaps."""

import itertools

import pytest

from clusters import inspect, pod_svg
from tests.clusters.data import captures


def report_of(name: str) -> dict:
    record = captures.load(name)
    reports = inspect.inspect_pods(
        [record["pod"]],
        record["events"],
        captures.lab_plan(),
        nodes=record["nodes"],
        nads=record["nads"],
        ippools=record["ippools"],
        devices=captures.devices(record),
    )
    return reports[0].to_dict()


def assert_no_overlap(diagram: pod_svg.Diagram) -> None:
    boxes = [row.box for row in diagram.rows]
    notes = [row.note for row in diagram.rows]
    cells = [row.cell for row in diagram.rows]
    for group in (boxes, notes, cells):
        for one, other in itertools.combinations(group, 2):
            assert not one.overlaps(other), (one, other)
    for row in diagram.rows:
        assert row.box.right < diagram.pod.x < row.cell.x  # box, wire, then the pod's cell
        assert row.cell.right <= diagram.pod.right <= row.note.x
        assert diagram.pod.y <= row.box.y and row.note.bottom <= diagram.pod.bottom
        assert row.note.right <= diagram.width
        # every text line of the note stays inside the row
        assert all(row.note.y < y <= row.note.bottom for y, _, _ in row.note_ys())
        assert all(row.box.y < y < row.box.bottom for y, _ in row.detail_ys())
    assert diagram.rows[-1].note.bottom < diagram.height


def test_a_healthy_pod_has_eth0_and_one_green_box_per_rail():
    report = report_of("healthy")
    diagram = pod_svg.layout(report, pod_cidr="10.100.0.0/16")
    assert [row.name for row in diagram.rows] == ["eth0", "net1", "net2", "net3", "net4"]
    eth0, *rails = diagram.rows
    assert eth0.kind == "primary" and eth0.css == "if-primary" and eth0.cni == "Calico CNI"
    assert eth0.lines[0] == "control plane · pod CIDR 10.100.0.0/16"
    assert eth0.lines[1] == "IP 10.100.0.3"  # from Multus' "Add eth0 [10.100.0.3/32]" event
    assert eth0.note_lines[0] == ("note-primary", "← k8s control plane (Pod CIDR)")
    for index, row in enumerate(rails):
        interface = report["interfaces"][index]
        assert row.ok and row.css == "if-ok" and row.cni == "SR-IOV CNI"
        assert row.title == f"sriov-rail-{index}"
        assert row.lines[0] == f"rail {index} · 10.{50 + index}.0.0/16"
        assert row.lines[1] == f"IP {interface['ip']}"
        assert interface["pci_address"] in row.lines[2]
        assert interface["rdma_device"] in row.lines[2] and "NUMA 0" in row.lines[2]
        assert row.note_lines[0] == ("note-ok", f"← VF on rail {index}")
        assert row.diagnosis is None
    assert diagram.problems == []
    assert_no_overlap(diagram)


def test_a_nad_typo_turns_the_rails_red_with_the_diagnosis_beside_them():
    diagram = pod_svg.layout(report_of("nad_typo"))
    rows = {row.name: row for row in diagram.rows}
    assert [row.name for row in diagram.problems] == ["net1", "net2", "net3", "net4"]
    typo = rows["net2"]
    assert typo.css == "if-bad" and typo.status == "missing"
    assert typo.title == "sriov-rial-1" and typo.lines[0] == "not a rail of the plan"
    assert typo.lines[1] == "no address" and typo.lines[2] == "VF — · — · NUMA —"
    assert typo.diagnosis.code == "NAD_NOT_FOUND" and typo.diagnosis.direct
    note = " ".join(text for _, text in typo.note_lines)
    assert typo.note_lines[0] == ("note-bad-head", "✕ missing · NAD_NOT_FOUND")
    assert "Did you mean" in note and 'Fix: Change "sriov-rial-1" to "sriov-rail-1"' in note
    assert 'Did you mean "sriov-rail-1"' in typo.tooltip
    # the other rails are missing because of the same pod-level cause, said more briefly
    other = rows["net1"]
    assert other.diagnosis.code == "NAD_NOT_FOUND" and not other.diagnosis.direct
    assert other.note_lines[1] == (
        "note-bad",
        "not attached: the pod is Pending (ContainerCreating)",
    )
    assert len(other.note_lines) < len(typo.note_lines)
    assert (diagram.pod_phase, diagram.pod_reason) == ("Pending", "ContainerCreating")
    assert_no_overlap(diagram)


def wrong_report(status: str, field: str) -> dict:
    interface = {
        "name": "net1",
        "nad": "sriov-rail-0",
        "network": "ai-training/sriov-rail-0",
        "rail": 0,
        "subnet": "10.50.0.0/16",
        "ip": "10.99.0.5",
        "ips": ["10.99.0.5"],
        "pci_address": "0000:18:00.2",
        "rdma_device": "mlx5_8",
        "numa_node": 1,
        "status": status,
        "detail": "10.99.0.5 is outside rail 0's subnet 10.50.0.0/16",
    }
    long_message = "The address is outside the rail's subnet. " * 12
    return {
        "phase": "Running",
        "interfaces": [interface, {**interface, "name": "net2", "status": "ok", "rail": 1}],
        "findings": [
            {"code": "SYS_NICE_MISSING", "severity": "warning", "field": "spec", "message": "x"},
            {
                "code": "INTERFACE_WRONG_SUBNET",
                "severity": "error",
                "field": field,
                "message": long_message,
                "fix": "Roll out the plan, then recreate the pod.",
            },
        ],
        "events": [],
    }


def test_a_finding_about_the_interface_wins_and_long_text_is_cut_to_a_few_lines():
    diagram = pod_svg.layout(wrong_report("wrong_subnet", "interfaces.net1"))
    net1 = diagram.rows[1]
    assert net1.css == "if-bad" and net1.diagnosis.code == "INTERFACE_WRONG_SUBNET"
    assert net1.note_lines[0] == ("note-bad-head", "✕ wrong subnet · INTERFACE_WRONG_SUBNET")
    message = [text for css, text in net1.note_lines if css == "note-bad"]
    assert len(message) == pod_svg.DIRECT_LINES[0] and message[-1].endswith("…")
    assert all(len(text) <= pod_svg.NOTE_CHARS for _, text in net1.note_lines)
    assert net1.note_lines[-1] == ("note-fix", "Fix: Roll out the plan, then recreate the pod.")
    assert net1.note.h > pod_svg.BOX_H  # the row grew to hold its diagnosis...
    assert diagram.rows[2].box.y >= net1.note.bottom + pod_svg.ROW_GAP  # ...and pushed the next
    assert diagram.rows[2].ok and diagram.rows[2].css == "if-ok"
    assert_no_overlap(diagram)


@pytest.mark.parametrize("interfaces", [0, 1, 8, 32])
def test_rows_never_overlap_however_many_interfaces(interfaces):
    report = wrong_report("wrong_subnet", "interfaces.net1")
    base = report["interfaces"][0]
    report["interfaces"] = [
        {**base, "name": f"net{i + 1}", "status": "ok" if i % 2 else "wrong_subnet"}
        for i in range(interfaces)
    ]
    diagram = pod_svg.layout(report)
    assert len(diagram.rows) == interfaces + 1
    assert len(diagram.problems) == (interfaces + 1) // 2
    assert_no_overlap(diagram)


def test_an_interface_without_a_finding_still_says_what_is_wrong():
    report = wrong_report("duplicate", "interfaces.net9")
    report["findings"] = []
    row = pod_svg.layout(report).rows[1]
    assert row.diagnosis is None and row.css == "if-bad"
    assert row.note_lines == [
        ("note-bad-head", "✕ duplicate IP"),
        ("note-bad", "10.99.0.5 is outside rail 0's subnet 10.50.0.0/16"),
    ]


def test_primary_address_reads_the_last_eth0_event():
    events = [
        {"reason": "AddedInterface", "message": "Add net1 [10.50.1.0/16] from ai/sriov-rail-0"},
        {"reason": "AddedInterface", "message": "Add eth0 [10.100.0.3/32] from k8s-pod-network"},
        {"reason": "AddedInterface", "message": "Add eth0 [10.100.9.9/32,fd00::9/128] from cilium"},
    ]
    assert pod_svg.primary_address(events) == ("10.100.9.9", "cilium")
    assert pod_svg.primary_address([]) == (None, None)
    eth0 = pod_svg.layout({"events": events[:2]}).rows[0]
    assert eth0.lines[1] == "IP 10.100.0.3" and eth0.lines[0] == "control plane (pod CIDR)"
