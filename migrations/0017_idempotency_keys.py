from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('crm', '0016_file_store_pdf_status')]

    initial = False

    operations = [
        ops.CreateModel(
            name='IdempotencyKey',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('crm.User', source_field='user_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('key', fields.CharField(max_length=255)),
                ('request_hash', fields.CharField(max_length=64)),
                ('done', fields.BooleanField(default=False)),
                ('lease_token', fields.CharField(max_length=32)),
                ('lease_until', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('response_status', fields.IntField(null=True)),
                ('response_body', fields.TextField(null=True, unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('expires_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'idempotency_keys', 'app': 'crm', 'unique_together': (('user_id', 'key'),), 'pk_attr': 'id', 'table_description': 'One key of one user. PENDING while its request runs (`lease_until` bounds how'},
            bases=['Model'],
        ),
    ]
