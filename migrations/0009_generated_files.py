from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('crm', '0008_contract_templates')]

    initial = False

    operations = [
        ops.AddField(
            model_name='StoredFile',
            name='generated',
            field=fields.BooleanField(default=False, db_default=False),
        ),
    ]
