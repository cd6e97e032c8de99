from tortoise import migrations
from tortoise.migrations import operations as ops
from crm_graphql.models.invoices import InvoicePdfStatus
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('crm', '0015_case_insensitive_keys')]

    initial = False

    operations = [
        ops.CreateModel(
            name='FileBlob',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('stored_name', fields.CharField(max_length=80)),
                ('seq', fields.IntField()),
                ('data', fields.BinaryField()),
            ],
            options={'table': 'file_blobs', 'app': 'crm', 'unique_together': (('stored_name', 'seq'),), 'pk_attr': 'id', 'table_description': 'File bytes kept in the database (the `database` file store, shared by every'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Invoice',
            name='pdf_attempts',
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='Invoice',
            name='pdf_due_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Invoice',
            name='pdf_error',
            field=fields.CharField(default='', db_default='', max_length=500),
        ),
        ops.AddField(
            model_name='Invoice',
            name='pdf_seq',
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='Invoice',
            name='pdf_status',
            field=fields.CharEnumField(null=True, description='PENDING: PENDING\nREADY: READY\nFAILED: FAILED', enum_type=InvoicePdfStatus, max_length=10),
        ),
        ops.AddIndex(
            model_name='Invoice',
            index=Index(fields=['pdf_status', 'pdf_due_at']),
        ),
        # Invoices made before rendering moved after commit already have their PDF.
        ops.RunSQL(
            "UPDATE invoices SET pdf_status = 'READY' WHERE kind = 'SUBMITTED'",
            reverse_sql="SELECT 1",
        ),
    ]
