"""The `crm-graphql` command: serve, migrate, createsuperuser, demo, schema, mail, files,
import."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from tortoise import Tortoise
from tortoise.exceptions import DBConnectionError

from crm_graphql import __version__

try:
    from crm_graphql.settings import settings, tortoise_config
except ValueError as exc:
    # A bad CRM_* variable: the message names it and the expected form.
    sys.exit(f"crm-graphql: configuration error: {exc}")

# Exit status of every command when the database is missing, unreachable or not migrated
# (import keeps 1 for rejected rows and 2 for an unreadable file).
EXIT_DATABASE = 3


def _config() -> dict[str, Any]:
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return tortoise_config(
        settings.database_url, settings.sqlite_read_connections, settings.db_pool_size
    )


async def _with_orm(work: Callable[[], Awaitable[Any]]) -> Any:
    await Tortoise.init(config=_config())
    try:
        return await work()
    finally:
        await Tortoise.close_connections()


def migrate() -> None:
    from crm_graphql.services.database import apply_migrations

    where = _safe_url(settings.database_url)
    try:
        applied = asyncio.run(apply_migrations(_config()))
    except (OSError, DBConnectionError) as exc:
        print(f"Cannot reach the database {where}: {exc}", file=sys.stderr)
        sys.exit(EXIT_DATABASE)
    if applied:
        print(f"Applied {len(applied)} migration(s) to {where}: {', '.join(applied)}")
    else:
        print(f"Database is up to date (no migration to apply): {where}")


def require_migrated() -> None:
    """Exit with a message (no traceback) unless the database exists, answers and has
    every migration applied; creates nothing (a missing SQLite file stays missing)."""
    from crm_graphql.services.database import pending_migrations

    where = _safe_url(settings.database_url)
    hint = "run `crm-graphql migrate` first"
    if settings.is_sqlite:
        path = _sqlite_path()
        if path is not None and not path.exists():
            print(f"No database at {path}: {hint}.", file=sys.stderr)
            sys.exit(EXIT_DATABASE)
    try:
        config = tortoise_config(settings.database_url, 0 if settings.is_sqlite else None)
        pending = asyncio.run(pending_migrations(config))
    except Exception as exc:  # the driver's own errors (asyncpg, sqlite3) differ widely
        print(f"Cannot reach the database {where}: {exc}", file=sys.stderr)
        sys.exit(EXIT_DATABASE)
    if pending:
        print(
            f"The database {where} is not migrated ({len(pending)} migration(s) pending, "
            f"from {pending[0]}): {hint}.",
            file=sys.stderr,
        )
        sys.exit(EXIT_DATABASE)


def _sqlite_path() -> Any:
    from pathlib import Path

    from tortoise.backends.base.config_generator import expand_db_url

    file_path = expand_db_url(settings.database_url)["credentials"].get("file_path", "")
    return None if file_path in ("", ":memory:") else Path(file_path)


def _safe_url(url: str) -> str:
    # Never print a password from the database URL.
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    if settings.is_sqlite or args.migrate:
        migrate()
        if args.workers > 1 and settings.is_sqlite:
            print("SQLite serves one process; use PostgreSQL for several workers.")
            args.workers = 1
    else:
        # Checked here, before any worker starts: a worker that fails its start-up
        # does not make uvicorn's supervisor exit non-zero.
        require_migrated()
    host = args.host or settings.host
    port = args.port or settings.port
    print(f"GraphQL endpoint: http://{host}:{port}/graphql", flush=True)
    if settings.graphiql:
        print(f"GraphiQL: open http://{host}:{port}/graphql in a browser", flush=True)
    uvicorn.run(
        "crm_graphql.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=args.workers,
        # X-Forwarded-For decides the address the login throttle counts: believed only
        # from the proxies CRM_TRUSTED_PROXIES lists (uvicorn trusts 127.0.0.1 otherwise).
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=list(settings.trusted_proxies) or None,
        log_level=os.environ.get("CRM_LOG_LEVEL", "info"),
    )


def cmd_migrate(args: argparse.Namespace) -> None:
    migrate()


def cmd_createsuperuser(args: argparse.Namespace) -> None:
    from crm_graphql.models.users import User
    from crm_graphql.services.bootstrap import ensure_defaults
    from crm_graphql.services.passwords import hash_password_async, validate_password

    password = args.password or os.environ.get("CRM_SUPERUSER_PASSWORD")
    if not sys.stdin.isatty() and not (args.username and password):
        # Nothing to ask on (a script, a container): say what to pass instead.
        sys.exit(
            "createsuperuser: no terminal to ask on. Pass --username and --password, "
            "or --username with the password in the CRM_SUPERUSER_PASSWORD variable."
        )
    username = args.username or input("Username: ").strip()
    if not password:
        password = getpass.getpass("Password: ")
    if reason := validate_password(password):
        sys.exit(reason)

    async def work() -> str:
        await ensure_defaults()
        user = await User.filter(username=username).first()
        password_hash = await hash_password_async(password)
        if user is None:
            await User.create(
                username=username,
                email=args.email or "",
                real_name=username,
                is_superadmin=True,
                password_hash=password_hash,
            )
            return f"Superuser {username} created."
        user.is_superadmin = True
        user.password_hash = password_hash
        await user.save()
        return f"User {username} is now a superuser with the new password."

    migrate()
    print(asyncio.run(_with_orm(work)))


def cmd_demo(args: argparse.Namespace) -> None:
    from crm_graphql.services.demo import load_demo

    migrate()
    logins = asyncio.run(_with_orm(load_demo))
    print("Demo data loaded. Logins (password = username):")
    for username, password in logins:
        print(f"  {username:<10} {password}")


def cmd_schema(args: argparse.Namespace) -> None:
    from crm_graphql.api import schema

    print(str(schema))


class _ImportProgress:
    """A one-line counter on stderr (redrawn with \\r on a terminal, a line every few
    seconds otherwise)."""

    def __init__(self, total_bytes: int) -> None:
        import time

        self.clock = time.monotonic
        self.total = total_bytes
        self.start = self.last = self.clock()
        self.tty = sys.stderr.isatty()
        self.shown = False

    def __call__(self, rows: int, position: int) -> None:
        now = self.clock()
        if now - self.last < (0.2 if self.tty else 5.0):
            return
        self.last = now
        percent = min(100, 100 * position // self.total) if self.total else 100
        rate = rows / max(now - self.start, 1e-6)
        line = f"{rows:,} rows read ({percent}%), {rate:,.0f} rows/s"
        sys.stderr.write(f"\r{line}" if self.tty else f"{line}\n")
        sys.stderr.flush()
        self.shown = True

    def done(self) -> None:
        if self.tty and self.shown:
            sys.stderr.write("\n")


def cmd_import(args: argparse.Namespace) -> None:
    from pathlib import Path

    from tortoise.expressions import Q

    from crm_graphql.errors import QueryTimeout
    from crm_graphql.models.auth import TokenKind, TokenScope
    from crm_graphql.models.users import User
    from crm_graphql.permissions.contracts import visible_contracts_q
    from crm_graphql.permissions.imports import system_access, viewer_access
    from crm_graphql.services.auth import Viewer, user_bits
    from crm_graphql.services.deadline import deadline_scope
    from crm_graphql.services.imports.companies import import_companies
    from crm_graphql.services.imports.contacts import import_contacts
    from crm_graphql.services.imports.contracts import import_contracts
    from crm_graphql.services.imports.results import ContractAccess, ImportResult

    path = Path(args.file)
    if path.is_dir():
        print(f"{path} is a directory, not a CSV file.", file=sys.stderr)
        sys.exit(2)
    if not path.is_file():
        print(f"No such file: {path}", file=sys.stderr)
        sys.exit(2)
    require_migrated()
    progress = _ImportProgress(path.stat().st_size)

    async def work() -> ImportResult:
        access = system_access()
        if args.as_user:
            user = (
                await User.filter(username=args.as_user, enabled=True)
                .select_related("company")
                .first()
            )
            if user is None:
                raise SystemExit(f"No enabled user '{args.as_user}'.")
            viewer = Viewer(
                user=user,
                bits=await user_bits(user.id),
                token_id=0,
                token_kind=TokenKind.API,
                scope=TokenScope.FULL,
            )
            if not viewer.has("CW"):
                raise SystemExit(f"{args.as_user} may not import: the CW permission is needed.")
            access = viewer_access(viewer)
        if args.entity == "contracts":
            visible = visible_contracts_q(viewer) if args.as_user else Q()
            return await import_contracts(
                stream,
                ContractAccess(company=access, visible_contracts=visible),
                dry_run=args.dry_run,
                partial=args.partial,
                file_name=path.name,
                progress=progress,
            )
        run = import_companies if args.entity == "companies" else import_contacts
        return await run(
            stream,
            access,
            dry_run=args.dry_run,
            partial=args.partial,
            file_name=path.name,
            progress=progress,
        )

    async def limited() -> ImportResult:
        with deadline_scope(settings.import_timeout_seconds):
            return await work()

    try:
        stream = path.open("rb")
    except OSError as exc:
        print(f"Cannot read {path}: {exc.strerror}", file=sys.stderr)
        sys.exit(2)
    with stream:
        try:
            result = asyncio.run(_with_orm(limited))
        except QueryTimeout as exc:
            progress.done()
            sys.exit(f"{path.name}: {exc.message}")
    progress.done()
    for error in result.errors:
        print(f"{path.name}: {error.message}")
    if result.errors:
        sys.exit(2)
    if result.dry_run:
        outcome = "dry run, nothing written"
    elif result.written:
        outcome = "written"
    else:
        outcome = "nothing written: fix the rows below or use --partial"
    print(f"Import of {args.entity} from {path.name} ({outcome})")
    counts = result.counts()
    print("  ".join(f"{name}: {value}" for name, value in counts.items()))
    for row_error in result.row_errors:
        column = f", {row_error.field}" if row_error.field else ""
        print(f"line {row_error.line}{column}: {row_error.message} ({row_error.code})")
    if result.row_errors_truncated:
        print("(more row errors were not listed)")
    if result.rejected:
        sys.exit(1)


def cmd_mail(args: argparse.Namespace) -> None:
    """One pass of the outbox sender or of the reference mailbox poller."""
    from crm_graphql import mailworkers

    async def work() -> str:
        if args.action == "send":
            report = await mailworkers.send_pass()
            return f"Sent {report.sent}, deferred {report.retried}, failed {report.failed}."
        polled = await mailworkers.poll_pass(settings)
        if polled.busy:
            return "Another process is polling the mailbox; nothing done."
        text = f"Filed {polled.filed}, left alone {polled.skipped}."
        if polled.error:
            raise SystemExit(f"{text} Mailbox problem: {polled.error}")
        return text

    migrate()
    print(asyncio.run(_with_orm(work)))


def cmd_files(args: argparse.Namespace) -> None:
    """Reconcile file rows and bytes (sweep), or move the bytes to another store."""
    from crm_graphql.services.files import maintenance as file_maintenance

    async def work() -> str:
        if args.action == "sweep":
            report = await file_maintenance.sweep(
                settings, grace_seconds=args.grace_seconds, dry_run=args.dry_run
            )
            return report.text()
        if args.to is None:
            raise SystemExit("files move needs --to database|filesystem")
        moved = await file_maintenance.move(args.to, settings)
        return moved.text(args.to)

    migrate()
    print(asyncio.run(_with_orm(work)))


def cmd_trash(args: argparse.Namespace) -> None:
    """Purge trash entries older than --days (default CRM_TRASH_DAYS)."""
    from crm_graphql.services import trash

    days = settings.trash_days if args.days is None else args.days

    async def work() -> str:
        purged = await trash.purge_older_than(days, config=settings)
        return f"Purged {purged} trash entries deleted more than {days} days ago."

    migrate()
    print(asyncio.run(_with_orm(work)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="crm-graphql", description=__doc__)
    parser.add_argument("--version", action="version", version=f"crm-graphql {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="Run the HTTP server.")
    serve.add_argument("--host", default=None, help="Interface (default CRM_HOST).")
    serve.add_argument("--port", type=int, default=None, help="Port (default CRM_PORT).")
    serve.add_argument("--workers", type=int, default=1, help="Worker processes.")
    serve.add_argument(
        "--migrate",
        action="store_true",
        help="Apply pending migrations first (always done on SQLite).",
    )
    serve.set_defaults(func=cmd_serve)

    sub.add_parser("migrate", help="Apply pending migrations.").set_defaults(func=cmd_migrate)

    su = sub.add_parser("createsuperuser", help="Create or reset a superuser.")
    su.add_argument("--username", help="Login name.")
    su.add_argument("--email", help="E-mail address.")
    su.add_argument(
        "--password", help="Password (or CRM_SUPERUSER_PASSWORD; asked for when missing)."
    )
    su.set_defaults(func=cmd_createsuperuser)

    sub.add_parser("demo", help="Load the demo data (idempotent).").set_defaults(func=cmd_demo)
    sub.add_parser("schema", help="Print the GraphQL SDL.").set_defaults(func=cmd_schema)

    mail = sub.add_parser(
        "mail",
        help="Lead mail: one outbox pass (send) or one reference mailbox pass (poll).",
        description="The server runs both in the background; these run one pass now. "
        "`poll` exits with status 1 when the mailbox cannot be read.",
    )
    mail.add_argument("action", choices=("send", "poll"), help="What to run once.")
    mail.set_defaults(func=cmd_mail)

    fls = sub.add_parser(
        "files",
        help="File bytes: reconcile rows and bytes (sweep) or move them (move --to ...).",
        description="sweep: remove bytes no file row points at (on disk: older than "
        "--grace-seconds), report rows whose bytes are missing (invoice PDFs are rendered "
        "again). move: copy every file's bytes into the given store, then remove the old "
        "copy; servers keep serving files meanwhile (reads look in both stores). Set "
        "CRM_FILE_STORE to the new store on every instance.",
    )
    fls.add_argument("action", choices=("sweep", "move"), help="What to do.")
    fls.add_argument("--to", choices=("database", "filesystem"), help="move: the target store.")
    fls.add_argument("--dry-run", action="store_true", help="sweep: report only.")
    fls.add_argument(
        "--grace-seconds",
        type=float,
        default=3600,
        help="sweep: leave unreferenced files on disk younger than this (default 3600).",
    )
    fls.set_defaults(func=cmd_files)

    trs = sub.add_parser(
        "trash",
        help="The trash: purge entries older than CRM_TRASH_DAYS now.",
        description="purge: delete for good the trash entries (and their files' bytes) "
        "deleted more than --days ago; the server also does it in the background "
        "(CRM_TRASH_PURGE_WORKER).",
    )
    trs.add_argument("action", choices=("purge",), help="What to do.")
    trs.add_argument("--days", type=int, default=None, help="Age in days (default CRM_TRASH_DAYS).")
    trs.set_defaults(func=cmd_trash)

    imp = sub.add_parser(
        "import",
        help="Import companies or contacts from CSV (the export's columns).",
        description="Rows are matched by company name (contacts: company and e-mail). "
        "Without --partial nothing is written unless every row is valid. The exit status "
        "is 1 when rows were rejected, 2 when the file could not be read.",
    )
    imp.add_argument(
        "entity", choices=("companies", "contacts", "contracts"), help="What the file holds."
    )
    imp.add_argument("file", help="The CSV file (UTF-8).")
    imp.add_argument("--dry-run", action="store_true", help="Check only; write nothing.")
    imp.add_argument("--partial", action="store_true", help="Write the valid rows anyway.")
    imp.add_argument(
        "--as",
        dest="as_user",
        metavar="USERNAME",
        help="Import with this user's rights (default: the system, which sees everything).",
    )
    imp.set_defaults(func=cmd_import)

    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
