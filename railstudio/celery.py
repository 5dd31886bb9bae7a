import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "railstudio.settings")

app = Celery("railstudio")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
