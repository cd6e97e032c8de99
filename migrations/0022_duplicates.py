from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

from crm_graphql import values

# Duplicate detection (issue 18): matching keys computed in Python from existing rows
# (accents cannot be folded in SQL on both databases). New writes fill them themselves.
KEYS = {
    "companies": {
        "name_key": ("name", values.name_key, 255),
        "fiscal_key": ("fiscal_id", values.fiscal_key, 60),
        "domain_key": ("website", values.domain_key, 255),
    },
    "contacts": {
        "name_key": ("full_name", values.name_key, 255),
        "email_key": ("email", values.email_key, 254),
        "phone_key": ("phone", values.phone_key, 60),
        "mobile_key": ("mobile", values.phone_key, 60),
    },
    "leads": {
        "email_key": ("email", values.email_key, 254),
        "phone_key": ("phone", values.phone_key, 60),
        "mobile_key": ("mobile", values.phone_key, 60),
    },
}
BATCH = 5000


async def fill_keys(apps, schema_editor) -> None:
    client = schema_editor.client
    postgres = client.capabilities.dialect == "postgres"
    for table, keys in KEYS.items():
        sources = sorted({source for source, _, _ in keys.values()})
        names = list(keys)
        marks = [f"${i}" if postgres else "?" for i in range(1, len(names) + 2)]
        sets = ", ".join(f"{n} = {m}" for n, m in zip(names, marks))
        update = f"UPDATE {table} SET {sets} WHERE id = {marks[-1]}"
        last = 0
        while True:
            select = (
                f"SELECT id, {', '.join(sources)} FROM {table} "
                f"WHERE id > {int(last)} ORDER BY id LIMIT {BATCH}"
            )
            rows = (await client.execute_query(select))[1]
            if not rows:
                break
            await client.execute_many(
                update,
                [
                    [*(f(row[s])[:limit] for s, f, limit in keys.values()), row["id"]]
                    for row in rows
                ],
            )
            last = rows[-1]["id"]

class Migration(migrations.Migration):
    dependencies = [('crm', '0021_trash')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Company',
            name='domain_key',
            field=fields.CharField(default='', db_default='', max_length=255),
        ),
        ops.AddField(
            model_name='Company',
            name='fiscal_key',
            field=fields.CharField(default='', db_default='', max_length=60),
        ),
        ops.AddField(
            model_name='Company',
            name='name_key',
            field=fields.CharField(default='', db_default='', max_length=255),
        ),
        ops.AddIndex(
            model_name='Company',
            index=Index(fields=['name_key']),
        ),
        ops.AddIndex(
            model_name='Company',
            index=Index(fields=['fiscal_key']),
        ),
        ops.AddIndex(
            model_name='Company',
            index=Index(fields=['domain_key']),
        ),
        ops.AddField(
            model_name='Contact',
            name='email_key',
            field=fields.CharField(default='', db_default='', max_length=254),
        ),
        ops.AddField(
            model_name='Contact',
            name='mobile_key',
            field=fields.CharField(default='', db_default='', max_length=60),
        ),
        ops.AddField(
            model_name='Contact',
            name='name_key',
            field=fields.CharField(default='', db_default='', max_length=255),
        ),
        ops.AddField(
            model_name='Contact',
            name='phone_key',
            field=fields.CharField(default='', db_default='', max_length=60),
        ),
        ops.AddIndex(
            model_name='Contact',
            index=Index(fields=['name_key']),
        ),
        ops.AddIndex(
            model_name='Contact',
            index=Index(fields=['email_key']),
        ),
        ops.AddIndex(
            model_name='Contact',
            index=Index(fields=['phone_key']),
        ),
        ops.AddIndex(
            model_name='Contact',
            index=Index(fields=['mobile_key']),
        ),
        ops.AddField(
            model_name='Lead',
            name='email_key',
            field=fields.CharField(default='', db_default='', max_length=254),
        ),
        ops.AddField(
            model_name='Lead',
            name='mobile_key',
            field=fields.CharField(default='', db_default='', max_length=60),
        ),
        ops.AddField(
            model_name='Lead',
            name='phone_key',
            field=fields.CharField(default='', db_default='', max_length=60),
        ),
        ops.AddIndex(
            model_name='Lead',
            index=Index(fields=['email_key']),
        ),
        ops.AddIndex(
            model_name='Lead',
            index=Index(fields=['phone_key']),
        ),
        ops.AddIndex(
            model_name='Lead',
            index=Index(fields=['mobile_key']),
        ),
        ops.RunPython(fill_keys, ops.RunPython.noop),
    ]
