# A revision number only for a rollout that changed the cluster (clusters.rollout._number).

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("clusters", "0006_validation"),
    ]

    operations = [
        migrations.AlterField(
            model_name="rollout",
            name="revision",
            field=models.PositiveIntegerField(
                blank=True, help_text="set when the rollout changes the cluster", null=True
            ),
        ),
        migrations.AddConstraint(
            model_name="rollout",
            constraint=models.UniqueConstraint(
                condition=models.Q(("revision__isnull", False)),
                fields=("cluster", "plan_slug", "revision"),
                name="one_rollout_per_revision",
            ),
        ),
    ]
