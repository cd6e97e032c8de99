from tortoise import migrations
from tortoise.migrations import operations as ops
from crm_graphql.models.trash import TrashType
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('crm', '0020_webhooks')]

    initial = False

    operations = [
        ops.CreateModel(
            name='TrashEntry',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('object_type', fields.CharEnumField(description='COMPANY: Company\nCONTACT: Contact\nCONTRACT: Contract\nLEAD: Lead', enum_type=TrashType, max_length=20)),
                ('object_id', fields.IntField()),
                ('label', fields.CharField(default='', max_length=255)),
                ('company_id', fields.IntField(null=True)),
                ('owner_id', fields.IntField(null=True)),
                ('private', fields.BooleanField(default=False)),
                ('path', fields.CharField(default='', max_length=1000)),
                ('deleted_by', fields.ForeignKeyField('crm.User', source_field='deleted_by_id', null=True, db_constraint=True, to_field='id', related_name='trash_entries', on_delete=OnDelete.SET_NULL)),
                ('deleted_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('snapshot', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('stored_names', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
            ],
            options={'table': 'trash_entries', 'app': 'crm', 'indexes': [Index(fields=['object_type', 'object_id']), Index(fields=['deleted_at', 'id'])], 'pk_attr': 'id', 'table_description': 'One deleted record and every row that went with it.'},
            bases=['Model'],
        ),
    ]
