"""schemathesis over the whole API, against a live server with the lab cluster registered.

Every operation, every default check, a fixed seed and a bounded number of examples per
operation; the run must find no failure. Its figures (operations, cases, failures) are printed,
and the JSON report is kept under /tmp for a person to read when it does fail.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from rest_framework.authtoken.models import Token

from clusters import snapshots
from clusters.models import Cluster
from planner import documents
from planner.seed import seed_plan_spec
from railstudio.roles import ensure_roles
from tests.helpers import deploy_seed_scene

pytestmark = pytest.mark.django_db(transaction=True)

SEED = 20260101
# Within the suite: examples, fuzzing (positive and negative cases) and stateful sequences,
# MAX_EXAMPLES cases of each operation a phase. The coverage phase (every boundary of every
# field: ~5,000 cases, ~7 minutes here) passes too; run it with
# RAILSTUDIO_SCHEMATHESIS_PHASES=examples,coverage,fuzzing,stateful (and a longer
# RAILSTUDIO_SCHEMATHESIS_TIMEOUT, e.g. 1500).
PHASES = os.environ.get("RAILSTUDIO_SCHEMATHESIS_PHASES", "examples,fuzzing,stateful")
MAX_EXAMPLES = int(os.environ.get("RAILSTUDIO_SCHEMATHESIS_EXAMPLES", "8"))
RUN_TIMEOUT = int(os.environ.get("RAILSTUDIO_SCHEMATHESIS_TIMEOUT", "600"))
REPORT_DIR = Path("/tmp/railstudio-schemathesis")
CONFIG = Path(__file__).with_name("schemathesis.toml")
HOOKS = Path(__file__).with_name("schemathesis_hooks.py")
NAMESPACE, POD = "ai-training", "training-worker-0"
PINNED_SHARE = 0.8  # of the cases of an operation on a plan, rail or cluster: the real one


def _schemathesis() -> str:
    return str(Path(sys.executable).parent / "schemathesis")


@pytest.fixture
def estate(lab, django_user_model):
    """An operator with a token, the seed plan bound to the lab, the plan's NADs and training
    pod in the lab, and a first pod snapshot."""
    ensure_roles()  # the live server's flush removed the groups post_migrate made
    user = django_user_model.objects.create_user(username="fuzz", password="pw-fuzz")
    user.groups.add(Group.objects.get(name="operator"))
    plan = documents.import_plan(documents.document_from_spec(seed_plan_spec()))
    cluster = Cluster(name="lab", server=lab.url, is_lab=True, reachable=True)
    cluster.set_kubeconfig(lab.kubeconfig_path.read_text())
    cluster.save()
    cluster.plans.add(plan)
    deploy_seed_scene(lab, plan, NAMESPACE)
    snapshots.refresh(cluster)
    return {
        "token": Token.objects.create(user=user).key,
        "plan": plan.slug,
        "cluster": cluster.pk,
        "rail": plan.rails.get(index=0).pk,
    }


def _config(estate: dict, path: Path) -> Path:
    """The static configuration plus the ids of the objects made here: most cases of every
    operation but the deletions (which would take the objects away from the rest of the run)
    use them; the rest are generated, so 404s are exercised too."""
    values = {
        "plan": estate["plan"],
        "rail": estate["rail"],
        "cluster": estate["cluster"],
        "namespace": NAMESPACE,
        "pod": POD,
    }
    pinned = [
        (r"^/api/plans/\\{id\\}/", {"path.id": "plan"}),
        (r"^/api/plans/\\{plan\\}/", {"path.plan": "plan"}),
        (r"^/api/plans/\\{key\\}/", {"path.key": "plan"}),
        (r"^/api/rails/\\{id\\}/", {"path.id": "rail"}),
        (
            r"^/api/clusters/\\{id\\}/",
            {"path.id": "cluster", "path.namespace": "namespace", "path.pod": "pod"},
        ),
    ]
    blocks = [CONFIG.read_text().replace('"schemathesis_hooks.py"', f'"{HOOKS}"')]
    for name, value in values.items():
        blocks.append(f"[dictionaries.{name}]\nvalues = [{json.dumps(value)}]\n")
    for regex, parameters in pinned:
        bound = ", ".join(
            f'"{key}" = {{ dictionary = "{name}", probability = {PINNED_SHARE} }}'
            for key, name in parameters.items()
        )
        blocks.append(
            f'[[operations]]\ninclude-path-regex = "{regex}"\nexclude-method = "DELETE"\n'
            f"parameters = {{ {bound} }}\n"
        )
    path.write_text("\n".join(blocks))
    return path


@pytest.mark.timeout(RUN_TIMEOUT + 60)
def test_schemathesis_finds_no_failure(live_server, estate, celery_worker_thread, tmp_path):
    REPORT_DIR.mkdir(parents=True, exist_ok=True)
    report = REPORT_DIR / "report.json"
    command = [
        _schemathesis(),
        "run",
        f"{live_server.url}/api/schema/",
        "--header",
        f"Authorization: Token {estate['token']}",
        "--seed",
        str(SEED),
        "--max-examples",
        str(MAX_EXAMPLES),
        "--workers",
        "1",
        "--request-timeout",
        "60",
        "--phases",
        PHASES,
        "--report",
        "json",
        "--report-json-path",
        str(report),
        "--no-color",
    ]
    output = REPORT_DIR / "output.txt"
    with output.open("w") as sink:
        result = subprocess.run(
            [command[0], "--config-file", str(_config(estate, tmp_path / "st.toml")), *command[1:]],
            stdout=sink,
            stderr=subprocess.STDOUT,
            timeout=RUN_TIMEOUT,
            env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
            cwd=tmp_path,
        )
    text = output.read_text()
    print(text[-3000:])
    assert result.returncode == 0, text[-20000:]
    assert json.loads(report.read_text())
