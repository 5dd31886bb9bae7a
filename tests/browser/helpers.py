"""What the browser tests share: users in a role, logging in, and screenshots kept for people."""

import re
import shutil
from pathlib import Path

from playwright.sync_api import expect

from railstudio.roles import ensure_roles

SHOTS = Path("/tmp/railstudio-shots")


def make_user(django_user_model, username: str, role: str):
    from django.contrib.auth.models import Group

    ensure_roles()  # the live server's flush removed the groups post_migrate made
    user = django_user_model.objects.create_user(username=username, password=f"pw-{username}")
    user.groups.add(Group.objects.get(name=role))
    return user


def log_in(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(f"pw-{username}")
    page.get_by_role("button", name="Log in").click()
    # The dashboard, or on an empty install the first-run page.
    expect(
        page.get_by_role("heading", name=re.compile(r"^(Home|Welcome to Rail Studio)$"))
    ).to_be_visible()


def keep(path: Path) -> Path:
    """A copy into /tmp/railstudio-shots/ for people to look at."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, SHOTS / path.name)
    return path


def screenshot(page, tmp_path: Path, name: str, whole_page: bool = True) -> Path:
    """Into the test's tmp_path, and kept. A whole-page shot grows the viewport to the page, so
    the sticky sidebar spans it too."""
    path = tmp_path / name
    viewport = page.viewport_size
    if whole_page:
        height = page.evaluate("document.documentElement.scrollHeight")
        page.set_viewport_size({"width": viewport["width"], "height": height})
    page.screenshot(path=str(path))
    page.set_viewport_size(viewport)
    return keep(path)
