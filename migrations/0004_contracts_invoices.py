from tortoise import migrations
from tortoise.migrations import operations as ops
from crm_graphql.models.contracts import ContractStatus
from crm_graphql.models.invoices import InvoiceKind, InvoiceStatus
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('crm', '0003_companies_domain')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ContractType',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=100)),
                ('description', fields.CharField(default='', max_length=255)),
            ],
            options={'table': 'contract_types', 'app': 'crm', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Contract',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('company', fields.ForeignKeyField('crm.Company', source_field='company_id', db_constraint=True, to_field='id', related_name='contracts', on_delete=OnDelete.CASCADE)),
                ('reference', fields.CharField(max_length=200)),
                ('number', fields.CharField(null=True, unique=True, max_length=100)),
                ('description', fields.TextField(default='', unique=False)),
                ('date_begin', fields.DateField()),
                ('date_end', fields.DateField(null=True)),
                ('status', fields.CharEnumField(default=ContractStatus.ACTIVE, description='INACTIVE: INACTIVE\nACTIVE: ACTIVE\nPENDING: PENDING', enum_type=ContractStatus, max_length=10)),
                ('private', fields.BooleanField(default=False)),
                ('contract_type', fields.ForeignKeyField('crm.ContractType', source_field='contract_type_id', null=True, db_constraint=True, to_field='id', related_name='contracts', on_delete=OnDelete.SET_NULL)),
                ('owner', fields.ForeignKeyField('crm.User', source_field='owner_id', null=True, db_constraint=True, to_field='id', related_name='owned_contracts', on_delete=OnDelete.SET_NULL)),
                ('sla_id', fields.IntField(null=True)),
                ('group_id', fields.IntField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('version', fields.IntField(default=1)),
            ],
            options={'table': 'contracts', 'app': 'crm', 'unique_together': (('company', 'reference'),), 'indexes': [Index(fields=['status', 'date_end']), Index(fields=['company_id', 'date_begin'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ContractLink',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('contract', fields.ForeignKeyField('crm.Contract', source_field='contract_id', db_constraint=True, to_field='id', related_name='links_out', on_delete=OnDelete.CASCADE)),
                ('related', fields.ForeignKeyField('crm.Contract', source_field='related_id', db_constraint=True, to_field='id', related_name='links_in', on_delete=OnDelete.CASCADE)),
            ],
            options={'table': 'contract_links', 'app': 'crm', 'unique_together': (('contract', 'related'),), 'indexes': [Index(fields=['related_id'])], 'pk_attr': 'id', 'table_description': 'Related contracts, stored once per pair with the lower id first.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CrmSetup',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('invoice_auto_number', fields.BooleanField(default=True)),
                ('invoice_pattern', fields.CharField(default='[1]', max_length=100)),
                ('invoice_header', fields.TextField(default='', unique=False)),
                ('invoice_logo_file_id', fields.IntField(null=True)),
                ('invoice_footer', fields.TextField(default='', unique=False)),
                ('tax_name', fields.CharField(default='VAT', max_length=50)),
                ('default_currency', fields.CharField(default='EUR', max_length=3)),
                ('default_tax_percent', fields.DecimalField(default=21, max_digits=7, decimal_places=4)),
                ('version', fields.IntField(default=1)),
            ],
            options={'table': 'crm_setup', 'app': 'crm', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Invoice',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('company', fields.ForeignKeyField('crm.Company', source_field='company_id', db_constraint=True, to_field='id', related_name='invoices', on_delete=OnDelete.RESTRICT)),
                ('kind', fields.CharEnumField(description='SUBMITTED: SUBMITTED\nRECEIVED: RECEIVED', enum_type=InvoiceKind, max_length=10)),
                ('bill_id', fields.CharField(unique=True, max_length=100)),
                ('reference', fields.CharField(default='', max_length=200)),
                ('status', fields.CharEnumField(default=InvoiceStatus.PENDING, description='PENDING: PENDING\nPAID: PAID\nCANCELED: CANCELED', enum_type=InvoiceStatus, max_length=10)),
                ('issued_on', fields.DateField()),
                ('expires_on', fields.DateField(null=True)),
                ('paid_on', fields.DateField(null=True)),
                ('language', fields.CharField(default='en', max_length=10)),
                ('currency', fields.CharField(default='EUR', max_length=3)),
                ('discount_concept', fields.CharField(default='', max_length=200)),
                ('discount_percent', fields.DecimalField(default=0, max_digits=7, decimal_places=4)),
                ('retention_concept', fields.CharField(default='', max_length=200)),
                ('retention_percent', fields.DecimalField(default=0, max_digits=7, decimal_places=4)),
                ('description', fields.TextField(default='', unique=False)),
                ('internal_note', fields.TextField(default='', unique=False)),
                ('locked', fields.BooleanField(default=False)),
                ('locked_by', fields.ForeignKeyField('crm.User', source_field='locked_by_id', null=True, db_constraint=True, to_field='id', related_name='locked_invoices', on_delete=OnDelete.SET_NULL)),
                ('base_cents', fields.BigIntField(default=0)),
                ('total_cents', fields.BigIntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('version', fields.IntField(default=1)),
            ],
            options={'table': 'invoices', 'app': 'crm', 'indexes': [Index(fields=['company_id', 'issued_on']), Index(fields=['issued_on', 'id']), Index(fields=['kind', 'status']), Index(fields=['currency', 'issued_on'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ContractInvoice',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('contract', fields.ForeignKeyField('crm.Contract', source_field='contract_id', db_constraint=True, to_field='id', related_name='invoice_links', on_delete=OnDelete.CASCADE)),
                ('invoice', fields.ForeignKeyField('crm.Invoice', source_field='invoice_id', db_constraint=True, to_field='id', related_name='contract_links', on_delete=OnDelete.CASCADE)),
            ],
            options={'table': 'contract_invoices', 'app': 'crm', 'unique_together': (('contract', 'invoice'),), 'indexes': [Index(fields=['invoice_id'])], 'pk_attr': 'id', 'table_description': 'A contract and an invoice related to it (many-to-many).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='InvoiceLine',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('invoice', fields.ForeignKeyField('crm.Invoice', source_field='invoice_id', db_constraint=True, to_field='id', related_name='lines', on_delete=OnDelete.CASCADE)),
                ('position', fields.IntField(default=0)),
                ('concept', fields.CharField(max_length=500)),
                ('amount_cents', fields.BigIntField()),
            ],
            options={'table': 'invoice_lines', 'app': 'crm', 'indexes': [Index(fields=['invoice_id', 'position'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='InvoiceTax',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('invoice', fields.ForeignKeyField('crm.Invoice', source_field='invoice_id', db_constraint=True, to_field='id', related_name='taxes', on_delete=OnDelete.CASCADE)),
                ('position', fields.IntField(default=0)),
                ('name', fields.CharField(max_length=100)),
                ('percent', fields.DecimalField(max_digits=7, decimal_places=4)),
            ],
            options={'table': 'invoice_taxes', 'app': 'crm', 'indexes': [Index(fields=['invoice_id', 'position'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PaymentMethod',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=100)),
                ('text', fields.TextField(default='', unique=False)),
            ],
            options={'table': 'payment_methods', 'app': 'crm', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
