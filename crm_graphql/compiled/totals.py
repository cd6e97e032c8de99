"""An invoice's computed amounts in SQL: the same arithmetic as
services.invoicing.compute_totals, which the resolvers run in Python. Every amount is
integer cents and every percentage integer ten-thousandths (numeric(7, 4)), so each
step is an exact integer product rounded half away from zero to a cent
(`Dialect.share`), as Decimal's ROUND_HALF_UP quantize does:

    base = sum of the lines; discount = share(base, discount%); subtotal = base -
    discount; each tax = share(subtotal, tax%); retention = share(subtotal, ret%);
    tax total = sum of the taxes.

A product is negative, and its zero prints "-0.00" as Decimal's does, when exactly one
factor is (negative amounts and percentages are not values the API stores, but the
arithmetic is the same)."""

from __future__ import annotations

from tortoise.models import Model

from crm_graphql.compiled.sql import Dialect, Unsupported, quote
from crm_graphql.models.invoices import Invoice, InvoiceLine, InvoiceTax

# Parts of an invoice's totals (catalog.Total); TAX is one tax row's amount.
DISCOUNT, SUBTOTAL, TAX_TOTAL, RETENTION, TAX = (
    "discount",
    "subtotal",
    "taxTotal",
    "retention",
    "tax",
)


def _table(model: type[Model]) -> str:
    return quote(model._meta.db_table)


def _column(model: type[Model], name: str) -> str:
    return quote(model._meta.fields_db_projection[name])


def _totals(d: Dialect, invoice_id: str) -> str:
    """The invoice `invoice_id` as one row of crm_b (base), crm_pd and crm_pr (discount
    and retention units), crm_d (discount) and crm_s (subtotal): each computed once,
    read as columns by the steps after it."""
    amount, parent = _column(InvoiceLine, "amount_cents"), _column(InvoiceLine, "invoice_id")
    base = (
        f"(SELECT COALESCE(SUM(crm_l.{amount}), 0) FROM {_table(InvoiceLine)} crm_l "  # noqa: S608
        f"WHERE crm_l.{parent} = crm_i.{_column(Invoice, 'id')})"
    )
    pd = d.percent_units(f"crm_i.{_column(Invoice, 'discount_percent')}")
    pr = d.percent_units(f"crm_i.{_column(Invoice, 'retention_percent')}")
    invoice = (
        f"SELECT {base} AS crm_b, {pd} AS crm_pd, {pr} AS crm_pr "  # noqa: S608
        f"FROM {_table(Invoice)} crm_i WHERE crm_i.{_column(Invoice, 'id')} = {invoice_id}"
    )
    discount = d.share("crm_z1.crm_b", "crm_z1.crm_pd")
    discounted = f"SELECT crm_z1.*, {discount} AS crm_d FROM ({invoice}) crm_z1"  # noqa: S608
    return f"SELECT crm_z2.*, crm_z2.crm_b - crm_z2.crm_d AS crm_s FROM ({discounted}) crm_z2"  # noqa: S608


def total_sql(d: Dialect, part: str, invoice_id: str, tax_percent: str | None = None) -> str:
    """The JSON value (the API's decimal text) of `part` of the invoice whose id is the
    SQL `invoice_id`; for TAX, of the tax whose percentage column is `tax_percent`."""
    totals = _totals(d, invoice_id)
    if part == TAX_TOTAL:
        percent = _column(InvoiceTax, "percent")
        share = d.share("crm_z.crm_s", d.percent_units(f"crm_x.{percent}"))
        summed = (
            f"SELECT COALESCE(SUM({share}), 0) AS crm_v FROM ({totals}) crm_z "  # noqa: S608
            f"JOIN {_table(InvoiceTax)} crm_x ON crm_x.{_column(InvoiceTax, 'invoice_id')} "
            f"= {invoice_id}"
        )
        return f"(SELECT {d.exact_money('crm_w.crm_v')} FROM ({summed}) crm_w)"  # noqa: S608
    if part == SUBTOTAL:
        return f"(SELECT {d.exact_money('crm_z.crm_s')} FROM ({totals}) crm_z)"  # noqa: S608
    if part == DISCOUNT:
        amount, units = "crm_z.crm_b", "crm_z.crm_pd"
    elif part == RETENTION:
        amount, units = "crm_z.crm_s", "crm_z.crm_pr"
    elif part == TAX and tax_percent is not None:
        amount, units = "crm_z.crm_s", d.percent_units(tax_percent)
    else:
        raise Unsupported(f"invoice total {part}")
    value = (
        f"SELECT {d.share(amount, units)} AS crm_v, {d.opposite(amount, units)} AS crm_n "  # noqa: S608
        f"FROM ({totals}) crm_z"
    )
    return f"(SELECT {d.exact_money('crm_w.crm_v', 'crm_w.crm_n')} FROM ({value}) crm_w)"  # noqa: S608
