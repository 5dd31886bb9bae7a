"""The pure comparison: live objects against the server's dry-run answers."""

import json

from clusters import diffing

LIVE = {
    "apiVersion": "k8s.cni.cncf.io/v1",
    "kind": "NetworkAttachmentDefinition",
    "metadata": {
        "name": "sriov-rail-0",
        "namespace": "ai-training",
        "resourceVersion": "7",
        "generation": 1,
        "labels": {"team": "infra"},  # another manager's label: kept by an apply of ours
        "managedFields": [{"manager": "railstudio", "operation": "Apply"}],
    },
    "spec": {"config": json.dumps({"type": "sriov", "ipam": {"range": "10.50.0.0/16"}})},
}


def merged(**changes) -> dict:
    result = json.loads(json.dumps(LIVE))
    result["metadata"].update(generation=2, managedFields=[{"manager": "railstudio"}])
    result["spec"].update(changes)
    return result


def compare(result: dict) -> diffing.Change:
    desired = {**LIVE, "metadata": {"name": "sriov-rail-0", "namespace": "ai-training"}}
    key = diffing.key_of(desired)
    previews = {key: diffing.Preview(result)}
    return diffing.compare([desired], {key: LIVE}, previews, [], prune=False)[0]


def test_bookkeeping_is_not_a_change():
    assert compare(merged()).action == "unchanged"


def test_json_in_a_string_is_compared_as_data():
    pretty = json.dumps(json.loads(LIVE["spec"]["config"]), indent=2, sort_keys=True)
    assert compare(merged(config=pretty)).action == "unchanged"
    changed = compare(merged(config=pretty.replace("10.50.0.0/16", "10.60.0.0/16")))
    assert changed.action == "change"
    assert "--- live/NetworkAttachmentDefinition/sriov-rail-0" in changed.diff
    assert "10.60.0.0/16" in changed.diff and "resourceVersion" not in changed.diff


def test_a_refused_dry_run_is_a_change_that_cannot_be_applied():
    desired = {**LIVE, "metadata": {"name": "sriov-rail-0", "namespace": "ai-training"}}
    key = diffing.key_of(desired)
    previews = {key: diffing.Preview(error='spec.config: Invalid value: "object"')}
    change = diffing.compare([desired], {key: LIVE}, previews, [], prune=False)[0]
    assert (change.action, change.error) == ("change", 'spec.config: Invalid value: "object"')
    created = diffing.compare([desired], {key: None}, previews, [], prune=False)[0]
    assert created.action == "create" and created.error


def test_strings_that_only_look_like_json_stay_strings():
    assert diffing.as_data({"a": "[not json", "b": "{}", "c": "text"}) == {
        "a": "[not json",
        "b": {},
        "c": "text",
    }
