"""gunicorn reads this file from the folder it starts in (the repository, the image's /app).

Each worker warms up before its first request (railstudio.warmup): its database connection,
the plans of the API's hot statements, the modules and URL resolver the API path uses."""


def post_worker_init(worker):
    from railstudio.warmup import warm_worker

    seconds = warm_worker(worker.wsgi)
    worker.log.info("worker %s warmed in %.0f ms", worker.pid, seconds * 1000)
