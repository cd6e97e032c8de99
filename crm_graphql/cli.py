"""The `crm-graphql` command: serve, migrate, createsuperuser, demo, schema."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from tortoise import Tortoise

from crm_graphql.settings import settings, tortoise_config


def _config() -> dict[str, Any]:
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return tortoise_config(settings.database_url)


async def _with_orm(work: Callable[[], Awaitable[Any]]) -> Any:
    await Tortoise.init(config=_config())
    try:
        return await work()
    finally:
        await Tortoise.close_connections()


def migrate() -> None:
    from crm_graphql.services.database import apply_migrations

    asyncio.run(apply_migrations(_config()))
    print(f"Database is up to date: {_safe_url(settings.database_url)}")


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
        proxy_headers=True,
        log_level=os.environ.get("CRM_LOG_LEVEL", "info"),
    )


def cmd_migrate(args: argparse.Namespace) -> None:
    migrate()


def cmd_createsuperuser(args: argparse.Namespace) -> None:
    from crm_graphql.models.users import User
    from crm_graphql.services.bootstrap import ensure_defaults
    from crm_graphql.services.passwords import hash_password_async, validate_password

    username = args.username or input("Username: ").strip()
    password = args.password or os.environ.get("CRM_SUPERUSER_PASSWORD")
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="crm-graphql", description=__doc__)
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

    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
