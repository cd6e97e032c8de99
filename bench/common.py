"""What the benchmarks share: latency summaries and the ways of sending requests
(one at a time, interleaved between servers, and from concurrent clients)."""

from __future__ import annotations

import asyncio
import dataclasses
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "p50": statistics.median(samples),
        "p99": percentile(samples, 99),
        "mean": statistics.fmean(samples),
    }


async def concurrent(
    request: Callable[[], Awaitable[Any]], clients: int, warmup: int, n: int
) -> dict[str, float]:
    """`clients` tasks sharing `n` requests, each sending its next one when the last
    returns; latency per request, and requests per second over the whole run."""

    async def run(total: int, samples: list[float]) -> None:
        todo = iter(range(total))

        async def client() -> None:
            for _ in todo:
                started = time.perf_counter()
                await request()
                samples.append((time.perf_counter() - started) * 1000)

        await asyncio.gather(*(client() for _ in range(clients)))

    await run(max(warmup, clients * 2), [])
    samples: list[float] = []
    started = time.perf_counter()
    await run(n, samples)
    wall = time.perf_counter() - started
    return {**summary(samples), "rps": n / wall}


async def interleaved(
    calls: dict[str, Callable[[], Awaitable[Any]]], warmup: int, n: int
) -> dict[str, dict[str, float]]:
    """One request of each call in turn (their order alternating), `n` rounds: on a
    shared machine the load then weighs on all of them alike."""
    for _ in range(warmup):
        for call in calls.values():
            await call()
    samples: dict[str, list[float]] = {name: [] for name in calls}
    names = list(calls)
    for i in range(n):
        for name in names if i % 2 == 0 else reversed(names):
            started = time.perf_counter()
            await calls[name]()
            samples[name].append((time.perf_counter() - started) * 1000)
    return {name: summary(values) for name, values in samples.items()}


async def interleaved_concurrent(
    calls: dict[str, Callable[[], Awaitable[Any]]],
    clients: int,
    warmup: int,
    n: int,
    blocks: int = 4,
) -> dict[str, dict[str, float]]:
    """`concurrent` for each call in `blocks` alternating blocks of n/blocks requests;
    latencies pooled, requests per second over each call's blocks together."""
    for call in calls.values():
        await concurrent(call, clients, warmup, clients)
    parts: dict[str, list[dict[str, float]]] = {name: [] for name in calls}
    names = list(calls)
    for i in range(blocks):
        for name in names if i % 2 == 0 else reversed(names):
            parts[name].append(await concurrent(calls[name], clients, 0, max(n // blocks, 1)))
    out: dict[str, dict[str, float]] = {}
    for name, results in parts.items():
        seconds = sum(max(n // blocks, 1) / r["rps"] for r in results)
        out[name] = {
            "p50": statistics.median(r["p50"] for r in results),
            "p99": max(r["p99"] for r in results),
            "mean": statistics.fmean(r["mean"] for r in results),
            "rps": max(n // blocks, 1) * len(results) / seconds,
        }
    return out


@asynccontextmanager
async def executor_client(config: Any) -> AsyncIterator[Any]:
    """An HTTP client of a second app on the same settings with compiled reads off (the
    `--executor-too` measurements), started and stopped around the block."""
    import httpx

    from crm_graphql.app import create_app

    executor = create_app(dataclasses.replace(config, compiled_reads=False))
    async with (
        executor.router.lifespan_context(executor),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=executor, client=("127.0.0.1", 5000)),
            base_url="http://bench",
            timeout=60,
        ) as client,
    ):
        yield client
