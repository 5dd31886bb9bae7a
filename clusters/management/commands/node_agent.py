"""Print (or apply to a registered cluster) the node-agent DaemonSet that inspection's NUMA
check reads the kubelet's PodResources through.

    python manage.py node_agent [--namespace railstudio] [--image IMAGE] > agent.yaml
    python manage.py node_agent --cluster lab     # server-side apply it to that cluster
"""

import yaml
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from clusters.kube import Kube, KubeError
from clusters.models import Cluster
from clusters.rollout import target_for
from clusters.validation.probe import node_agent_daemonset


class Command(BaseCommand):
    help = "Print or apply the node-agent DaemonSet (inspection's NUMA check reads it)."

    def add_arguments(self, parser):
        parser.add_argument("--namespace", default="railstudio")
        parser.add_argument("--image", default=settings.VALIDATION_AGENT_IMAGE)
        parser.add_argument("--cluster", help="a registered cluster's name: apply it there")

    def handle(self, *args, namespace, image, cluster=None, **options):
        manifest = node_agent_daemonset(namespace, image)
        if not cluster:
            self.stdout.write(yaml.safe_dump(manifest, sort_keys=False))
            return
        record = Cluster.objects.filter(name=cluster).first()
        if record is None:
            raise CommandError(f"No cluster named {cluster!r}.")
        try:
            with Kube(target_for(record)) as kube:
                kube.ensure_namespace(namespace)
                kube.apply(manifest)
        except KubeError as error:
            raise CommandError(f"{cluster}: {error}") from None
        self.stdout.write(f"node agent applied to {cluster} in namespace {namespace}")
