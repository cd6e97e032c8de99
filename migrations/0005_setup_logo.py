from tortoise import migrations
from tortoise.migrations import operations as ops
from crm_graphql.models.files import FileOwner
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('crm', '0004_contracts_invoices')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='StoredFile',
            name='owner_kind',
            field=fields.CharEnumField(description='COMPANY: COMPANY\nCONTACT: CONTACT\nCONTRACT: CONTRACT\nINVOICE: INVOICE\nLEAD: LEAD\nSETUP: SETUP', enum_type=FileOwner, max_length=10),
        ),
    ]
