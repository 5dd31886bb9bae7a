"""gunicorn reads this file from the folder it starts in (the repository, the image's /app).

Each worker warms up before its first request (railstudio.warmup): the modules and URL
resolver the API path uses, and each database connection it opens (now, and when
DB_CONN_MAX_AGE ends one): the plans of the API's hot statements, the triggers writes fire."""


def post_worker_init(worker):
    from railstudio.warmup import warm_worker

    seconds = warm_worker(worker.wsgi)
    worker.log.info("worker %s warmed in %.0f ms", worker.pid, seconds * 1000)
