"""docker-compose.yml validates offline against the Compose specification (no Docker here)."""

import re
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


APP_SERVICES = ("migrate", "web", "worker", "beat")


def test_it_refuses_to_start_without_the_secret_and_the_credentials_key():
    """`${VAR:?message}`: Compose stops with the message when VAR is unset or empty, so no
    service can generate a key of its own (each would, and none could read the others')."""
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for name in APP_SERVICES:
        environment = services[name]["environment"]
        for variable in ("SECRET_KEY", "RAILSTUDIO_CREDENTIALS_KEY"):
            assert re.fullmatch(rf"\$\{{{variable}:\?.+\}}", environment[variable]), (
                name,
                variable,
            )


def test_var_is_on_a_volume_every_app_service_shares():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for name in APP_SERVICES:
        mounts = compose["services"][name]["volumes"]
        assert "railstudio-var:/app/var" in mounts, name
    assert "railstudio-var" in compose["volumes"]


def test_the_image_runs_as_a_non_root_user_and_the_readme_says_how_to_make_the_first_admin():
    users = re.findall(r"^USER\s+(\S+)", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert users and users[-1] not in ("root", "0"), users
    readme = (ROOT / "README.md").read_text()
    assert "docker compose run --rm web python manage.py createsuperuser" in readme
