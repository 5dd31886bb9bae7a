from django.db import models


class Cluster(models.Model):
    """A live Kubernetes cluster that plans roll out to (filled in by the rollout work)."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        permissions = [("operate_cluster", "Can register clusters, roll out and roll back")]

    def __str__(self):
        return self.name
