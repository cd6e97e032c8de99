"""Configuration read once from environment variables, with defaults for a laptop.

`TORTOISE_ORM` is also what the `tortoise` migration CLI reads
(`tortoise -c crm_graphql.settings.TORTOISE_ORM ...`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MODEL_MODULES = [
    "crm_graphql.models.users",
    "crm_graphql.models.companies",
    "crm_graphql.models.auth",
    "crm_graphql.models.audit",
    "crm_graphql.models.customfields",
    "crm_graphql.models.contacts",
    "crm_graphql.models.activities",
    "crm_graphql.models.files",
    "crm_graphql.models.contracts",
    "crm_graphql.models.invoices",
    "crm_graphql.models.setup",
    "crm_graphql.models.calendar",
    "crm_graphql.models.templates",
    "crm_graphql.models.leads",
    "crm_graphql.models.mail",
    "crm_graphql.models.idempotency",
    "crm_graphql.models.events",
    "crm_graphql.models.trash",
    "crm_graphql.models.webhooks",
]


class ConfigError(ValueError):
    """A CRM_* variable holds something unusable; the message names it and the form
    expected (the CLI prints it without a traceback)."""


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(
            f"{name} must be a whole number such as {default}; got {raw!r}."
        ) from None
    if value < 0:
        raise ConfigError(f"{name} must be 0 or more; got {raw!r}.")
    return value


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw.strip())
    except ValueError:
        raise ConfigError(f"{name} must be a number such as {default:g}; got {raw!r}.") from None
    if not value >= 0:  # also refuses nan
        raise ConfigError(f"{name} must be 0 or more; got {raw!r}.")
    return value


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    value = raw.strip().lower()
    if value not in _TRUE | _FALSE:
        raise ConfigError(
            f"{name} must be one of 1, true, yes, on, 0, false, no, off; got {raw!r}."
        )
    return value in _TRUE


def default_data_dir() -> Path:
    """Where files and the SQLite database go without CRM_DATA_DIR, the same from any
    working directory: `data/` of the source checkout the package runs from (the
    editable install scripts/setup.sh makes), else the user's data directory
    (`$XDG_DATA_HOME/crm-graphql`, by default `~/.local/share/crm-graphql`)."""
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "migrations").is_dir():
        return checkout / "data"
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "crm-graphql"


@dataclass(frozen=True)
class Limits:
    """Request and query limits; every one is a setting so operators can tune them."""

    max_body_bytes: int = 1_048_576
    max_upload_bytes: int = 20 * 1_048_576
    max_depth: int = 10
    max_aliases: int = 30
    max_tokens: int = 4_000
    max_cost: int = 50_000
    page_size_default: int = 20
    page_size_max: int = 100
    nested_page_size_default: int = 10
    nested_page_size_max: int = 50
    max_batch_operations: int = 5
    # Operations one WebSocket connection may run at once (subscriptions).
    subscriptions_per_connection: int = 5
    # Field selections in a document once fragments are spread, and directives in it.
    max_selections: int = 1_000
    max_directives: int = 30
    # The same response key (or fragment spread) this many times in one selection set:
    # graphql-core compares every pair of them (500 `__typename` are 125,000 checks).
    max_repeated_selections: int = 10
    # Filters: scalar conditions in one filter argument, nesting of and/or/not and
    # relations, `in` values in one filter argument together (every statement stays far
    # under asyncpg's 32,767 parameters), and the length of any string in a filter.
    max_filter_conditions: int = 50
    max_filter_depth: int = 5
    max_filter_in_values: int = 1_000
    max_filter_string_length: int = 1_000
    # What one filter condition adds to the query cost (a field costs 1).
    filter_condition_cost: int = 100
    # Errors in one response; the last one says how many more were left out.
    max_errors: int = 20

    def __post_init__(self) -> None:
        # Every `in` value, and about two parameters per condition, are statement
        # parameters: keep the worst filter well under asyncpg's 32,767 (visibility
        # filters and pagination need some too).
        worst = self.max_filter_in_values + 2 * self.max_filter_conditions
        if worst > 30_000:
            raise ConfigError(
                "CRM_FILTER_MAX_IN_VALUES + 2 * CRM_FILTER_MAX_CONDITIONS must stay under "
                f"30,000 (PostgreSQL's driver takes at most 32,767 parameters); got {worst}."
            )


@dataclass(frozen=True)
class Settings:
    """Every knob of the server. Build with `Settings.from_env()`."""

    mode: str = "development"
    data_dir: Path = Path("data")
    database_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    session_ttl_hours: int = 12
    login_max_failures: int = 5
    login_window_seconds: int = 900
    # An address may fail this many times more than one username (shared NAT).
    login_address_factor: int = 4
    graphiql: bool = True
    introspection: bool = True
    allow_get_queries: bool = True
    limits: Limits = field(default_factory=Limits)
    # PDF rendering (services/pdf.py): the Chromium executable ("" = /usr/bin/chromium,
    # then PATH, then Playwright's own), pages kept open, seconds per render, size limits.
    chromium_path: str = ""
    pdf_pool_size: int = 2
    pdf_timeout_seconds: float = 15.0
    pdf_max_html_bytes: int = 2 * 1_048_576
    pdf_max_pdf_bytes: int = 20 * 1_048_576
    pdf_recycle_after: int = 200
    # Lead mail: run the outbox sender and the mailbox poller in this process.
    mail_workers: bool = True
    # Seconds between outbox passes (a queued message also wakes the sender at once).
    mail_send_interval: float = 30.0
    # The trash: entries older than `trash_days` are purged by a loop of this process
    # (when `trash_purge_worker`) every `trash_purge_interval` seconds.
    trash_days: int = 30
    trash_purge_worker: bool = True
    trash_purge_interval: float = 3600.0
    # Deadlines on a request's database work (services/deadline.py); 0 = none. A GraphQL
    # request, a CSV export, an import (the companyImport-style mutations and the CLI).
    query_timeout_seconds: float = 10.0
    export_timeout_seconds: float = 300.0
    import_timeout_seconds: float = 1800.0
    # SQLite: connections that serve reads beside the one writer connection.
    sqlite_read_connections: int = 4
    # Addresses or networks of reverse proxies whose X-Forwarded-For/-Proto are believed
    # (uvicorn's forwarded_allow_ips); none by default, so no client picks its address.
    trusted_proxies: tuple[str, ...] = ()
    # Where file bytes live: "database" (table file_blobs, shared by every instance) or
    # "filesystem" (<data dir>/files); "" = database on PostgreSQL, filesystem on SQLite.
    file_store: str = ""
    # Invoice PDFs render after commit (services/pdf_queue.py): seconds a mutation waits
    # for its PDF before answering (0 = answer at once, PENDING), attempts before
    # FAILED, the first retry delay (doubling), and the queue's rescan interval.
    pdf_wait_seconds: float = 0.0
    pdf_max_attempts: int = 5
    pdf_retry_seconds: float = 10.0
    pdf_poll_seconds: float = 30.0
    # Webhooks (services/webhook_delivery.py): run the delivery loop in this process,
    # allow private/loopback destinations (tests, a receiver on purpose inside the
    # network), seconds per attempt (connect, and each read), the first retry delay
    # (doubling, with jitter, at most an hour), failed attempts in a row before the
    # webhook is disabled, and the rescan interval for retries and other processes' work.
    webhook_workers: bool = True
    webhook_allow_private: bool = False
    webhook_timeout_seconds: float = 10.0
    webhook_retry_seconds: float = 5.0
    webhook_max_failures: int = 10
    webhook_poll_seconds: float = 5.0

    @property
    def file_store_kind(self) -> str:
        """The file store in use: "database" or "filesystem"."""
        return self.file_store or ("filesystem" if self.is_sqlite else "database")

    # PostgreSQL: connections per process (asyncpg pool). Per machine that is times the
    # workers; docs/deployment.md has the sum against max_connections.
    db_pool_size: int = 5
    # Hours an Idempotency-Key and its stored response are kept (services/idempotency.py).
    idempotency_ttl_hours: int = 24
    # Seconds a bearer token's lookup is reused by this process (services/auth.py);
    # 0 = look it up on every request. Revocation elsewhere is seen within this bound.
    auth_cache_seconds: float = 2.0
    compiled_reads: bool = True

    @property
    def production(self) -> bool:
        return self.mode == "production"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls) -> Settings:
        mode = _env("CRM_MODE", "development").strip().lower()
        if mode not in {"development", "production"}:
            raise ConfigError(f"CRM_MODE must be 'development' or 'production'; got {mode!r}.")
        dev = mode == "development"
        configured = _env("CRM_DATA_DIR", "").strip()
        data_dir = Path(configured).resolve() if configured else default_data_dir()
        database_url = _env("CRM_DATABASE_URL", "") or f"sqlite://{data_dir / 'crm.sqlite3'}"
        file_store = _env("CRM_FILE_STORE", "").strip().lower()
        if file_store not in {"", "database", "filesystem"}:
            raise ValueError("CRM_FILE_STORE must be 'database' or 'filesystem'")
        lim = Limits()
        limits = Limits(
            max_body_bytes=_env_int("CRM_MAX_BODY_BYTES", lim.max_body_bytes),
            max_upload_bytes=_env_int("CRM_MAX_UPLOAD_BYTES", lim.max_upload_bytes),
            max_depth=_env_int("CRM_QUERY_MAX_DEPTH", lim.max_depth),
            max_aliases=_env_int("CRM_QUERY_MAX_ALIASES", lim.max_aliases),
            max_tokens=_env_int("CRM_QUERY_MAX_TOKENS", lim.max_tokens),
            max_cost=_env_int("CRM_QUERY_MAX_COST", lim.max_cost),
            page_size_default=_env_int("CRM_PAGE_SIZE_DEFAULT", lim.page_size_default),
            page_size_max=_env_int("CRM_PAGE_SIZE_MAX", lim.page_size_max),
            nested_page_size_default=_env_int(
                "CRM_NESTED_PAGE_SIZE_DEFAULT", lim.nested_page_size_default
            ),
            nested_page_size_max=_env_int("CRM_NESTED_PAGE_SIZE_MAX", lim.nested_page_size_max),
            max_batch_operations=_env_int("CRM_MAX_BATCH_OPERATIONS", lim.max_batch_operations),
            subscriptions_per_connection=_env_int(
                "CRM_SUBSCRIPTIONS_PER_CONNECTION", lim.subscriptions_per_connection
            ),
            max_selections=_env_int("CRM_QUERY_MAX_SELECTIONS", lim.max_selections),
            max_directives=_env_int("CRM_QUERY_MAX_DIRECTIVES", lim.max_directives),
            max_repeated_selections=_env_int(
                "CRM_QUERY_MAX_REPEATED_SELECTIONS", lim.max_repeated_selections
            ),
            max_filter_conditions=_env_int("CRM_FILTER_MAX_CONDITIONS", lim.max_filter_conditions),
            max_filter_depth=_env_int("CRM_FILTER_MAX_DEPTH", lim.max_filter_depth),
            max_filter_in_values=_env_int("CRM_FILTER_MAX_IN_VALUES", lim.max_filter_in_values),
            max_filter_string_length=_env_int(
                "CRM_FILTER_MAX_STRING", lim.max_filter_string_length
            ),
            filter_condition_cost=_env_int("CRM_FILTER_CONDITION_COST", lim.filter_condition_cost),
            max_errors=_env_int("CRM_QUERY_MAX_ERRORS", lim.max_errors),
        )
        return cls(
            mode=mode,
            data_dir=data_dir,
            database_url=database_url,
            host=_env("CRM_HOST", "127.0.0.1"),
            port=_port(),
            session_ttl_hours=_env_int("CRM_SESSION_TTL_HOURS", 12),
            login_max_failures=_env_int("CRM_LOGIN_MAX_FAILURES", 5),
            login_window_seconds=_env_int("CRM_LOGIN_WINDOW_SECONDS", 900),
            login_address_factor=_env_int("CRM_LOGIN_ADDRESS_FACTOR", 4),
            graphiql=_env_bool("CRM_GRAPHIQL", dev),
            introspection=_env_bool("CRM_INTROSPECTION", dev),
            allow_get_queries=_env_bool("CRM_ALLOW_GET_QUERIES", dev),
            limits=limits,
            chromium_path=_env("CRM_CHROMIUM_PATH", ""),
            pdf_pool_size=_env_int("CRM_PDF_POOL_SIZE", 2),
            mail_workers=_env_bool("CRM_MAIL_WORKERS", True),
            mail_send_interval=_env_float("CRM_MAIL_SEND_INTERVAL", 30.0),
            trash_days=_env_int("CRM_TRASH_DAYS", 30),
            trash_purge_worker=_env_bool("CRM_TRASH_PURGE_WORKER", True),
            trash_purge_interval=_env_float("CRM_TRASH_PURGE_INTERVAL", 3600.0),
            pdf_timeout_seconds=_env_float("CRM_PDF_TIMEOUT_SECONDS", 15.0),
            pdf_max_html_bytes=_env_int("CRM_PDF_MAX_HTML_BYTES", 2 * 1_048_576),
            pdf_max_pdf_bytes=_env_int("CRM_PDF_MAX_PDF_BYTES", 20 * 1_048_576),
            pdf_recycle_after=_env_int("CRM_PDF_RECYCLE_AFTER", 200),
            query_timeout_seconds=_env_float("CRM_QUERY_TIMEOUT_SECONDS", 10.0),
            export_timeout_seconds=_env_float("CRM_EXPORT_TIMEOUT_SECONDS", 300.0),
            import_timeout_seconds=_env_float("CRM_IMPORT_TIMEOUT_SECONDS", 1800.0),
            sqlite_read_connections=_env_int("CRM_SQLITE_READ_CONNECTIONS", 4),
            trusted_proxies=tuple(
                p.strip() for p in _env("CRM_TRUSTED_PROXIES", "").split(",") if p.strip()
            ),
            file_store=file_store,
            pdf_wait_seconds=_env_float("CRM_PDF_WAIT_SECONDS", 0.0),
            pdf_max_attempts=max(1, _env_int("CRM_PDF_MAX_ATTEMPTS", 5)),
            pdf_retry_seconds=_env_float("CRM_PDF_RETRY_SECONDS", 10.0),
            pdf_poll_seconds=_env_float("CRM_PDF_POLL_SECONDS", 30.0),
            webhook_workers=_env_bool("CRM_WEBHOOK_WORKERS", True),
            webhook_allow_private=_env_bool("CRM_WEBHOOK_ALLOW_PRIVATE", False),
            webhook_timeout_seconds=_env_float("CRM_WEBHOOK_TIMEOUT_SECONDS", 10.0),
            webhook_retry_seconds=_env_float("CRM_WEBHOOK_RETRY_SECONDS", 5.0),
            webhook_max_failures=max(1, _env_int("CRM_WEBHOOK_MAX_FAILURES", 10)),
            webhook_poll_seconds=_env_float("CRM_WEBHOOK_POLL_SECONDS", 5.0),
            idempotency_ttl_hours=_env_int("CRM_IDEMPOTENCY_TTL_HOURS", 24),
            db_pool_size=_env_int("CRM_DB_POOL_SIZE", 5),
            auth_cache_seconds=_env_float("CRM_AUTH_CACHE_SECONDS", 2.0),
            compiled_reads=_env_bool("CRM_COMPILED_READS", True),
        )


def _port() -> int:
    port = _env_int("CRM_PORT", 8000)
    if not 0 < port < 65536:
        raise ConfigError(f"CRM_PORT must be a port number from 1 to 65535; got {port}.")
    return port


def _connection(
    database_url: str, read_connections: int | None, pool_size: int | None = None
) -> str | dict[str, Any]:
    from tortoise.backends.base.config_generator import expand_db_url

    try:
        expanded = expand_db_url(database_url)
    except Exception as exc:
        # Tortoise's own message does not say which variable or what it should look like.
        raise ConfigError(
            "CRM_DATABASE_URL must look like sqlite:///path/to/crm.sqlite3 or "
            f"postgres://user:password@host:5432/dbname ({exc})."
        ) from None
    # Our engines add the request deadline (and, on SQLite, reader connections).
    if expanded["engine"] == "tortoise.backends.sqlite":
        expanded["engine"] = "crm_graphql.services.sqlite_engine"
        if read_connections is not None:
            expanded["credentials"]["read_connections"] = read_connections
    elif expanded["engine"] == "tortoise.backends.asyncpg":
        expanded["engine"] = "crm_graphql.services.postgres_engine"
        # No JIT: the compiled reads' nested subqueries are estimated costly enough to
        # trigger it, and compiling them takes longer (~80 ms) than running them (a few).
        server_settings = dict(expanded["credentials"].get("server_settings") or {})
        server_settings.setdefault("jit", "off")
        expanded["credentials"]["server_settings"] = server_settings
        if pool_size is not None:
            expanded["credentials"]["minsize"] = 1
            expanded["credentials"]["maxsize"] = max(pool_size, 1)
    return expanded


def tortoise_config(
    database_url: str, read_connections: int | None = None, pool_size: int | None = None
) -> dict[str, Any]:
    """The Tortoise configuration for one database URL (`read_connections`: SQLite's
    reader pool, `pool_size`: PostgreSQL's connections; the engine's defaults when
    None)."""
    return {
        "connections": {"default": _connection(database_url, read_connections, pool_size)},
        "apps": {
            "crm": {
                "models": MODEL_MODULES,
                "default_connection": "default",
                "migrations": "migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


settings = Settings.from_env()
TORTOISE_ORM = tortoise_config(
    settings.database_url, settings.sqlite_read_connections, settings.db_pool_size
)
