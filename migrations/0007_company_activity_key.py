from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('crm', '0006_calendar')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Company',
            name='last_activity_key',
            field=fields.BigIntField(default=0, db_default=0),
        ),
        ops.AddIndex(
            model_name='Company',
            index=Index(fields=['last_activity_key', 'id']),
        ),
    ]
