from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("crm", "0007_company_activity_key")]

    initial = False

    operations = [
        ops.CreateModel(
            name="ContractTemplate",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                ("name", fields.CharField(unique=True, max_length=200)),
                ("description", fields.TextField(default="", unique=False)),
                ("html", fields.TextField(default="", unique=False)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ("version", fields.IntField(default=1)),
            ],
            options={"table": "contract_templates", "app": "crm", "pk_attr": "id"},
            bases=["Model"],
        ),
    ]
