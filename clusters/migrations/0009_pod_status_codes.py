# Finding codes in their own indexed rows (clusters.models.PodStatusCode), filled from the
# space-separated text of the snapshot already stored.

import django.db.models.deletion
from django.db import migrations, models

BATCH = 2000


def fill_codes(apps, schema_editor):
    PodStatus = apps.get_model("clusters", "PodStatus")
    PodStatusCode = apps.get_model("clusters", "PodStatusCode")
    rows = []
    for pk, codes in PodStatus.objects.exclude(codes="").values_list("pk", "codes").iterator():
        rows += [PodStatusCode(pod_status_id=pk, code=code) for code in set(codes.split())]
        if len(rows) >= BATCH:
            PodStatusCode.objects.bulk_create(rows)
            rows = []
    PodStatusCode.objects.bulk_create(rows)


class Migration(migrations.Migration):
    dependencies = [
        ("clusters", "0008_validation_heartbeat"),
    ]

    operations = [
        migrations.AlterField(
            model_name="podstatus",
            name="codes",
            field=models.CharField(
                blank=True,
                help_text="the finding codes as shown (space-separated); filters read PodStatusCode",
                max_length=500,
            ),
        ),
        migrations.CreateModel(
            name="PodStatusCode",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("code", models.CharField(max_length=64)),
                (
                    "pod_status",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="code_rows",
                        to="clusters.podstatus",
                    ),
                ),
            ],
            options={
                "indexes": [models.Index(fields=["code", "pod_status"], name="pod_code_lookup")],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("pod_status", "code"), name="one_row_per_pod_code"
                    )
                ],
            },
        ),
        migrations.RunPython(fill_codes, migrations.RunPython.noop),
    ]
