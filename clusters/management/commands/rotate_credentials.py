"""Re-encrypt every stored kubeconfig with the newest key of RAILSTUDIO_CREDENTIALS_KEY.

Rotation: generate a key (`python -c "from cryptography.fernet import Fernet;
print(Fernet.generate_key().decode())"`), set RAILSTUDIO_CREDENTIALS_KEY="NEW,OLD", run this
command, then drop OLD from the variable."""

from django.core.management.base import BaseCommand

from clusters import credentials
from clusters.models import Cluster


class Command(BaseCommand):
    help = "Re-encrypt stored cluster credentials with the newest key."

    def handle(self, *args, **options):
        count = 0
        for cluster in Cluster.objects.exclude(kubeconfig_encrypted=""):
            cluster.kubeconfig_encrypted = credentials.rotate(cluster.kubeconfig_encrypted)
            cluster.save(update_fields=["kubeconfig_encrypted"])
            count += 1
        self.stdout.write(f"Re-encrypted the credentials of {count} cluster(s).")
