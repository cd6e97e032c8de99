"""Benchmark: invoice PDFs with a warm renderer (issue: at least 15 PDFs/s on 2 cores).

Builds the seed's invoice with 10 concept lines in a temporary SQLite database, renders
its real printed HTML (services/documents.invoice_html) through the renderer pool
(services/pdf.Renderer, headless Chromium), and reports PDFs per second, the render
time p50/p99 one at a time and under load, and the memory of this process plus its
Chromium children every 100 renders (it must not grow).

    .venv/bin/python bench/pdf.py [--renders 1000] [--concurrency 4] [--pool 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from datetime import date
from pathlib import Path

_tmp = Path(tempfile.mkdtemp(prefix="crm-bench-pdf-"))
os.environ.setdefault("CRM_DATA_DIR", str(_tmp))
os.environ.setdefault("CRM_DATABASE_URL", f"sqlite://{_tmp / 'bench.sqlite3'}")

from tortoise import Tortoise  # noqa: E402

from crm_graphql.models.companies import Company  # noqa: E402
from crm_graphql.models.invoices import Invoice, InvoiceKind, InvoiceLine, InvoiceTax  # noqa: E402
from crm_graphql.services.database import apply_migrations  # noqa: E402
from crm_graphql.services.documents import invoice_html  # noqa: E402
from crm_graphql.services.pdf import Renderer, find_chromium  # noqa: E402
from crm_graphql.settings import settings, tortoise_config  # noqa: E402


def rss_tree_mib() -> int:
    """Resident memory of this process and all its descendants (Chromium), MiB."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                parent = int(stat.rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry))
            except OSError:
                pass
    total, stack = 0, [os.getpid()]
    while stack:
        pid = stack.pop()
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS"):
                    total += int(line.split()[1])
        except OSError:
            pass
        stack += children.get(pid, [])
    return total // 1024


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000


async def seed_invoice_html() -> str:
    company = await Company.create(
        name="Sample customer",
        fiscal_id="B-12345678",
        address="Hans Egedesvej 29, Nuuk",
        country="Greenland",
        path="",
    )
    invoice = await Invoice.create(
        company=company,
        kind=InvoiceKind.SUBMITTED,
        bill_id="21/1001",
        issued_on=date.today(),
        expires_on=date.today(),
        currency="EUR",
        discount_concept="Promotion",
        discount_percent=10,
        language="es",
    )
    for i in range(10):
        await InvoiceLine.create(
            invoice=invoice, position=i, concept=f"Concept {i}", amount_cents=24_000 * (i + 1)
        )
    await InvoiceTax.create(invoice=invoice, name="IVA", percent=21)
    return await invoice_html(invoice)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--renders", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--pool", type=int, default=2)
    args = parser.parse_args()

    config = tortoise_config(settings.database_url)
    await apply_migrations(config)
    await Tortoise.init(config=config)
    html = await seed_invoice_html()
    renderer = Renderer(executable=find_chromium() or "", pool_size=args.pool)
    for _ in range(10):  # warm-up: browser start, pages created
        await renderer.render(html)

    single: list[float] = []
    for _ in range(50):
        started = time.perf_counter()
        pdf = await renderer.render(html)
        single.append(time.perf_counter() - started)

    loaded: list[float] = []
    memory: list[int] = [rss_tree_mib()]
    queue = asyncio.Semaphore(args.concurrency)

    async def one() -> None:
        async with queue:
            started = time.perf_counter()
            await renderer.render(html)
            loaded.append(time.perf_counter() - started)
            if len(loaded) % 100 == 0:
                memory.append(rss_tree_mib())

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(args.renders)))
    elapsed = time.perf_counter() - started
    await renderer.close()
    await Tortoise.close_connections()

    print(f"one-page invoice, 10 lines, {len(html):,} bytes of HTML, {len(pdf):,} bytes of PDF")
    print(
        f"one at a time:       p50 {percentile(single, 0.5):6.1f} ms  "
        f"p99 {percentile(single, 0.99):6.1f} ms  ({1 / (sum(single) / len(single)):.1f} PDF/s)"
    )
    print(
        f"{args.renders} renders, {args.concurrency} in flight, pool {args.pool}: "
        f"{args.renders / elapsed:.1f} PDF/s, p50 {percentile(loaded, 0.5):.1f} ms, "
        f"p99 {percentile(loaded, 0.99):.1f} ms (queueing included)"
    )
    print(f"memory (this process + Chromium), MiB, every 100 renders: {memory}")


if __name__ == "__main__":
    asyncio.run(main())
