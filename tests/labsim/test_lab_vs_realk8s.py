"""The lab against a real kube-apiserver: every scenario recorded from kube-apiserver 1.20
(tests/labsim/realk8s/record.py, fixtures in tests/labsim/fixtures/realk8s/) is replayed against
a fresh lab, and the lab must answer the same, step by step, after normalisation (uids,
timestamps, resourceVersions numbered in order). The fixture's `differences` name the fields
where 1.20 and the version the lab reports (1.30) legitimately differ, and why."""

import json
from pathlib import Path

import pytest

from labsim.openapi import crd_openapi
from labsim.resources import NAD_TYPE
from tests.labsim.realk8s import scenarios

FIXTURES = Path(__file__).parent / "fixtures" / "realk8s"
pytestmark = pytest.mark.timeout(120)


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def differing(real, lab, path: str = "") -> list[str]:
    """Where two answers differ, one line per path."""
    if isinstance(real, dict) and isinstance(lab, dict):
        lines = []
        for key in sorted(set(real) | set(lab), key=str):
            lines += differing(real.get(key, "<absent>"), lab.get(key, "<absent>"), f"{path}.{key}")
        return lines
    if isinstance(real, list) and isinstance(lab, list) and len(real) == len(lab):
        return [
            line
            for i, (a, b) in enumerate(zip(real, lab, strict=True))
            for line in differing(a, b, f"{path}[{i}]")
        ]
    if real == lab:
        return []
    return [f"  {path}: real {json.dumps(real)[:300]} | lab {json.dumps(lab)[:300]}"]


def lab_server(lab) -> scenarios.Server:
    return scenarios.Server(lab.url, lab.token, str(lab.ca_path))


def test_the_fixtures_were_recorded_from_the_scenarios_as_they_are():
    for name in scenarios.SCENARIOS:
        recorded = fixture(name)
        assert recorded["server"].startswith("v1.20."), name
        assert recorded["steps"] == [step.to_dict() for step in scenarios.steps(name)], (
            f"scenario {name} changed since it was recorded: run tests/labsim/realk8s/record.py"
        )
        assert recorded["differences"] == scenarios.DIFFERENCES.get(name, {}), name
        for step_id, difference in recorded["differences"].items():
            assert difference["why"], (name, step_id)


@pytest.mark.parametrize("name", [n for n in scenarios.SCENARIOS if n != "discovery"])
def test_the_lab_answers_as_the_real_server(lab, name):
    recorded = fixture(name)
    steps = scenarios.steps(name)
    real = scenarios.normalise(recorded["answers"])
    mine = scenarios.normalise(scenarios.run(lab_server(lab), steps))
    mismatches = []
    for step in steps:
        difference = recorded["differences"].get(step.id)
        if difference and difference.get("skip"):
            continue
        else:
            expected = scenarios.comparable(real[step.id], difference)
            got = scenarios.comparable(mine[step.id], difference)
        if expected != got:
            mismatches.append(f"--- step {step.id}\n" + "\n".join(differing(expected, got)))
    assert not mismatches, f"{len(mismatches)} step(s) differ:\n" + "\n".join(mismatches)


def test_discovery_describes_each_served_resource_as_the_real_server(shared_lab):
    recorded = fixture("discovery")
    mine = scenarios.run(lab_server(shared_lab), scenarios.steps("discovery"))
    for step_id, answer in recorded["answers"].items():
        fields = (recorded["differences"].get(step_id) or {}).get("fields") or []
        served = {r["name"]: r for r in mine[step_id]["body"]["resources"]}
        real = {r["name"]: r for r in answer["body"]["resources"] if r["name"] in served}
        assert served.keys() <= real.keys(), (
            f"{step_id}: 1.20 does not serve {served.keys() - real.keys()}"
        )
        for name in served:  # a real hash the lab cannot compute; present where 1.20 has one
            assert ("storageVersionHash" in served[name]) == ("storageVersionHash" in real[name])
            served[name].pop("storageVersionHash", None)
            real[name].pop("storageVersionHash", None)
        assert scenarios.without(served, fields) == scenarios.without(real, fields), step_id


def test_the_openapi_of_a_custom_resource_is_built_as_the_real_server_builds_it():
    recorded = fixture("openapi-nad")
    paths, definitions = crd_openapi(NAD_TYPE)
    assert paths == recorded["paths"]
    assert definitions == recorded["definitions"]
