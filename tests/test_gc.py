"""The collector tuning keeps memory flat: after `tune_garbage_collector` the start-up
objects are frozen and the thresholds let full collections happen, so reference cycles
that outlive a request (as concurrent requests' objects do) do not pile up. Measured on
the server in bench/gc_memory.py; this guards the policy in a child interpreter."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import collections, gc, json, sys
from crm_graphql.app import tune_garbage_collector
tune_garbage_collector()
thresholds, frozen = gc.get_threshold(), gc.get_freeze_count()
# Like requests in flight: each object lives a while (a window of 30,000), then dies as
# a reference cycle that only the collector can free.
window = collections.deque(maxlen=30_000)
baseline = len(gc.get_objects())
peak = 0
for i in range(600_000):
    a = {}
    a["self"] = [a]
    window.append(a)
    if i % 10_000 == 0:
        peak = max(peak, len(gc.get_objects()) - baseline)
print(json.dumps({"thresholds": thresholds, "frozen": frozen, "peak": peak}))
"""


def test_the_collector_frees_cycles_that_outlive_requests() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["frozen"] > 10_000  # start-up objects are out of the scans
    # A full collection at least every million allocations...
    first, second, third = found["thresholds"]
    assert first * second * third <= 1_000_000
    # ...and the garbage stays near the live window (2 objects per cycle, 60,000 live):
    # the former (50_000, 20, 100) let it reach several hundred thousand objects.
    assert found["peak"] < 250_000, found
