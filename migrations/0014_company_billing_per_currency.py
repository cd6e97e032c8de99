from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class DropColumn(ops.RemoveField):
    """RemoveField with a plain ALTER TABLE ... DROP COLUMN: on SQLite, RemoveField
    rebuilds the table, and dropping the old `companies` fails the foreign keys of
    every invoice, contact... that points at it (foreign_keys cannot be turned off
    inside the migration's transaction). SQLite >= 3.35 and PostgreSQL drop the column
    in place once its index is gone."""

    async def database_forward(self, app_label, old_state, new_state, state_editor=None):
        if not state_editor:
            return
        model = old_state.apps.get_model(f"{app_label}.{self.model_name}")
        await state_editor.client.execute_script(
            f'ALTER TABLE "{model._meta.db_table}" DROP COLUMN "{self.name}"'
        )


class Migration(migrations.Migration):
    dependencies = [('crm', '0013_template_creator')]

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
        DropColumn(model_name='Company', name='billing_cents'),
    ]
