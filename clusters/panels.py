"""What the cluster pages' panels share: finding the cluster, and polling a panel until a worker
has written the timestamp it waits for (or the cluster's last failure)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.shortcuts import get_object_or_404
from django.urls import reverse

from clusters.models import Cluster
from railstudio import numbers

POLL_LIMIT = 30  # one poll a second: a panel gives up waiting for the worker after ~30 s


def get_cluster(pk) -> Cluster:
    return get_object_or_404(Cluster, pk=pk)


def task_stamp(result_at, cluster: Cluster) -> str:
    """What a panel waits to change: its task's result, or the cluster's last failure (a task
    that failed ends the wait too, and the panel shows last_error)."""
    return f"{stamp(result_at)}|{stamp(cluster.last_error_at)}"


def failed_after(cluster: Cluster, result_at) -> bool:
    """Whether the cluster's last error came after the panel's last result."""
    if not cluster.last_error or not cluster.last_error_at:
        return False
    return not result_at or cluster.last_error_at > result_at


@dataclass(frozen=True)
class Poll:
    next_url: str = ""  # the next poll; empty when there is nothing to wait for
    timed_out: bool = False


def stamp(value) -> str:
    return value.isoformat() if value else ""


def poll_url(url_name: str, pk: int, since: str, tries: int) -> str:
    return f"{reverse(url_name, args=[pk])}?{urlencode({'since': since, 'tries': tries})}"


def poll_state(request, url_name: str, pk: int, current: str) -> Poll:
    """Keep polling while the timestamp is still the one seen when the task was queued."""
    since = request.GET.get("since")
    if since is None or since != current:
        return Poll()
    tries = numbers.small_int(request.GET.get("tries", ""), 0)
    if tries >= POLL_LIMIT:
        return Poll(timed_out=True)
    return Poll(next_url=poll_url(url_name, pk, since, tries + 1))
