"""Addresses as integers beside their text (issue 14), so the database sorts and searches them.

NodeNIC.host_int and Exclusion.first_int/last_int hold IPv4 addresses as integers (None on IPv6
rails), with indexes on (rail, ...): free space, overlaps and host IPs in a range are then
indexed queries instead of a whole rail read into Python.
"""

import socket

import django.db.models.deletion
from django.db import migrations, models

BATCH = 2000


def v4_int(value):
    if not value or ":" in value:
        return None
    return int.from_bytes(socket.inet_aton(value.strip()), "big")


def fill(apps, schema_editor):
    NodeNIC = apps.get_model("planner", "NodeNIC")
    Exclusion = apps.get_model("planner", "Exclusion")
    nics = NodeNIC.objects.filter(host_ip__isnull=False).order_by("pk").only("pk", "host_ip")
    batch = []
    for nic in nics.iterator(chunk_size=BATCH):
        nic.host_int = v4_int(nic.host_ip)
        batch.append(nic)
        if len(batch) >= BATCH:
            NodeNIC.objects.bulk_update(batch, ["host_int"])
            batch = []
    NodeNIC.objects.bulk_update(batch, ["host_int"])
    batch = []
    for exclusion in Exclusion.objects.order_by("pk").only("pk", "first_ip", "last_ip").iterator(
        chunk_size=BATCH
    ):
        exclusion.first_int = v4_int(exclusion.first_ip)
        exclusion.last_int = v4_int(exclusion.last_ip)
        batch.append(exclusion)
        if len(batch) >= BATCH:
            Exclusion.objects.bulk_update(batch, ["first_int", "last_int"])
            batch = []
    Exclusion.objects.bulk_update(batch, ["first_int", "last_int"])


class Migration(migrations.Migration):
    dependencies = [("planner", "0002_integrity")]

    operations = [
        migrations.AddField(
            model_name="nodenic",
            name="host_int",
            field=models.BigIntegerField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name="exclusion",
            name="first_int",
            field=models.BigIntegerField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name="exclusion",
            name="last_int",
            field=models.BigIntegerField(editable=False, null=True),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="nodenic",
            index=models.Index(fields=["rail", "host_int"], name="nic_rail_host_int"),
        ),
        migrations.AddIndex(
            model_name="nodenic",
            index=models.Index(
                condition=models.Q(host_ip__isnull=True),
                fields=["rail", "node", "id"],
                name="nic_unaddressed",
            ),
        ),
        migrations.AddIndex(
            model_name="exclusion",
            index=models.Index(
                fields=["rail", "first_int", "last_int"], name="exclusion_rail_first_int"
            ),
        ),
        # Covered by the composite indexes above and the unique constraints.
        migrations.AlterField(
            model_name="nodenic",
            name="node",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="nics",
                to="planner.node",
            ),
        ),
        migrations.AlterField(
            model_name="nodenic",
            name="rail",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="nics",
                to="planner.rail",
            ),
        ),
        migrations.AlterField(
            model_name="exclusion",
            name="rail",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="exclusions",
                to="planner.rail",
            ),
        ),
    ]
