"""Rail Studio against a real kube-apiserver, through its REST API only (not run in CI: CI never
builds a real API server). Start one with ../shared/tools/realk8s/ (fresh etcd-data, NAD CRD
installed), then:

    .venv/bin/python tests/e2e/realk8s_run.py --kubeconfig $REALK8S/real.kubeconfig

It starts Rail Studio (runserver + a Celery worker, SQLite and a filesystem broker in a scratch
folder), imports the seed plan, registers the cluster, rolls out twice (the second must change
and write nothing), changes the plan, rolls back, and checks drift after a NAD's JSON is
rewritten (none) and after its range is changed (found). It prints what it saw and exits 1 on
the first expectation that fails.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.labsim.realk8s.record import server_from_kubeconfig  # noqa: E402
from tests.labsim.realk8s.scenarios import Step  # noqa: E402

NS = "ai-training"
NADS = "/apis/k8s.cni.cncf.io/v1/namespaces/ai-training/network-attachment-definitions"


class Failed(Exception):
    pass


def expect(condition: bool, what: str) -> None:
    print(("  ok   " if condition else "  FAIL ") + what, flush=True)
    if not condition:
        raise Failed(what)


class Api:
    def __init__(self, base: str, token: str):
        self.base = base
        self.token = token

    def call(self, method: str, path: str, body=None) -> tuple[int, object]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base + path,
            data=data,
            method=method,
            headers={"Authorization": f"Token {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                raw, status = response.read(), response.status
        except urllib.error.HTTPError as error:
            raw, status = error.read(), error.code
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode()

    def get(self, path: str):
        return self.call("GET", path)[1]

    def wait(self, path: str, done, timeout: float = 120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            body = self.get(path)
            if done(body):
                return body
            time.sleep(0.5)
        raise Failed(f"timed out waiting on {path}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.3)
    raise Failed("the web server did not start")


def manage(env: dict, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)}: {done.stderr}")
    return done.stdout


SETUP = """
import json
from django.contrib.auth.models import Group, User
from rest_framework.authtoken.models import Token
from planner import documents
from planner.seed import seed_plan_spec
user = User.objects.create_user("ops", password="ops-password")
user.groups.add(Group.objects.get(name="operator"))
print(json.dumps({"token": Token.objects.create(user=user).key,
                  "seed": documents.document_from_spec(seed_plan_spec())}))
"""


def start(env: dict, folder: Path, port: int) -> list[subprocess.Popen]:
    log = (folder / "processes.log").open("w")
    web = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "railstudio",
            "worker",
            "--pool=solo",
            "-l",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return [web, worker]


def live_versions(real) -> dict[str, str]:
    nads = real.send(Step("nads", "GET", NADS), {})["body"]["items"]
    versions = {f"nad/{n['metadata']['name']}": n["metadata"]["resourceVersion"] for n in nads}
    templates = real.send(Step("t", "GET", f"/api/v1/namespaces/{NS}/podtemplates"), {})
    for item in templates["body"]["items"]:
        versions[f"podtemplate/{item['metadata']['name']}"] = item["metadata"]["resourceVersion"]
    namespace = real.send(Step("ns", "GET", f"/api/v1/namespaces/{NS}"), {})["body"]
    versions["namespace"] = namespace["metadata"]["resourceVersion"]
    return versions


def patch_config(real, name: str, config: str) -> None:
    step = Step(
        "edit",
        "PATCH",
        f"{NADS}/{name}",
        [("fieldManager", "kubectl-edit")],
        {"spec": {"config": config}},
        "application/merge-patch+json",
    )
    answer = real.send(step, {})
    expect(answer["status"] == 200, f"kubectl-edit style patch of {name}: {answer['status']}")


def run(api: Api, real, kubeconfig: str, seed: dict) -> None:
    status, plan = api.call("POST", "/api/plans/import/", seed)
    expect(status == 201, f"seed plan imported ({status})")
    status, cluster = api.call(
        "POST", "/api/clusters/", {"name": "real", "kubeconfig": kubeconfig, "plans": ["training"]}
    )
    expect(status == 201, f"cluster registered ({status}: {cluster if status != 201 else ''})")
    cid = cluster["id"]
    api.call("POST", f"/api/clusters/{cid}/test-connection/")
    tested = api.wait(f"/api/clusters/{cid}/", lambda c: c["tested_at"])
    print(f"  connection: {tested['server_version']}, {tested['node_count']} nodes, "
          f"multus={tested['multus_installed']}, error={tested['last_error']!r}")  # fmt: skip
    expect(tested["reachable"] and tested["multus_installed"], "reachable, NAD CRD installed")

    def roll(body=None, path=f"/api/clusters/{cid}/rollouts/") -> dict:
        status, started = api.call("POST", path, body if body is not None else {"plan": "training"})
        expect(status == 202, f"rollout accepted ({status}: {started if status != 202 else ''})")
        record = api.wait(
            f"/api/rollouts/{started['id']}/", lambda r: r["state"] not in ("pending", "running")
        )
        actions = {}
        for item in record["objects"]:
            actions[item["action"]] = actions.get(item["action"], 0) + 1
        print(f"  rollout #{record['id']} rev {record['revision']}: {record['state']} - "
              f"{record['message']} {actions}")  # fmt: skip
        return record

    first = roll()
    expect(first["state"] == "succeeded", "first rollout succeeded")
    codes = sorted({f["code"] for f in first["findings"]})
    print(f"  preflight findings: {codes}")
    expect("RESOURCES_UNVERIFIED" in codes, "preflight says VF resources could not be checked")
    before = live_versions(real)
    expect(len(before) == 10, f"8 NADs, the PodTemplate and the namespace live ({len(before)})")
    for _ in range(2):
        again = roll()
        expect({i["action"] for i in again["objects"]} == {"unchanged"}, "every object unchanged")
        expect(again["message"].startswith("No changes"), "the rollout says no changes")
        expect(live_versions(real) == before, "nothing written: resourceVersions kept")

    rails = api.get("/api/rails/?plan=training&index=5")["results"]
    status, _ = api.call(
        "POST",
        "/api/exclusions/",
        {"rail": rails[0]["id"], "cidr": "10.55.1.0/24", "purpose": "reserved"},
    )
    expect(status == 201, "exclusion 10.55.1.0/24 added to rail 5")
    changed = roll()
    names = [i["name"] for i in changed["objects"] if i["action"] == "change"]
    expect(names == ["sriov-rail-5"] and changed["state"] == "succeeded", f"one change: {names}")
    after_change = live_versions(real)
    expect(
        [k for k in before if before[k] != after_change[k]] == ["nad/sriov-rail-5"],
        "only sriov-rail-5 written",
    )

    back = roll({}, f"/api/rollouts/{first['id']}/rollback/")
    names = [i["name"] for i in back["objects"] if i["action"] != "unchanged"]
    expect(back["state"] == "succeeded" and names == ["sriov-rail-5"], f"rollback: {names}")
    config = real.send(Step("n", "GET", f"{NADS}/sriov-rail-5"), {})["body"]["spec"]["config"]
    expect("10.55.1.0/24" not in config, "rail 5's exclusion rolled back on the cluster")

    def drift() -> dict:
        before_check = api.get(f"/api/clusters/{cid}/")["drift_checked_at"]
        status, _ = api.call("POST", f"/api/clusters/{cid}/drift-check/")
        expect(status == 202, "drift check accepted")
        return api.wait(
            f"/api/clusters/{cid}/", lambda c: c["drift_checked_at"] not in (None, before_check)
        )

    expect(drift()["drifted"] is False, "no drift after the rollback")
    live = real.send(Step("n", "GET", f"{NADS}/sriov-rail-1"), {})["body"]["spec"]["config"]
    compact = json.dumps(json.loads(live), separators=(",", ":"), sort_keys=True)
    patch_config(real, "sriov-rail-1", compact)
    checked = drift()
    expect(checked["drifted"] is False, "a NAD's JSON rewritten (compact, same data): no drift")
    data = json.loads(compact)
    data["ipam"]["range"] = "10.61.0.0/16"
    patch_config(real, "sriov-rail-1", json.dumps(data))
    checked = drift()
    print("  drift diff:\n    " + checked["drift_diff"].replace("\n", "\n    "))
    expect(
        checked["drifted"] and "sriov-rail-1: changed" in checked["drift_diff"],
        "a changed range: drift found",
    )
    repaired = roll()  # the plan's current revision: rail 1 repaired, rail 5's exclusion again
    names = [i["name"] for i in repaired["objects"] if i["action"] == "change"]
    expect(names == ["sriov-rail-1", "sriov-rail-5"], f"the next rollout repairs it: {names}")
    expect(drift()["drifted"] is False, "no drift after the repair")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", type=Path, required=True)
    args = parser.parse_args()
    kubeconfig = args.kubeconfig.read_text()
    real = server_from_kubeconfig(args.kubeconfig)
    folder = Path(tempfile.mkdtemp(prefix="railstudio-realk8s-"))
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(RAILSTUDIO_VAR_DIR=str(folder), DJANGO_SETTINGS_MODULE="railstudio.settings")
    manage(env, "migrate", "--noinput")
    setup = json.loads(manage(env, "shell", "-c", SETUP).strip().splitlines()[-1])
    port = free_port()
    processes = start(env, folder, port)
    print(f"Rail Studio on 127.0.0.1:{port} (scratch folder {folder})")
    try:
        wait_for_port(port, processes[0])
        run(Api(f"http://127.0.0.1:{port}", setup["token"]), real, kubeconfig, setup["seed"])
        print("all expectations met")
        return 0
    except Failed:
        print(f"see {folder / 'processes.log'}")
        return 1
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    sys.exit(main())
