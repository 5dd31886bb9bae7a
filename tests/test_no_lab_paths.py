"""The product never knows it talks to a lab: nothing outside labsim/ (its tests and docs) and
the commands that start a lab references the lab's admin endpoint, imports labsim, or calls the
Kubernetes client's private methods."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ADMIN = "/labsim" + "/admin"  # split, so this file does not name it
LAB_COMMANDS = {
    "clusters/management/commands/labcluster.py",
    "railstudio/management/commands/rundemo.py",
}
ALLOWED = ("labsim/", "tests/labsim/", "docs/labsim.md", *LAB_COMMANDS)
SKIPPED_DIRS = {
    ".git",
    ".venv",
    "var",
    "node_modules",
    "__pycache__",
    ".ruff_cache",
    ".pytest_cache",
    ".hypothesis",
    "htmlcov",
    "build",
    "dist",
}
TEXT = {".py", ".md", ".html", ".js", ".css", ".txt", ".yaml", ".yml", ".toml", ".cfg", ".json", ""}
PRODUCT = ("clusters/", "planner/", "railstudio/", "templates/")


def files():
    for path in ROOT.rglob("*"):
        relative = path.relative_to(ROOT)
        if any(part in SKIPPED_DIRS for part in relative.parts) or not path.is_file():
            continue
        if path.suffix in TEXT:
            yield relative.as_posix(), path


def test_nothing_outside_the_lab_references_its_admin_endpoint():
    offenders = [
        name
        for name, path in files()
        if not name.startswith(ALLOWED) and ADMIN in path.read_text(errors="replace")
    ]
    assert offenders == []


def test_the_product_uses_no_lab_only_or_private_client_paths():
    private = re.compile(
        r"\._rest\(|lab_pod_devices|collect\([^)]*lab=|^\s*(from|import) labsim", re.M
    )
    offenders = []
    for name, path in files():
        if not name.startswith(PRODUCT) or name in LAB_COMMANDS or name == "clusters/kube.py":
            continue
        for match in private.finditer(path.read_text(errors="replace")):
            offenders.append(f"{name}: {match.group(0).strip()}")
    assert offenders == []


def test_the_check_would_catch_an_offender(tmp_path):
    """The patterns match what they are meant to (so an empty result means something)."""
    text = "kube._rest('GET', '" + ADMIN + "/faults')\nfrom labsim.testing import attach\n"
    private = re.compile(r"\._rest\(|^\s*(from|import) labsim", re.M)
    assert ADMIN in text and len(private.findall(text)) == 2
