import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "railstudio.settings")

app = Celery("railstudio")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _prepare(**_kwargs):
    """The filesystem broker's folders before the first connection (a beat or a worker may
    connect before Django's apps are ready)."""
    from railstudio import env

    if env.is_filesystem_broker(app.conf.broker_url or ""):
        env.make_filesystem_broker_dirs()
