from tortoise import migrations
from tortoise.migrations import operations as ops
from crm_graphql.models.customfields import CustomFieldEntity, CustomFieldKind
from crm_graphql.models.files import FileOwner
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('crm', '0002_assignment_unique')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Contact',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('company', fields.ForeignKeyField('crm.Company', source_field='company_id', db_constraint=True, to_field='id', related_name='contacts', on_delete=OnDelete.CASCADE)),
                ('full_name', fields.CharField(max_length=200)),
                ('email', fields.CharField(max_length=254)),
                ('phone', fields.CharField(default='', max_length=60)),
                ('mobile', fields.CharField(default='', max_length=60)),
                ('position', fields.CharField(default='', max_length=200)),
                ('description', fields.TextField(default='', unique=False)),
                ('disabled', fields.BooleanField(default=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('version', fields.IntField(default=1)),
            ],
            options={'table': 'contacts', 'app': 'crm', 'indexes': [Index(fields=['company_id', 'full_name'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Activity',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('company', fields.ForeignKeyField('crm.Company', source_field='company_id', db_constraint=True, to_field='id', related_name='activities', on_delete=OnDelete.CASCADE)),
                ('contact', fields.ForeignKeyField('crm.Contact', source_field='contact_id', null=True, db_constraint=True, to_field='id', related_name='activities', on_delete=OnDelete.CASCADE)),
                ('author', fields.ForeignKeyField('crm.User', source_field='author_id', null=True, db_constraint=True, to_field='id', related_name='activities', on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('text', fields.TextField(unique=False)),
            ],
            options={'table': 'activities', 'app': 'crm', 'indexes': [Index(fields=['company_id', 'created_at']), Index(fields=['contact_id', 'created_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CustomFieldSection',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=100)),
                ('description', fields.CharField(default='', max_length=255)),
                ('position', fields.IntField(default=0)),
            ],
            options={'table': 'custom_field_sections', 'app': 'crm', 'pk_attr': 'id', 'table_description': 'A block of company custom fields. Fields without one are "Without section".'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CustomField',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('entity', fields.CharEnumField(description='COMPANY: COMPANY\nCONTACT: CONTACT\nCONTRACT: CONTRACT\nLEAD: LEAD', enum_type=CustomFieldEntity, max_length=12)),
                ('owner_id', fields.IntField(null=True)),
                ('section', fields.ForeignKeyField('crm.CustomFieldSection', source_field='section_id', null=True, db_constraint=True, to_field='id', related_name='fields', on_delete=OnDelete.SET_NULL)),
                ('name', fields.CharField(max_length=100)),
                ('kind', fields.CharEnumField(description='CHECKBOX: CHECKBOX\nCOMBO: COMBO\nLINKED: LINKED\nDATE: DATE\nNUMERIC: NUMERIC\nTEXT: TEXT\nTEXTAREA: TEXTAREA', enum_type=CustomFieldKind, max_length=10)),
                ('position', fields.IntField(default=0)),
                ('options', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('parent', fields.ForeignKeyField('crm.CustomField', source_field='parent_id', null=True, db_constraint=True, to_field='id', related_name='children', on_delete=OnDelete.SET_NULL)),
                ('required', fields.BooleanField(default=False)),
                ('show_in_list', fields.BooleanField(default=False)),
                ('version', fields.IntField(default=1)),
            ],
            options={'table': 'custom_fields', 'app': 'crm', 'unique_together': (('entity', 'owner_id', 'name'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CustomFieldValue',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('field', fields.ForeignKeyField('crm.CustomField', source_field='field_id', db_constraint=True, to_field='id', related_name='values', on_delete=OnDelete.CASCADE)),
                ('object_id', fields.IntField()),
                ('value', fields.TextField(unique=False)),
            ],
            options={'table': 'custom_field_values', 'app': 'crm', 'unique_together': (('field', 'object_id'),), 'indexes': [Index(fields=['object_id', 'field_id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='StoredFile',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('owner_kind', fields.CharEnumField(description='COMPANY: COMPANY\nCONTACT: CONTACT\nCONTRACT: CONTRACT\nINVOICE: INVOICE\nLEAD: LEAD', enum_type=FileOwner, max_length=10)),
                ('owner_id', fields.IntField()),
                ('company_id', fields.IntField(null=True)),
                ('original_name', fields.CharField(max_length=255)),
                ('stored_name', fields.CharField(unique=True, max_length=80)),
                ('content_type', fields.CharField(default='application/octet-stream', max_length=120)),
                ('size', fields.BigIntField()),
                ('sha256', fields.CharField(max_length=64)),
                ('description', fields.CharField(default='', max_length=255)),
                ('uploader', fields.ForeignKeyField('crm.User', source_field='uploader_id', null=True, db_constraint=True, to_field='id', related_name='files', on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'files', 'app': 'crm', 'indexes': [Index(fields=['owner_kind', 'owner_id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Company',
            name='billing_cents',
            field=fields.BigIntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='Company',
            name='last_activity_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Company',
            name='path',
            field=fields.CharField(default='', db_default='', max_length=1000),
        ),
        ops.AddIndex(
            model_name='Company',
            index=Index(fields=['path']),
        ),
        ops.AddIndex(
            model_name='Company',
            index=Index(fields=['manager_id']),
        ),
        ops.AddIndex(
            model_name='Company',
            index=Index(fields=['parent_id']),
        ),
        ops.AddIndex(
            model_name='Company',
            index=Index(fields=['billing_cents', 'id']),
        ),
    ]
