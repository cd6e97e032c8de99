from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.migrations.constraints import UniqueConstraint

class Migration(migrations.Migration):
    dependencies = [('crm', '0001_initial')]

    initial = False

    operations = [
        ops.AddConstraint(
            model_name='Assignment',
            constraint=UniqueConstraint(fields=('user', 'profile', 'group'), name=None),
        ),
    ]
