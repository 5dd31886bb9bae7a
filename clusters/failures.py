"""One line that says why a task failed, for the records operators read (last_error, a
rollout's message, an exec run's error). Every task ends its record with one of these."""

from __future__ import annotations

from celery.exceptions import SoftTimeLimitExceeded

from clusters.credentials import CredentialsError
from clusters.kube import KubeError

MAX_LENGTH = 1000


def describe(error: BaseException) -> str:
    if isinstance(error, KubeError | CredentialsError):
        text = str(error)
    elif isinstance(error, SoftTimeLimitExceeded):
        text = "the task ran past its time limit and was stopped"
    else:
        text = f"internal error ({type(error).__name__}): {error}"
    text = " ".join(text.split())
    return text if len(text) <= MAX_LENGTH else text[: MAX_LENGTH - 1] + "…"
