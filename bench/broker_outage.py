"""Seconds until queueing a task gives up when the broker is dead (nothing listens) or frozen
(a Redis paused with SIGSTOP: it accepts connections and never answers), with the settings'
bounded timeouts (CELERY_BROKER_TIMEOUT, no publish retry). That is how long a page or an API
call takes to answer 503 in an outage. Starts its own Redis on a free loopback port.
Target: under 5 s each (CELERY_BROKER_TIMEOUT defaults to 2)."""

import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "railstudio.settings")
TRIES = 5


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def use(app, url: str) -> None:
    import kombu.pools

    from railstudio import env

    if app._pool is not None:
        app._pool.force_close_all()
        app._pool = None
    app.amqp._producer_pool = None
    kombu.pools.reset()
    app.conf.update(broker_url=url, broker_transport_options=env.redis_transport_options())


def seconds_to_give_up(app, url: str) -> list[float]:
    from clusters import services, tasks

    timings = []
    for _ in range(TRIES):
        use(app, url)  # a cold pool each time, as a fresh web worker has
        start = time.monotonic()
        try:
            services.enqueue(lambda: tasks.test_connection.delay(0))
        except services.QueueUnavailable:
            timings.append(time.monotonic() - start)
        else:
            raise SystemExit("the task was queued: the broker is not down")
    return timings


def main() -> None:
    import django

    django.setup()
    from railstudio.celery import app

    binary = shutil.which("redis-server")
    if binary is None:
        print("broker_outage: skipped (no redis-server binary)")
        return
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        redis = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
             "no", "--dir", folder],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            time.sleep(0.5)
            os.kill(redis.pid, signal.SIGSTOP)
            frozen = seconds_to_give_up(app, f"redis://127.0.0.1:{port}/0")
        finally:
            os.kill(redis.pid, signal.SIGCONT)
            redis.kill()
            redis.wait(10)
    dead = seconds_to_give_up(app, f"redis://127.0.0.1:{free_port()}/0")
    for label, timings in (("frozen (SIGSTOP)", frozen), ("dead (refused)", dead)):
        print(
            f"broker {label:17} seconds to give up: median {statistics.median(timings):.2f}, "
            f"max {max(timings):.2f} over {TRIES} tries (target < 5)"
        )


if __name__ == "__main__":
    main()
