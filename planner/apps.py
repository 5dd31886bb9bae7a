from django.apps import AppConfig
from django.db.models.signals import post_migrate


class PlannerConfig(AppConfig):
    name = "planner"
    verbose_name = "Planner"

    def ready(self):
        from planner import free_hints, revisions

        post_migrate.connect(revisions.install_after_migrate, sender=self)
        post_migrate.connect(free_hints.install_after_migrate, sender=self)
