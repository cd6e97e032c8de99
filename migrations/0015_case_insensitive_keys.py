from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

# Existing duplicates are NOT merged or renamed silently: the migration stops and lists
# them, so whoever runs it decides which to rename or merge (issue 12, item 9).
DUPLICATE_CONTACTS = (
    "SELECT c.company_id, LOWER(c.email) AS email, COUNT(*) AS n FROM contacts c "
    "GROUP BY c.company_id, LOWER(c.email) HAVING COUNT(*) > 1 ORDER BY 1, 2"
)
DUPLICATE_COMPANIES = (
    "SELECT LOWER(name) AS name, COUNT(*) AS n FROM companies "
    "GROUP BY LOWER(name) HAVING COUNT(*) > 1 ORDER BY 1"
)


async def refuse_duplicates(apps, schema_editor) -> None:
    client = schema_editor.client
    problems = []
    for row in (await client.execute_query(DUPLICATE_CONTACTS))[1]:
        problems.append(
            f"company {row['company_id']}: {row['n']} contacts with e-mail {row['email']!r}"
        )
    for row in (await client.execute_query(DUPLICATE_COMPANIES))[1]:
        problems.append(f"{row['n']} companies named {row['name']!r} (ignoring case)")
    if problems:
        shown = "\n  ".join(problems[:50])
        more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
        raise RuntimeError(
            "Cannot make contact e-mails (per company) and company names unique ignoring "
            "case: rename or merge these first, then run `crm-graphql migrate` again "
            f"(this migration changed nothing):\n  {shown}{more}"
        )


class Migration(migrations.Migration):
    dependencies = [('crm', '0014_company_billing_per_currency')]

    initial = False

    operations = [
        ops.RunPython(refuse_duplicates, ops.RunPython.noop),
        ops.RunSQL(
            "CREATE UNIQUE INDEX contacts_company_email_ci ON contacts (company_id, LOWER(email))",
            reverse_sql="DROP INDEX contacts_company_email_ci",
        ),
        ops.RunSQL(
            "CREATE UNIQUE INDEX companies_name_ci ON companies (LOWER(name))",
            reverse_sql="DROP INDEX companies_name_ci",
        ),
        # Invoices sorted by their last change (issue 12, item 11).
        ops.AddIndex(
            model_name='Invoice',
            index=Index(fields=['updated_at', 'id']),
        ),
    ]
