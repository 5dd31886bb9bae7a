"""Commands an operator may run inside a pod: an allow-list, nothing else, ever."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from clusters.failures import describe
from clusters.kube import Kube, KubeError
from clusters.models import ExecRun
from clusters.rollout import target_for
from planner import k8snames

ALLOWED = {
    "ip -br addr": ["ip", "-br", "addr"],
    "ip -br link": ["ip", "-br", "link"],
    "ibv_devinfo": ["ibv_devinfo"],
    "ibv_devinfo -l": ["ibv_devinfo", "-l"],
    "env": ["env"],
}
TIMEOUT_SECONDS = 20
# A run no worker has finished this long after it was asked for is given up (and never runs):
# the page and the API stop waiting with a reason.
ABANDONED_AFTER_SECONDS = TIMEOUT_SECONDS + 100
MISSING_TOOL_CODES = {126, 127}


class NotAllowed(ValueError):
    pass


class InvalidTarget(NotAllowed):
    """A namespace, pod or container name the API server would refuse; `errors` by field."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__(" ".join(message for messages in errors.values() for message in messages))


def target_errors(namespace: str, pod: str, container: str = "") -> dict[str, list[str]]:
    """The names an exec puts into its API path, checked as the API server checks them."""
    checks = (
        ("namespace", k8snames.namespace_error(namespace)),
        ("pod", k8snames.pod_name_error(pod)),
        ("container", k8snames.container_name_error(container) if container else None),
    )
    return {field: [problem] for field, problem in checks if problem}


def normalize(command: str) -> str:
    """The allow-listed form of a command, or NotAllowed naming what is allowed."""
    text = " ".join(str(command or "").split())
    if text not in ALLOWED:
        raise NotAllowed(f"'{text}' is not allowed. Allowed: {', '.join(ALLOWED)}.")
    return text


@dataclass(frozen=True)
class Availability:
    """Whether a pod (as its last snapshot reports it) can run a command, and in which
    containers; `why` says what stands in the way when none can."""

    containers: tuple[str, ...]
    why: str = ""

    @property
    def available(self) -> bool:
        return bool(self.containers)


def availability(report: dict) -> Availability:
    """Commands run in a running container; a Pending, finished or crashing pod has none, and
    the API server would refuse the exec (e.g. "pod x does not have a host assigned")."""
    name = report.get("name") or "the pod"
    phase = report.get("phase") or "Unknown"
    states = [item for item in report.get("containers") or [] if isinstance(item, dict)]
    running = tuple(item["name"] for item in states if item.get("state") == "running")
    detail = (report.get("message") or report.get("reason") or "").rstrip(". ")
    if phase == "Pending" and not report.get("node"):
        why = f"{name} is Pending and not scheduled to a node yet"
        why += f" ({detail})" if detail else ""
    elif phase in ("Succeeded", "Failed"):
        why = f"{name} has finished ({phase}): it has no running container"
    elif phase not in ("Pending", "Running"):
        why = f"{name} is {phase} in the last snapshot"
    elif running:
        return Availability(running)
    else:
        waiting = [
            f"{item['name']}: {item.get('reason') or item.get('state') or 'not started'}"
            for item in states
        ]
        why = f"{name} is {phase} on {report.get('node')} but none of its containers runs yet"
        why += f" ({'; '.join(waiting)})" if waiting else ""
    return Availability((), f"Commands need a running container: {why}.")


def _missing_tool_message(run: ExecRun) -> str:
    tool = ALLOWED[run.command][0]
    package = {"ip": "iproute2", "ibv_devinfo": "ibverbs-utils (rdma-core)"}.get(tool, tool)
    return (
        f"The container has no `{tool}` command (exit code {run.exit_code}). Install {package} "
        "in the image, or attach a debug container that has it."
    )


def refusal_text(error: KubeError) -> str:
    """The API server's answer as kubectl prints it, e.g. `Error from server (BadRequest): pod
    x does not have a host assigned`; no answer: what went wrong on the way."""
    if error.status and error.reason:
        return f"Error from server ({error.reason}): {error.message}"
    return f"The exec call failed: {error.message}"


def execute(run_id: int) -> ExecRun:
    run = ExecRun.objects.select_related("cluster").get(pk=run_id)
    if run.done:
        return run
    started = time.monotonic()
    try:
        with Kube(target_for(run.cluster)) as kube:
            stdout, stderr, code = kube.exec(
                run.namespace,
                run.pod,
                ALLOWED[run.command],
                container=run.container or None,
                timeout=TIMEOUT_SECONDS,
            )
        run.stdout, run.stderr, run.exit_code = stdout, stderr, code
        not_found = "executable file not found" in stderr or "not found" in stderr.lower()
        if code in MISSING_TOOL_CODES and (not_found or code == 127):
            run.error = _missing_tool_message(run)
    except KubeError as error:
        run.error = refusal_text(error)
    except Exception as error:  # whatever it is, the run ends with the reason
        run.error = f"The exec call failed: {describe(error)}"
    run.duration_ms = int((time.monotonic() - started) * 1000)
    run.finished_at = timezone.now()
    run.save()
    return run


def give_up_if_abandoned(run: ExecRun) -> ExecRun:
    """End a run that no worker finished in time (the worker died, or none is running)."""
    deadline = timezone.now() - timedelta(seconds=ABANDONED_AFTER_SECONDS)
    if run.done or run.created_at > deadline:
        return run
    run.error = (
        f"No worker finished this command within {ABANDONED_AFTER_SECONDS} s (is a Celery "
        "worker running?); it will not run now."
    )
    run.finished_at = timezone.now()
    ExecRun.objects.filter(pk=run.pk, finished_at__isnull=True).update(
        error=run.error, finished_at=run.finished_at
    )
    run.refresh_from_db()
    return run
