from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('crm', '0011_lead_statistics_indexes')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='Lead',
            index=Index(fields=['progress', 'updated_at']),
        ),
    ]
