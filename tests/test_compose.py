"""docker-compose.yml validates offline against the Compose specification (no Docker here)."""

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_compose_file_matches_the_compose_spec():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(ROOT / "docker-compose.yml"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_long_running_service_has_a_health_check():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert {"web", "worker", "beat", "redis", "postgres"} <= services.keys()
    for name in ("web", "worker", "beat", "redis", "postgres"):
        assert "healthcheck" in services[name], name
    assert "gunicorn" in services["web"]["command"]
