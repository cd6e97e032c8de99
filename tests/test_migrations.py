"""The migration history: applies from zero (the session fixture does that on this
run's database), covers every model change, and creates every column the models use."""

from __future__ import annotations

from tortoise import Tortoise

from crm_graphql.services.database import unmigrated_changes
from crm_graphql.settings import tortoise_config
from tests.conftest import DATABASE_URL


async def test_models_have_no_changes_without_a_migration() -> None:
    pending = await unmigrated_changes(tortoise_config(DATABASE_URL))
    assert pending == [], (
        "models changed without a migration: run "
        "`tortoise -c crm_graphql.settings.TORTOISE_ORM makemigrations`"
    )


async def test_every_model_column_exists_in_the_migrated_database() -> None:
    # Guards against migration operations that silently drop columns.
    connection = Tortoise.get_connection("default")
    for model in Tortoise.apps["crm"].values():
        columns = ", ".join(f'"{c}"' for c in model._meta.fields_db_projection.values())
        await connection.execute_query(
            f'SELECT {columns} FROM "{model._meta.db_table}" WHERE 1 = 0'
        )


async def test_foreign_keys_are_enforced() -> None:
    from tortoise.exceptions import IntegrityError

    from crm_graphql.models.users import Assignment

    connection = Tortoise.get_connection("default")
    try:
        await Assignment.create(user_id=999_999, profile_id=999_999, group_id=999_999)
    except IntegrityError:
        return
    finally:
        await connection.execute_query('DELETE FROM "assignments" WHERE "user_id" = 999999')
    raise AssertionError("an assignment to a missing user was accepted")
