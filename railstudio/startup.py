"""What a process of Rail Studio prepares when it starts, rather than when its settings are
imported: the var/ folder, static root and filesystem broker folders, and the generated secret
key when the environment gives none. Run by railstudio.apps at start (web, worker, manage.py)
and by the Celery app; idempotent."""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from railstudio import env


def prepare() -> None:
    settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
    settings.STATIC_ROOT.mkdir(parents=True, exist_ok=True)
    if env.is_filesystem_broker(settings.CELERY_BROKER_URL):
        env.make_filesystem_broker_dirs()
    try:
        settings.SECRET_KEY  # noqa: B018 (empty raises: the environment and var/ hold none)
    except ImproperlyConfigured:
        settings.SECRET_KEY = env.ensure_secret_key()
