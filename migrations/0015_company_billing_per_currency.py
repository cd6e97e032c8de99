from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('crm', '0012_lead_pipeline_updated_index')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CompanyBilling',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('company', fields.ForeignKeyField('crm.Company', source_field='company_id', db_constraint=True, to_field='id', related_name='billings', on_delete=OnDelete.CASCADE)),
                ('currency', fields.CharField(max_length=3)),
                ('cents', fields.BigIntField()),
            ],
            options={'table': 'company_billings', 'app': 'crm', 'unique_together': (('company', 'currency'),), 'indexes': [Index(fields=['currency', 'cents', 'company_id'])], 'pk_attr': 'id', 'table_description': "A company's billing in one currency."},
            bases=['Model'],
        ),
        # Existing billing, per currency, from the invoices (what the invoicing service
        # keeps from now on); the old column added currencies together and is dropped.
        ops.RunSQL(
            "INSERT INTO company_billings (company_id, currency, cents) "
            "SELECT company_id, currency, SUM(base_cents) FROM invoices "
            "WHERE kind = 'SUBMITTED' AND status <> 'CANCELED' "
            "GROUP BY company_id, currency",
            reverse_sql="DELETE FROM company_billings",
        ),
        ops.RemoveIndex(
            model_name='Company',
            name=None,
            fields=['billing_cents', 'id'],
        ),
        ops.RemoveField(model_name='Company', name='billing_cents'),
    ]
