from tortoise import migrations
from tortoise.migrations import operations as ops
from crm_graphql.models.leads import LeadActivityKind, LeadHistoryKind
from crm_graphql.models.mail import InboundState, OutgoingState
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('crm', '0009_generated_files')]

    initial = False

    operations = [
        ops.CreateModel(
            name='LeadTag',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=60)),
                ('colour', fields.CharField(default='#808080', max_length=7)),
            ],
            options={'table': 'lead_tags', 'app': 'crm', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LeadType',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=100)),
                ('description', fields.CharField(default='', max_length=255)),
            ],
            options={'table': 'lead_types', 'app': 'crm', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Lead',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('full_name', fields.CharField(max_length=200)),
                ('email', fields.CharField(default='', max_length=254)),
                ('phone', fields.CharField(default='', max_length=60)),
                ('mobile', fields.CharField(default='', max_length=60)),
                ('position', fields.CharField(default='', max_length=100)),
                ('prospect_company', fields.CharField(default='', max_length=200)),
                ('country', fields.CharField(default='', max_length=100)),
                ('language', fields.CharField(default='', max_length=10)),
                ('product', fields.CharField(default='', max_length=100)),
                ('lead_type', fields.ForeignKeyField('crm.LeadType', source_field='lead_type_id', null=True, db_constraint=True, to_field='id', related_name='leads', on_delete=OnDelete.SET_NULL)),
                ('channel', fields.CharField(default='', max_length=60)),
                ('estimated_sale_cents', fields.BigIntField(default=0)),
                ('currency', fields.CharField(default='EUR', max_length=3)),
                ('close_date', fields.DateField(null=True)),
                ('close_key', fields.IntField(default=99991231)),
                ('progress', fields.IntField(default=0)),
                ('owner', fields.ForeignKeyField('crm.User', source_field='owner_id', null=True, db_constraint=True, to_field='id', related_name='owned_leads', on_delete=OnDelete.SET_NULL)),
                ('company', fields.ForeignKeyField('crm.Company', source_field='company_id', null=True, db_constraint=True, to_field='id', related_name='leads', on_delete=OnDelete.SET_NULL)),
                ('executive_overview', fields.TextField(default='', unique=False)),
                ('description', fields.TextField(default='', unique=False)),
                ('alarm_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('duplicate', fields.BooleanField(default=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('version', fields.IntField(default=1)),
            ],
            options={'table': 'leads', 'app': 'crm', 'indexes': [Index(fields=['progress', 'estimated_sale_cents']), Index(fields=['owner_id', 'progress']), Index(fields=['company_id', 'progress']), Index(fields=['created_at']), Index(fields=['updated_at']), Index(fields=['email'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='InboundMail',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('uidvalidity', fields.BigIntField()),
                ('uid', fields.BigIntField()),
                ('message_id', fields.CharField(default='', max_length=255)),
                ('lead', fields.ForeignKeyField('crm.Lead', source_field='lead_id', null=True, db_constraint=True, to_field='id', related_name='inbound_mails', on_delete=OnDelete.SET_NULL)),
                ('state', fields.CharEnumField(description='FILED: FILED\nSKIPPED: SKIPPED', enum_type=InboundState, max_length=10)),
                ('reason', fields.TextField(default='', unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'inbound_mails', 'app': 'crm', 'unique_together': (('uidvalidity', 'uid'),), 'indexes': [Index(fields=['message_id'])], 'pk_attr': 'id', 'table_description': 'A message of the reference mailbox the poller has dealt with, so it is filed once.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LeadActivity',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('lead', fields.ForeignKeyField('crm.Lead', source_field='lead_id', db_constraint=True, to_field='id', related_name='activities', on_delete=OnDelete.CASCADE)),
                ('author', fields.ForeignKeyField('crm.User', source_field='author_id', null=True, db_constraint=True, to_field='id', related_name='lead_activities', on_delete=OnDelete.SET_NULL)),
                ('kind', fields.CharEnumField(default=LeadActivityKind.NOTE, description='NOTE: NOTE\nMAIL_SENT: MAIL_SENT\nMAIL_RECEIVED: MAIL_RECEIVED\nFORWARDED: FORWARDED', enum_type=LeadActivityKind, max_length=15)),
                ('sender', fields.CharField(default='', max_length=320)),
                ('subject', fields.CharField(default='', max_length=500)),
                ('text', fields.TextField(unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'lead_activities', 'app': 'crm', 'indexes': [Index(fields=['lead_id', 'created_at'])], 'pk_attr': 'id', 'table_description': 'A note on a lead, or the body of a mail sent from it or received for it.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LeadHistory',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('lead', fields.ForeignKeyField('crm.Lead', source_field='lead_id', db_constraint=True, to_field='id', related_name='history', on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('crm.User', source_field='user_id', null=True, db_constraint=True, to_field='id', related_name='lead_history', on_delete=OnDelete.SET_NULL)),
                ('kind', fields.CharEnumField(description='CREATED: CREATED\nUPDATED: UPDATED\nPROGRESS: PROGRESS\nESTIMATED_SALE: ESTIMATED_SALE\nCLOSE_DATE: CLOSE_DATE\nOWNER_TAKEN: OWNER_TAKEN\nOWNER_CHANGED: OWNER_CHANGED\nCLOSED: CLOSED\nMAIL_SENT: MAIL_SENT\nMAIL_RECEIVED: MAIL_RECEIVED\nFORWARDED: FORWARDED', enum_type=LeadHistoryKind, max_length=20)),
                ('description', fields.TextField(unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'lead_history', 'app': 'crm', 'indexes': [Index(fields=['lead_id', 'id'])], 'pk_attr': 'id', 'table_description': 'One line per event, written by the server only.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LeadTagLink',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('lead', fields.ForeignKeyField('crm.Lead', source_field='lead_id', db_constraint=True, to_field='id', related_name='tag_links', on_delete=OnDelete.CASCADE)),
                ('tag', fields.ForeignKeyField('crm.LeadTag', source_field='tag_id', db_constraint=True, to_field='id', related_name='lead_links', on_delete=OnDelete.CASCADE)),
            ],
            options={'table': 'lead_tag_links', 'app': 'crm', 'unique_together': (('lead', 'tag'),), 'indexes': [Index(fields=['tag_id', 'lead_id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MailTemplate',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=100)),
                ('language', fields.CharField(default='', max_length=10)),
                ('subject', fields.CharField(default='', max_length=255)),
                ('company', fields.ForeignKeyField('crm.Company', source_field='company_id', null=True, db_constraint=True, to_field='id', related_name='mail_templates', on_delete=OnDelete.CASCADE)),
                ('body_html', fields.TextField(default='', unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'mail_templates', 'app': 'crm', 'unique_together': (('company', 'name', 'language'),), 'pk_attr': 'id', 'table_description': 'A CRM template: only users of its managing company see and use it.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MailboxState',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('lease_holder', fields.CharField(default='', max_length=64)),
                ('lease_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_poll_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_success_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_error', fields.TextField(default='', unique=False)),
                ('filed_total', fields.IntField(default=0)),
            ],
            options={'table': 'mailbox_state', 'app': 'crm', 'pk_attr': 'id', 'table_description': "One row: the poller's lease (one poller at a time across processes) and status."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OutgoingMail',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('lead', fields.ForeignKeyField('crm.Lead', source_field='lead_id', null=True, db_constraint=True, to_field='id', related_name='outgoing_mails', on_delete=OnDelete.SET_NULL)),
                ('sender', fields.ForeignKeyField('crm.User', source_field='sender_id', null=True, db_constraint=True, to_field='id', related_name='outgoing_mails', on_delete=OnDelete.SET_NULL)),
                ('mail_from', fields.CharField(max_length=320)),
                ('recipients', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('subject', fields.CharField(default='', max_length=500)),
                ('message_id', fields.CharField(default='', max_length=255)),
                ('content', fields.BinaryField()),
                ('state', fields.CharEnumField(default=OutgoingState.QUEUED, description='QUEUED: QUEUED\nSENT: SENT\nFAILED: FAILED', enum_type=OutgoingState, max_length=10)),
                ('attempts', fields.IntField(default=0)),
                ('last_error', fields.TextField(default='', unique=False)),
                ('next_attempt_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('claimed_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('claimed_by', fields.CharField(default='', max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'outgoing_mails', 'app': 'crm', 'indexes': [Index(fields=['state', 'next_attempt_at'])], 'pk_attr': 'id', 'table_description': 'A message waiting for (or done with) delivery. Written in the same transaction as'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SavedLeadSearch',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('crm.User', source_field='user_id', db_constraint=True, to_field='id', related_name='saved_lead_searches', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=100)),
                ('filter_json', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'saved_lead_searches', 'app': 'crm', 'unique_together': (('user', 'name'),), 'pk_attr': 'id', 'table_description': "A user's named lead filter (the LeadFilter input as JSON)."},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='CrmSetup',
            name='imap_host',
            field=fields.CharField(default='', db_default='', max_length=255),
        ),
        ops.AddField(
            model_name='CrmSetup',
            name='imap_password',
            field=fields.CharField(default='', db_default='', max_length=255),
        ),
        ops.AddField(
            model_name='CrmSetup',
            name='imap_port',
            field=fields.IntField(default=143, db_default=143),
        ),
        ops.AddField(
            model_name='CrmSetup',
            name='imap_ssl',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddField(
            model_name='CrmSetup',
            name='imap_username',
            field=fields.CharField(default='', db_default='', max_length=255),
        ),
        ops.AddField(
            model_name='CrmSetup',
            name='lead_channels',
            field=fields.JSONField(default=list, db_default='[]', encoder=JSON_DUMPS, decoder=loads),
        ),
        ops.AddField(
            model_name='CrmSetup',
            name='lead_progress_names',
            field=fields.JSONField(default=dict, db_default='{}', encoder=JSON_DUMPS, decoder=loads),
        ),
        ops.AddField(
            model_name='CrmSetup',
            name='lead_stale_days',
            field=fields.IntField(default=30, db_default=30),
        ),
        ops.AddField(
            model_name='CrmSetup',
            name='mail_poll_seconds',
            field=fields.IntField(default=300, db_default=300),
        ),
        ops.AddField(
            model_name='CrmSetup',
            name='mail_reference_address',
            field=fields.CharField(default='', db_default='', max_length=254),
        ),
        ops.AddField(
            model_name='CrmSetup',
            name='smtp_host',
            field=fields.CharField(default='', db_default='', max_length=255),
        ),
        ops.AddField(
            model_name='CrmSetup',
            name='smtp_password',
            field=fields.CharField(default='', db_default='', max_length=255),
        ),
        ops.AddField(
            model_name='CrmSetup',
            name='smtp_port',
            field=fields.IntField(default=25, db_default=25),
        ),
        ops.AddField(
            model_name='CrmSetup',
            name='smtp_security',
            field=fields.CharField(default='NONE', db_default='NONE', max_length=10),
        ),
        ops.AddField(
            model_name='CrmSetup',
            name='smtp_username',
            field=fields.CharField(default='', db_default='', max_length=255),
        ),
    ]
