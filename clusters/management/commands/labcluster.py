"""`python manage.py labcluster up [--spec FILE] [--name lab] [--bind SLUG ...]`

Starts a lab cluster (labsim, in its own process, over HTTPS on loopback), registers it as a
cluster (or refreshes the registration: each start has a new CA and token), binds plans to it,
and runs until Ctrl-C."""

import signal
import threading
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from clusters import tasks
from clusters.models import Cluster
from labsim.testing import SEED_SPEC, start_lab
from planner.models import Plan


def register_lab(name: str, handle, plans: list[Plan]) -> Cluster:
    cluster, _ = Cluster.objects.get_or_create(name=name, defaults={"is_lab": True})
    cluster.is_lab = True
    cluster.server = handle.url
    cluster.context = ""
    cluster.description = cluster.description or f"Lab cluster from {handle.spec_name or 'a spec'}"
    cluster.set_kubeconfig(handle.kubeconfig_path.read_text())
    cluster.save()
    cluster.plans.add(*plans)
    # What a newcomer sees first: the connection result and the planned-vs-discovered inventory.
    tasks.test_connection.delay(cluster.pk)
    tasks.discover_nodes.delay(cluster.pk)
    return cluster


class Command(BaseCommand):
    help = "Start a lab cluster and register it."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["up"])
        parser.add_argument("--spec", default=str(SEED_SPEC))
        parser.add_argument("--name", default="lab")
        parser.add_argument("--port", type=int, default=0)
        parser.add_argument("--bind", nargs="*", default=[], metavar="PLAN_SLUG")

    def handle(self, *args, action, spec, name, port, bind, **options):
        plans = list(Plan.objects.filter(slug__in=bind))
        missing = set(bind) - {plan.slug for plan in plans}
        if missing:
            raise CommandError(f"No plan with slug {', '.join(sorted(missing))}.")
        folder = Path(settings.VAR_DIR) / f"lab-{name}"
        folder.mkdir(parents=True, exist_ok=True)
        handle = start_lab(spec, folder, subprocess=True, port=port)
        try:
            cluster = register_lab(name, handle, plans)
            self.stdout.write(
                self.style.SUCCESS(f"Lab cluster '{cluster.name}' is up at {handle.url}")
                + f"\n  kubeconfig: {handle.kubeconfig_path}"
                + (f"\n  bound plans: {', '.join(p.slug for p in plans)}" if plans else "")
                + "\nPress Ctrl-C to stop it.",
            )
            stop = threading.Event()
            signal.signal(signal.SIGINT, lambda *_: stop.set())
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            while not stop.wait(0.5):
                if handle.process.poll() is not None:
                    raise CommandError(
                        "The lab cluster process ended; see its log in " + str(folder)
                    )
        finally:
            handle.stop()
        self.stdout.write("Lab cluster stopped.")
