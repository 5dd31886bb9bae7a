"""Record what a real kube-apiserver answers to the scenarios in scenarios.py, as the fixtures in
tests/labsim/fixtures/realk8s/, and the /openapi/v2 document the lab serves (labsim/data/).

Not run in CI (CI never builds a real API server). Run it on a freshly started server built with
../shared/tools/realk8s/ (NAD CRD installed):

    REALK8S=/path/to/realk8s ../shared/tools/realk8s/start.sh
    .venv/bin/python tests/labsim/realk8s/record.py --kubeconfig $REALK8S/real.kubeconfig

Each scenario uses a namespace of its own (rs-<scenario>); the script refuses to run when one
already exists (a deleted namespace stays Terminating on a server without a controller manager:
wipe the server's etcd-data and start it again).
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from labsim.openapi import crd_template  # noqa: E402
from labsim.resources import NAD_TYPE  # noqa: E402
from tests.labsim.realk8s import scenarios  # noqa: E402
from tests.labsim.realk8s.openapi_subset import subset  # noqa: E402

FIXTURES = ROOT / "tests" / "labsim" / "fixtures" / "realk8s"
LAB_OPENAPI = ROOT / "labsim" / "data" / "openapi-v2.json"
LAB_COLUMNS = ROOT / "labsim" / "data" / "table-columns.json"
# Which table of the lists scenario gives each resource's columns (custom: any custom resource).
TABLES = {
    "events": "table-events",
    "podtemplates": "table-templates",
    "namespaces": "table-namespaces",
    "services": "table-services",
    "configmaps": "table-configmaps",
    "pods": "table-pods",
    "apps/deployments": "table-deployments",
    "apps/daemonsets": "table-daemonsets",
    "serviceaccounts": "table-serviceaccounts",
    "nodes": "table-nodes",
    "custom": "table-nads",
}


def server_from_kubeconfig(path: Path) -> scenarios.Server:
    config = yaml.safe_load(path.read_text())
    cluster = config["clusters"][0]["cluster"]
    token = config["users"][0]["user"]["token"]
    ca_path = None
    if cluster.get("certificate-authority-data"):
        with tempfile.NamedTemporaryFile("wb", suffix=".crt", delete=False) as handle:
            handle.write(base64.b64decode(cluster["certificate-authority-data"]))
        ca_path = handle.name
    return scenarios.Server(cluster["server"], token, ca_path)


def get(server: scenarios.Server, path: str) -> dict:
    answer = server.send(scenarios.Step("get", "GET", path), {})
    if answer["status"] != 200:
        raise SystemExit(f"GET {path}: {answer['status']} {answer['body']}")
    return answer["body"]


def write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, sort_keys=False, ensure_ascii=False) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", type=Path, required=True)
    parser.add_argument("--scenario", action="append", help="only these (default: all)")
    parser.add_argument("--openapi-only", action="store_true", help="record no scenario")
    args = parser.parse_args()
    server = server_from_kubeconfig(args.kubeconfig)
    version = get(server, "/version")
    names = [] if args.openapi_only else args.scenario or list(scenarios.SCENARIOS)
    existing = {ns["metadata"]["name"] for ns in get(server, "/api/v1/namespaces")["items"]}
    taken = sorted({f"rs-{name}" for name in names} & existing)
    if taken:
        raise SystemExit(f"namespaces {', '.join(taken)} exist: start from a fresh server")
    for name in names:
        steps = scenarios.steps(name)
        answers = scenarios.run(server, steps)
        write_json(
            FIXTURES / f"{name}.json",
            {
                "server": version["gitVersion"],
                "recorded_by": "tests/labsim/realk8s/record.py",
                "differences": scenarios.DIFFERENCES.get(name, {}),
                "steps": [step.to_dict() for step in steps],
                "answers": answers,
            },
        )
        print(f"{name}: {len(steps)} steps")
        if name == "lists":
            columns = {
                key: answers[step]["body"]["columnDefinitions"] for key, step in TABLES.items()
            }
            write_json(LAB_COLUMNS, columns)
    document = get(server, "/openapi/v2")
    served, nad_part = subset(document)
    write_json(FIXTURES / "openapi-nad.json", {"server": version["gitVersion"], **nad_part})
    LAB_OPENAPI.parent.mkdir(parents=True, exist_ok=True)
    # One path or definition per line: small diffs when it is recorded again.
    lines = ['{"swagger": "2.0", "info": ' + json.dumps(served["info"]) + ","]
    for section in ("paths", "definitions"):
        entries = served[section]
        lines.append(f'"{section}": {{')
        for index, (key, value) in enumerate(entries.items()):
            comma = "," if index < len(entries) - 1 else ""
            lines.append(f"{json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}{comma}")
        lines.append("}," if section == "paths" else "}")
    template = crd_template(NAD_TYPE, nad_part["paths"], nad_part["definitions"])
    lines[-1] += ","
    lines.append('"x-crd-template": ' + json.dumps(template, ensure_ascii=False))
    lines.append("}")
    LAB_OPENAPI.write_text("\n".join(lines) + "\n")
    json.loads(LAB_OPENAPI.read_text())
    print(f"openapi: {len(served['paths'])} paths, {len(served['definitions'])} definitions")


if __name__ == "__main__":
    main()
