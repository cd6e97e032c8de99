"""Statement counts are the counting context's own: a loop that runs beside it in the
same process (the PDF queue, the mail workers) adds nothing, while the tasks the counted
code starts (DataLoader batches, gathered resolvers) are counted."""

from __future__ import annotations

import asyncio

from crm_graphql.models.companies import Company
from crm_graphql.services.sqlcount import count_statements
from tests.factories import Api


async def _exists() -> bool:
    return await Company.exists()


async def test_a_background_loop_is_not_counted_but_started_tasks_are(demo: Api) -> None:
    go, done = asyncio.Event(), asyncio.Event()

    async def background() -> None:
        await go.wait()
        await Company.all().count()
        done.set()

    loop = asyncio.create_task(background())  # started outside the count, like a worker
    with count_statements() as statements:
        go.set()
        await done.wait()
        started = asyncio.create_task(_exists())  # a task the counted code starts
        await asyncio.gather(Company.all().count(), started)
    await loop
    assert len(statements) == 2, statements
