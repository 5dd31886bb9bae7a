"""Integrity in the database (issue 11).

- Rails store their effective NAD and interface names, unique within a plan, as is the subnet.
- On PostgreSQL, exclusions of one rail may not overlap: a generated range column over
  (first_ip, last_ip) and an exclusion constraint (btree_gist for the rail id). SQLite keeps the
  application's check (under the rail's lock) alone.
"""

from collections import Counter

from django.db import migrations, models

EXCLUSION_SQL = [
    "CREATE EXTENSION IF NOT EXISTS btree_gist",
    """DO $$ BEGIN
        CREATE TYPE inetrange AS RANGE (subtype = inet);
    EXCEPTION WHEN duplicate_object THEN NULL; END $$""",
    """ALTER TABLE planner_exclusion ADD COLUMN ip_range inetrange
        GENERATED ALWAYS AS (inetrange(first_ip, last_ip, '[]')) STORED""",
    """ALTER TABLE planner_exclusion ADD CONSTRAINT exclusion_no_overlap
        EXCLUDE USING gist (rail_id WITH =, ip_range WITH &&)""",
]
EXCLUSION_SQL_REVERSE = [
    "ALTER TABLE planner_exclusion DROP CONSTRAINT IF EXISTS exclusion_no_overlap",
    "ALTER TABLE planner_exclusion DROP COLUMN IF EXISTS ip_range",
]


def render(template: str, index: int) -> str:
    from planner import naming

    return naming.render(template, index)


def fill_names(apps, schema_editor):
    Rail = apps.get_model("planner", "Rail")
    rails = list(Rail.objects.select_related("plan"))
    for rail in rails:
        rail.nad_name = rail.nad_name_override or render(rail.plan.nad_name_template, rail.index)
        rail.interface_name = rail.interface_name_override or render(
            rail.plan.interface_template, rail.index
        )
    Rail.objects.bulk_update(rails, ["nad_name", "interface_name"], batch_size=1000)
    for field in ("subnet", "nad_name", "interface_name"):
        clashes = [
            key for key, n in Counter((r.plan_id, getattr(r, field)) for r in rails).items() if n > 1
        ]
        if clashes:
            raise RuntimeError(
                f"Rails share a {field} within a plan (plan id, {field}): {clashes[:10]}; "
                "change one of each pair, then migrate again."
            )


def exclusion_constraint(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in EXCLUSION_SQL:
        schema_editor.execute(statement)


def drop_exclusion_constraint(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in EXCLUSION_SQL_REVERSE:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("planner", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="rail",
            name="nad_name",
            field=models.CharField(default="", editable=False, max_length=253),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="rail",
            name="interface_name",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.RunPython(fill_names, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="rail",
            constraint=models.UniqueConstraint(
                fields=("plan", "subnet"), name="rail_unique_subnet_per_plan"
            ),
        ),
        migrations.AddConstraint(
            model_name="rail",
            constraint=models.UniqueConstraint(
                fields=("plan", "nad_name"), name="rail_unique_nad_name_per_plan"
            ),
        ),
        migrations.AddConstraint(
            model_name="rail",
            constraint=models.UniqueConstraint(
                fields=("plan", "interface_name"), name="rail_unique_interface_name_per_plan"
            ),
        ),
        migrations.RunPython(exclusion_constraint, drop_exclusion_constraint),
    ]
