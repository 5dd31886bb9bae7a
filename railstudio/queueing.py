"""Sending a Celery task from a request: a dead or frozen broker is a clear error (the pages
and the API answer 503), never a 500 or a hung request."""

from kombu.exceptions import OperationalError


class QueueUnavailable(Exception):
    """The Celery broker cannot be reached; nothing was queued."""


def enqueue(send) -> None:
    """Send a task (`send` calls .delay or .apply_async), turning a dead broker into a clear
    error instead of a 500."""
    try:
        send()
    except (OperationalError, ConnectionError, OSError) as error:
        raise QueueUnavailable(
            f"The task queue (Celery broker) cannot be reached: {error}"
        ) from None
