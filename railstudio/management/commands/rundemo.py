"""`make demo`: migrate, load the seed plan, create two logins (an operator for the product, an
admin for /admin/), start the web server, a Celery worker and beat and a lab cluster, print the
URL, and stop everything on Ctrl-C."""

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import BaseCommand

from planner import documents
from planner.models import Plan
from planner.seed import SEED_PLAN_SLUG, seed_plan_spec
from railstudio import env
from railstudio.roles import OPERATOR

DEMO_USER = "demo"  # the operator: plans, clusters, rollouts, exec
ADMIN_USER = "admin"  # a superuser: /admin/, users and their roles


class Command(BaseCommand):
    help = "Run Rail Studio with the seed plan: web server + Celery worker."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--no-serve", action="store_true", help="prepare only; start nothing")

    def handle(self, *args, host, port, no_serve, **options):
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        self._load_seed_plan()
        password = self._login(DEMO_USER, "demo_password", group=OPERATOR)
        admin_password = self._login(ADMIN_USER, "admin_password", superuser=True)
        if no_serve:
            return
        children = [self._start_worker(), self._start_beat()]
        children.append(self._start_lab())
        lab = self._wait_for_lab(children[-1])
        if lab:
            self._populate_lab(lab)
        children.append(self._start_web(host, port))
        url = f"http://{host}:{port}/"
        if not self._wait_for_web(url, children[-1]):
            self.stderr.write(f"The web server did not answer at {url}healthz; stopping.")
            self._stop(children)
            return
        self.stdout.write(
            self.style.SUCCESS(f"\nRail Studio is running at {url}")
            + f"\n  operator login: {DEMO_USER} / {password}  (plans, clusters, rollouts, exec)"
            + f"\n  admin login:    {ADMIN_USER} / {admin_password}  (superuser: {url}admin/,"
            + " users and their roles)"
            + (f"\n  lab cluster: {lab.server} (bound to the seed plan)" if lab else "")
            + f"\n  broker: {settings.CELERY_BROKER_URL}"
            + f"\n  database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}"
            + "\nPress Ctrl-C to stop.\n"
        )
        self._wait(children)

    def _load_seed_plan(self):
        if Plan.objects.filter(slug=SEED_PLAN_SLUG).exists():
            return
        documents.import_plan(documents.document_from_spec(seed_plan_spec()))
        self.stdout.write("Loaded the seed plan (8 rails, 10.50.0.0/16 .. 10.57.0.0/16).")

    def _login(self, username: str, filename: str, *, group=None, superuser=False) -> str:
        """A user whose password is generated once into var/ (never committed) and printed."""
        password_file = settings.VAR_DIR / filename
        if not password_file.exists():
            password_file.write_text(secrets.token_urlsafe(9))
            password_file.chmod(0o600)
        password = password_file.read_text().strip()
        user, _ = get_user_model().objects.get_or_create(username=username)
        user.set_password(password)
        user.is_staff = user.is_superuser = superuser
        user.save()
        if group:
            user.groups.add(Group.objects.get(name=group))
        return password

    def _start_worker(self):
        # --quiet: no banner; the demo prints what matters once, below.
        command = [sys.executable, "-m", "celery", "-A", "railstudio", "--quiet", "worker"]
        command.append("--loglevel=warning")
        command += (
            ["--pool=solo"]
            if env.is_filesystem_broker(settings.CELERY_BROKER_URL)
            else ["--concurrency=2"]
        )
        return _spawn(command)

    def _start_beat(self):
        schedule = settings.VAR_DIR / "celerybeat-schedule"
        return _spawn(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "railstudio",
                "--quiet",
                "beat",
                "--loglevel=warning",
                "--schedule",
                str(schedule),
            ]  # fmt: skip
        )

    def _start_lab(self):
        return _spawn(
            [sys.executable, "manage.py", "labcluster", "up", "--bind", SEED_PLAN_SLUG],
            stdout=subprocess.DEVNULL,
        )

    def _wait_for_lab(self, process, timeout: float = 60):
        """The lab registers itself (a new CA and token each start); wait for that."""
        from clusters.models import Cluster

        before = Cluster.objects.filter(name="lab").values_list("server", flat=True).first()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and process.poll() is None:
            cluster = Cluster.objects.filter(name="lab").first()
            # The row may exist a moment before its server and kubeconfig (get_or_create, then
            # save): wait for both.
            if (
                cluster
                and cluster.server
                and cluster.server != before
                and cluster.kubeconfig_encrypted
            ):
                return cluster
            time.sleep(0.3)
        self.stderr.write("The lab cluster did not come up; continuing without it.")
        return None

    def _populate_lab(self, lab):
        from clusters import demo
        from labsim.testing import attach

        plan = Plan.objects.get(slug=SEED_PLAN_SLUG)
        user = get_user_model().objects.get(username=DEMO_USER)
        # The lab's fault switch (its admin endpoint) for the failures the demo shows.
        faults = attach(settings.VAR_DIR / "lab-lab" / "lab.kubeconfig")
        created = demo.populate(lab, plan, user, faults=faults)
        self.stdout.write(
            f"Rolled the seed plan out to the lab; created pods: {', '.join(created)}."
        )

    def _start_web(self, host, port):
        return _spawn(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "railstudio.wsgi",
                "--config",
                str(settings.BASE_DIR / "gunicorn.conf.py"),  # wherever the demo starts from
                "--bind",
                f"{host}:{port}",
                "--workers",
                "2",
                "--threads",
                "4",
                "--log-level",
                "warning",
                # Two demos on one machine must not share ~/.gunicorn/gunicorn.ctl.
                "--no-control-socket",
            ]  # fmt: skip
        )

    def _wait_for_web(self, url: str, process, timeout: float = 60) -> bool:
        """Print the URL only once it answers."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with urllib.request.urlopen(f"{url}healthz", timeout=2):
                    return True
            except urllib.error.HTTPError:
                return True  # it answers (e.g. 400 for a HOST outside ALLOWED_HOSTS)
            except OSError:
                time.sleep(0.2)
        return False

    def _wait(self, children):
        stop = {"now": False}

        def request_stop(*_):
            stop["now"] = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        while not stop["now"] and all(child.poll() is None for child in children):
            time.sleep(0.5)
        self._stop(children)

    def _stop(self, children, grace: float = 20):
        """SIGTERM to each child's process group (gunicorn's workers, the lab's server), then
        SIGKILL to whatever is left after `grace` seconds: nothing outlives the demo."""
        for child in children:
            _signal_group(child, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for child in children:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
        for child in children:
            _signal_group(child, signal.SIGKILL)  # a grandchild may outlive its parent
            child.wait()
        self.stdout.write("Stopped.")


def _spawn(command: list[str], **options) -> subprocess.Popen:
    """Each child in its own process group, so the demo stops it with everything it started
    (Ctrl-C reaches the demo, which stops them in turn)."""
    return subprocess.Popen(command, start_new_session=True, **options)


def _signal_group(child: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signum)
