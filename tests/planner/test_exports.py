"""The export's YAML writer: what it writes loads back as the document, whatever the values."""

import yaml

from planner import exports

ODD = ["plain", "", "yes", "no", "null", "~", "1e3", "0x10", "a: b", "- x", "# c", "é ü 日本", "😀",
       "line\nbreak", "tab\there", "quote \" and ' both", "back\\slash", "\u0001", "{x}", "[y]",
       "&anchor", "*alias", "!tag", "%dir", "@at", "`tick", "  padded  ", "10.0.0.1", "08"]  # fmt: skip


def test_the_yaml_loads_back_as_the_document_whatever_the_strings():
    nodes = [
        {
            "name": text or "n",
            "gpu_count": 8,
            "labels": {text or "k": text, "rack": "r1"},
            "nics": [
                {"rail": 0, "pf_name": text, "numa_node": None, "vf_count": 8, "host_ip": None},
                {"rail": 1, "pf_name": "ens1", "numa_node": 1, "vf_count": 1, "host_ip": "::1"},
            ],
        }
        for text in ODD
    ]
    nodes.append({"name": "no-nics", "gpu_count": 0, "labels": {}, "nics": []})
    document = {
        "apiVersion": "railstudio.io/v1",
        "kind": "RailStudioPlan",
        "plan": {"name": "odd: yes", "cni_options": {"a": [1, "b"]}, "mtu": None},
        "rails": [{"index": 0, "subnet": "10.0.0.0/16", "exclusions": []}],
        "nodes": nodes,
    }
    assert yaml.safe_load(exports.dump_yaml(document)) == document
    assert yaml.safe_load(exports.dump_yaml({**document, "nodes": []})) == {
        **document,
        "nodes": [],
    }
