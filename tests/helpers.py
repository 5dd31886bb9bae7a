"""Small helpers for tests (import as `tests.helpers`)."""


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.1):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")
