from django.apps import AppConfig
from django.db.models.signals import post_migrate


class RailStudioConfig(AppConfig):
    name = "railstudio"
    verbose_name = "Rail Studio"

    def ready(self):
        from railstudio import startup
        from railstudio.roles import ensure_roles

        startup.prepare()
        post_migrate.connect(ensure_roles, dispatch_uid="railstudio.ensure_roles")
