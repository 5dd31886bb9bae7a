"""Web hardening: login throttling, HTTPS settings that `check --deploy` accepts, a CSP header,
the schema and docs behind a login, and a malformed credentials key refused at start."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import override_settings

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.django_db


def _manage(*args, **env) -> subprocess.CompletedProcess:
    skip = ("DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE")  # the test runner's, not a deployment's
    environment = {key: value for key, value in os.environ.items() if key not in skip}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_wrong_passwords_lock_the_username_out(client, viewer, settings):
    limit = settings.AXES_FAILURE_LIMIT
    for _ in range(limit - 1):
        wrong = client.post("/accounts/login/", {"username": "vera", "password": "nope"})
        assert wrong.status_code == 200 and b"Please enter a correct" in wrong.content
    locked = client.post("/accounts/login/", {"username": "vera", "password": "nope"})
    assert locked.status_code == 429 and b"Too many wrong passwords" in locked.content
    # Now even the right password is refused, for this username from this address...
    right = client.post("/accounts/login/", {"username": "vera", "password": "pw-vera"})
    assert right.status_code == 429 and "_auth_user_id" not in client.session
    # ...while another user still logs in.
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user(username="other", password="pw-other")
    other = client.post("/accounts/login/", {"username": "other", "password": "pw-other"})
    assert other.status_code == 302


def test_a_good_login_resets_the_count(client, viewer, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        client.post("/accounts/login/", {"username": "vera", "password": "nope"})
    assert (
        client.post("/accounts/login/", {"username": "vera", "password": "pw-vera"}).status_code
        == 302
    )
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        client.post("/accounts/login/", {"username": "vera", "password": "nope"})
    assert (
        client.post("/accounts/login/", {"username": "vera", "password": "pw-vera"}).status_code
        == 302
    )


def test_check_deploy_is_clean_under_railstudio_https():
    secret = "x" * 20 + "-a-long-random-looking-secret-key-for-the-check-" + "y" * 20
    hardened = _manage(
        "check", "--deploy", "--fail-level", "WARNING", RAILSTUDIO_HTTPS="1", SECRET_KEY=secret
    )
    assert hardened.returncode == 0, hardened.stdout + hardened.stderr
    assert "no issues" in hardened.stdout
    plain = _manage("check", "--deploy", SECRET_KEY=secret)
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in plain.stdout + plain.stderr


def test_https_settings_redirect_and_mark_cookies_secure():
    probe = (
        "from django.conf import settings as s; "
        "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SESSION_COOKIE_SECURE, "
        "s.CSRF_COOKIE_SECURE, s.SECURE_REDIRECT_EXEMPT)"
    )
    shown = _manage("shell", "-c", probe, RAILSTUDIO_HTTPS="1", RAILSTUDIO_HSTS_SECONDS="600")
    assert shown.stdout.strip().splitlines()[-1] == "True 600 True True ['^healthz$']", shown.stderr


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("not-a-key", "key 1 of 1 is not a Fernet key"),
        ("VGhpcyBpcyBub3QgMzIgYnl0ZXM=", "key 1 of 1 is not a Fernet key"),
        (",", "it holds no key"),
    ],
)
def test_a_malformed_credentials_key_refuses_at_start(key, reason):
    result = _manage("check", RAILSTUDIO_CREDENTIALS_KEY=key)
    assert result.returncode != 0
    assert f"RAILSTUDIO_CREDENTIALS_KEY: {reason}" in result.stderr


def test_a_second_malformed_key_is_named_too():
    from cryptography.fernet import Fernet

    good = Fernet.generate_key().decode()
    result = _manage("check", RAILSTUDIO_CREDENTIALS_KEY=f"{good},oops")
    assert result.returncode != 0 and "key 2 of 2 is not a Fernet key" in result.stderr


def test_the_schema_and_docs_need_a_login(client, viewer):
    assert client.get("/api/schema/").status_code == 401
    docs = client.get("/api/docs/")
    assert docs.status_code == 302 and "/accounts/login/" in docs["Location"]
    client.force_login(viewer)
    assert client.get("/api/schema/").status_code == 200
    page = client.get("/api/docs/")
    assert page.status_code == 200 and b"<script>" not in page.content  # no inline script


def test_pages_carry_a_content_security_policy(as_viewer):
    policy = as_viewer.get("/")["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert directives["script-src"] == "'self'"
    assert directives["default-src"] == "'self'" and directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in directives["script-src"] + directives["style-src"]


def test_json_answers_carry_a_policy_that_allows_nothing(viewer_api, as_viewer):
    for response in (viewer_api.get("/api/plans/"), viewer_api.get("/api/plans/0/")):
        assert response["Content-Type"].startswith("application/json")
        assert response["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    docs = as_viewer.get("/api/docs/")  # a page under /api/: the site's policy
    assert docs.status_code == 200 and "script-src 'self'" in docs["Content-Security-Policy"]


def test_one_time_messages_live_on_pages_not_in_the_api(as_planner, planner_api, seed_plan):
    from django.contrib.messages import get_messages

    api = planner_api.get("/api/plans/")
    assert api.status_code == 200 and not hasattr(api.wsgi_request, "_messages")
    page = as_planner.get("/")
    assert page.status_code == 200 and list(get_messages(page.wsgi_request)) == []
    assert hasattr(page.wsgi_request, "_messages")


@override_settings(MAX_BODY_BYTES=4096)
def test_a_large_form_post_is_413_on_a_page(as_planner, seed_plan):
    from django.urls import reverse

    response = as_planner.post(reverse("node-import", args=["training"]), {"text": "x" * 10_000})
    assert response.status_code == 413 and b"larger than the limit" in response.content
