"""Logs hold no secrets, and the client address is the peer's unless a trusted proxy
says otherwise: `crm-graphql serve` under real uvicorn in a child process, its output
(access log included) captured and searched."""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.mailservers import free_port
from tests.uvicorn_servers import CLI, wait_ready

FEED_SECRET = "cal_FeedSecret0123456789abcdefghijklmnop"
PASS_SECRET = "crm_PassSecret0123456789abcdefghijklmnop"
OTHER_SECRET = "NotOurFormatButSecret42"
FORGED = "203.0.113.9"


def _serve(tmp_path: Path, **env: str) -> tuple[subprocess.Popen[str], str]:
    environment = {
        **os.environ,
        "CRM_DATABASE_URL": f"sqlite://{tmp_path / 'log.sqlite3'}",
        "CRM_DATA_DIR": str(tmp_path),
        "CRM_MODE": "production",
        **env,
    }
    port = free_port()
    process = subprocess.Popen(
        [*CLI, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"

    def output() -> str:
        process.kill()
        return process.stdout.read() if process.stdout else ""

    wait_ready(base, process, 120, output)
    return process, base


def _stop(process: subprocess.Popen[str]) -> str:
    process.terminate()
    output, _ = process.communicate(timeout=10)
    return output


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    process, base = _serve(tmp_path)
    try:
        yield process, base
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)


def test_the_access_log_redacts_tokens_and_ignores_forwarded_for(
    served: tuple[subprocess.Popen[str], str],
) -> None:
    process, base = served
    forged = {"X-Forwarded-For": FORGED}
    with httpx.Client(base_url=base, timeout=10, headers=forged) as http:
        assert http.get(f"/calendar/{FEED_SECRET}.ics").status_code == 404
        api = http.get(
            "/include/api.php",
            params={"op": "create_lead", "params": "Ann,Acme,a@b.example", "pass": PASS_SECRET},
        )
        assert api.status_code == 401
        # Percent-encoded parameter names are the same parameters to the server
        http.get(f"/include/api.php?op=create_lead&p%61ss={OTHER_SECRET}1")
        http.get(f"/include/api.php?user_pass={OTHER_SECRET}2&token={OTHER_SECRET}3")
        http.get(f"/healthz?token={OTHER_SECRET}4;pass={OTHER_SECRET}5")
    output = _stop(process)
    assert '"GET /calendar/***.ics HTTP/1.1" 404' in output, output
    assert "pass=***" in output and "p%61ss=***" in output and "user_pass=***" in output
    for secret in (FEED_SECRET, PASS_SECRET, OTHER_SECRET, "PassSecret", "FeedSecret"):
        assert secret not in output, output
    # No proxy is trusted by default: the address is the peer's, not the forged one
    assert "127.0.0.1:" in output and FORGED not in output


def test_a_listed_proxy_is_believed(tmp_path: Path) -> None:
    process, base = _serve(tmp_path, CRM_TRUSTED_PROXIES="127.0.0.1")
    try:
        httpx.get(f"{base}/healthz", headers={"X-Forwarded-For": FORGED}, timeout=10)
    finally:
        output = _stop(process)
    assert f"{FORGED}:0 - " in output or f"{FORGED} - " in output, output


def test_app_log_records_are_redacted(app: object, caplog: pytest.LogCaptureFixture) -> None:
    """The app's own loggers (create_app installed the redaction for the process)."""
    with caplog.at_level(logging.INFO):
        logging.getLogger("crm_graphql.test").info(
            "feed %s and %s", f"/calendar/{FEED_SECRET}.ics", f"/x?pass={PASS_SECRET}"
        )
        logging.getLogger("crm_graphql.test").info(f"bearer {PASS_SECRET} in a message")
    text = caplog.text
    assert FEED_SECRET not in text and PASS_SECRET not in text
    assert "/calendar/***.ics" in text and "pass=***" in text and "crm_***" in text
