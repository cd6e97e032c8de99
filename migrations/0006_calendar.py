from tortoise import migrations
from tortoise.migrations import operations as ops
from crm_graphql.models.calendar import CalendarEventKind
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('crm', '0005_setup_logo')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CalendarEvent',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('owner', fields.ForeignKeyField('crm.User', source_field='owner_id', db_constraint=True, to_field='id', related_name='calendar_events', on_delete=OnDelete.CASCADE)),
                ('title', fields.CharField(max_length=200)),
                ('description', fields.TextField(default='', unique=False)),
                ('starts_on', fields.DateField()),
                ('starts_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('kind', fields.CharEnumField(default=CalendarEventKind.OTHER, description='INVOICE_DUE: INVOICE_DUE\nLEAD_ALARM: LEAD_ALARM\nOTHER: OTHER', enum_type=CalendarEventKind, max_length=20)),
                ('object_type', fields.CharField(default='', max_length=40)),
                ('object_id', fields.IntField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'calendar_events', 'app': 'crm', 'unique_together': (('owner', 'kind', 'object_type', 'object_id'),), 'indexes': [Index(fields=['owner_id', 'starts_on'])], 'pk_attr': 'id', 'table_description': "One event of one user's calendar."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CalendarFeed',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('crm.User', source_field='user_id', db_constraint=True, to_field='id', related_name='calendar_feeds', on_delete=OnDelete.CASCADE)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('prefix', fields.CharField(default='', max_length=16)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'calendar_feeds', 'app': 'crm', 'pk_attr': 'id', 'table_description': "A user's iCalendar feed URL token. Only its SHA-256 is kept."},
            bases=['Model'],
        ),
    ]
