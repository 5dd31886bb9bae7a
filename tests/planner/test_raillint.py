import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from planner import manifests, yamlio
from planner.seed import seed_plan_spec

TYPO_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: training-worker-0
  namespace: ai-training
  annotations:
    k8s.v1.cni.cncf.io/networks: '[{"name": "sriov-rail0", "interface": "net1"}]'
spec:
  containers:
  - name: trainer
    image: nvcr.io/nvidia/pytorch:24.04-py3
    resources:
      limits:
        nvidia.com/rail0_vf: 1
    securityContext:
      capabilities:
        add: [IPC_LOCK, SYS_NICE]
"""


def lint(*args) -> tuple[str, int]:
    out = io.StringIO()
    try:
        call_command("raillint", *args, stdout=out)
    except CommandError as error:
        return out.getvalue() + str(error), error.returncode
    return out.getvalue(), 0


@pytest.fixture
def files(tmp_path) -> dict[str, Path]:
    plan = seed_plan_spec()
    paths = {
        "nads": tmp_path / "nads.yaml",
        "pod": tmp_path / "pod.yaml",
        "typo": tmp_path / "typo.yaml",
        "broken": tmp_path / "broken.yaml",
    }
    paths["nads"].write_text(yamlio.dump_all(manifests.render_nads(plan)))
    paths["pod"].write_text(yamlio.dump_all(manifests.render_pod(plan)))
    paths["typo"].write_text(TYPO_POD)
    paths["broken"].write_text("apiVersion: v1\nkind: Pod\n---\nkind: [\n")
    return paths


@pytest.mark.django_db
def test_clean_files_exit_zero_with_only_the_dscp_reminder(files):
    output, code = lint(str(files["nads"]), str(files["pod"]))
    assert code == 0
    assert "ROCE_DSCP_TRUST" in output and "ERROR" not in output
    assert output.strip().endswith("1 info(s)")


@pytest.mark.django_db
def test_a_typo_is_an_error_with_did_you_mean_and_exit_1(files):
    output, code = lint(str(files["nads"]), str(files["typo"]))
    assert code == 1
    assert f"ERROR    NAD_NOT_FOUND  {files['typo']}: Pod ai-training/training-worker-0" in output
    assert 'Did you mean "sriov-rail-0"?' in output


@pytest.mark.django_db
def test_json_format(files):
    output, code = lint(str(files["nads"]), str(files["typo"]), "--format", "json")
    assert code == 1
    document = json.loads(output[: output.rindex("}") + 1])
    item = next(entry for entry in document["findings"] if entry["code"] == "NAD_NOT_FOUND")
    assert item["severity"] == "error" and item["file"] == str(files["typo"])
    assert document["counts"]["error"] >= 1


@pytest.mark.django_db
def test_unreadable_yaml_exits_2_naming_file_document_and_line(files):
    output, code = lint(str(files["broken"]))
    assert code == 2
    assert f"{files['broken']}: document 2, line 5: invalid YAML" in output
    assert lint(str(files["broken"]) + ".missing")[1] == 2


@pytest.mark.django_db
def test_cluster_facts_file(files, tmp_path):
    facts = tmp_path / "facts.json"
    facts.write_text(json.dumps({"nodes": [{"name": "n", "allocatable": {"nvidia.com/gpu": "8"}}]}))
    output, code = lint(str(files["nads"]), str(files["pod"]), "--facts", str(facts))
    assert code == 1 and "RESOURCE_NOT_ADVERTISED" in output
    facts.write_text('{"nodez": []}')
    assert lint(str(files["pod"]), "--facts", str(facts))[1] == 2


@pytest.mark.django_db
def test_the_command_line_exit_status(files):
    command = [sys.executable, "manage.py", "raillint", str(files["nads"]), str(files["typo"])]
    result = subprocess.run(command, capture_output=True, text=True, cwd=Path(__file__).parents[2])
    assert result.returncode == 1
    assert "NAD_NOT_FOUND" in result.stdout


@pytest.mark.django_db
def test_with_a_plan_its_nads_count_as_existing(files, seed_plan):
    output, code = lint(str(files["pod"]), "--plan", seed_plan.slug)
    assert code == 0, output
    assert "NAD_UNVERIFIED" not in output and "NAD_NOT_FOUND" not in output
    # The plan's NIC inventory puts rails 0-3 and 4-7 on different sockets.
    assert "NUMA_SPLIT" in output
    output, code = lint(str(files["typo"]), "--plan", seed_plan.slug)
    assert code == 1 and 'Did you mean "sriov-rail-0"?' in output


@pytest.mark.django_db
def test_an_unknown_plan_exits_2(files):
    output, code = lint(str(files["pod"]), "--plan", "no-such-plan")
    assert code == 2 and "no-such-plan" in output


@pytest.mark.django_db
def test_stdin(files, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(files["typo"].read_text()))
    output, code = lint("-", str(files["nads"]))
    assert code == 1 and "NAD_NOT_FOUND  -: Pod ai-training/training-worker-0" in output
