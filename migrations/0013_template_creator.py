from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('crm', '0012_lead_pipeline_updated_index')]

    initial = False

    operations = [
        ops.AddField(
            model_name='MailTemplate',
            name='creator',
            field=fields.ForeignKeyField('crm.User', source_field='creator_id', null=True, db_constraint=True, to_field='id', related_name='created_mail_templates', on_delete=OnDelete.SET_NULL),
        ),
        ops.AlterModelOptions(
            name='MailTemplate',
            options={'table': 'mail_templates', 'app': 'crm', 'unique_together': (('company', 'name', 'language'),), 'pk_attr': 'id', 'table_description': "A CRM template: its company's users use it; its creator and CM editors manage it."},
        ),
    ]
