from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields


class Migration(migrations.Migration):
    dependencies = [("crm", "0017_idempotency_keys")]

    initial = False

    operations = [
        ops.CreateModel(
            name="Event",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("txid", fields.BigIntField(default=0)),
                ("object_type", fields.CharField(max_length=24)),
                ("object_id", fields.IntField()),
                ("action", fields.CharField(max_length=12)),
                ("changes", fields.JSONField(default=dict)),
                ("actor_id", fields.IntField(null=True)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("company_id", fields.IntField(null=True)),
                ("scope", fields.JSONField(default=dict)),
            ],
            options={
                "table": "events",
                "app": "crm",
                "indexes": [("txid", "id"), ("object_type", "object_id", "id")],
                "pk_attr": "id",
                "table_description": 'One change. Readers page in (`txid`, `id`) order: see docs/architecture.md, "The',
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="EventAudience",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("event_id", fields.BigIntField()),
                ("user_id", fields.IntField()),
            ],
            options={
                "table": "event_audience",
                "app": "crm",
                "unique_together": (("user_id", "event_id"),),
                "pk_attr": "id",
                "table_description": "Who could see a deleted object when it was deleted (superadmins see every",
            },
            bases=["Model"],
        ),
    ]
