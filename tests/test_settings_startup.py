"""Importing the settings writes nothing; a process that starts (django.setup: web, worker,
manage.py) prepares var/: its folder, the filesystem broker's folders and the generated secret
key. Bad numbers in the environment are refused naming the variable."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UNSET = ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "RAILSTUDIO_STATIC_ROOT", "DEBUG")


def _python(code: str, var: Path, **extra) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if key not in UNSET}
    environment.update(
        RAILSTUDIO_VAR_DIR=str(var), DJANGO_SETTINGS_MODULE="railstudio.settings", **extra
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_importing_the_settings_writes_nothing(tmp_path):
    var = tmp_path / "var"
    result = _python("import railstudio.settings as s; print(repr(s.SECRET_KEY))", var)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "''"
    assert not var.exists()


def test_starting_prepares_var_and_the_key_once(tmp_path):
    var = tmp_path / "var"
    code = "import django; django.setup(); from django.conf import settings; print(settings.SECRET_KEY)"
    first = _python(code, var)
    assert first.returncode == 0, first.stderr
    key = (var / "secret_key").read_text()
    assert first.stdout.strip() == key and len(key) > 40
    assert oct((var / "secret_key").stat().st_mode & 0o777) == "0o600"
    assert all((var / "broker" / sub).is_dir() for sub in ("in", "processed", "control"))
    assert (var / "staticfiles").is_dir()
    second = _python(code, var)
    assert second.stdout.strip() == key  # read again, not replaced


def test_a_key_from_the_environment_writes_no_key_file(tmp_path):
    var = tmp_path / "var"
    code = "import django; django.setup(); from django.conf import settings; print(settings.SECRET_KEY)"
    result = _python(code, var, SECRET_KEY="from-the-environment")
    assert result.stdout.strip() == "from-the-environment"
    assert not (var / "secret_key").exists()


def test_a_bad_number_is_refused_naming_the_variable(tmp_path):
    result = _python("import railstudio.settings", tmp_path / "var", VALIDATION_MAX_NODES="many")
    assert result.returncode != 0
    assert "VALIDATION_MAX_NODES must be a whole number >= 1, not 'many'" in result.stderr


def test_bad_seconds_and_connection_settings_are_refused_naming_the_variable(tmp_path):
    for name, value, message in (
        ("DB_CONN_MAX_AGE", "-1", "DB_CONN_MAX_AGE must be a whole number >= 0, not '-1'"),
        ("ROLLOUT_STALE_SECONDS", "soon", "ROLLOUT_STALE_SECONDS must be a number >= 1, not"),
        ("DRIFT_CHECK_SECONDS", "inf", "DRIFT_CHECK_SECONDS must be a number >= 1, not 'inf'"),
        ("DB_PREPARE_THRESHOLD", "x", "DB_PREPARE_THRESHOLD must be a whole number >= 0"),
    ):
        result = _python(
            "import railstudio.settings",
            tmp_path / "var",
            DATABASE_URL="postgres://nobody@127.0.0.1:1/none",
            **{name: value},
        )
        assert result.returncode != 0, name
        assert message in result.stderr, (name, result.stderr[-300:])


def test_prepared_statements_follow_db_prepare_threshold(tmp_path):
    code = (
        "import railstudio.settings as s; "
        "print(s.DATABASES['default']['OPTIONS'].get('prepare_threshold', 'unset'))"
    )
    url = {"DATABASE_URL": "postgres://nobody@127.0.0.1:1/none"}
    assert _python(code, tmp_path / "var", **url).stdout.strip() == "1"
    assert (
        _python(code, tmp_path / "var", DB_PREPARE_THRESHOLD="off", **url).stdout.strip() == "None"
    )
    assert _python(code, tmp_path / "var", DB_PREPARE_THRESHOLD="5", **url).stdout.strip() == "5"
