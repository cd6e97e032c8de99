"""What the fuzz run (tests/test_fuzz.py) found, each as a small test over HTTP that
failed before its fix."""

from __future__ import annotations

import graphql
import pytest

from crm_graphql.api import schema
from crm_graphql.services.demo import load_demo
from tests.factories import Api, error_codes

SCHEMA: graphql.GraphQLSchema = schema._schema


def _update_mutations() -> dict[str, list[str]]:
    """Each mutation whose `input` names an object by `id`, with its optional inputs."""
    found: dict[str, list[str]] = {}
    for name, field in sorted(SCHEMA.mutation_type.fields.items()):
        argument = field.args.get("input")
        if argument is None:
            continue
        input_type = graphql.get_named_type(argument.type)
        if not isinstance(input_type, graphql.GraphQLInputObjectType):
            continue
        if "id" not in input_type.fields:
            continue
        found[name] = [
            input_name
            for input_name, input_field in input_type.fields.items()
            if input_name != "id" and not graphql.is_non_null_type(input_field.type)
        ]
    return found


UPDATES = _update_mutations()


@pytest.fixture
async def world(demo: Api) -> Api:
    await load_demo(sample_data=True, render_pdfs=False)
    return demo


@pytest.mark.parametrize("mutation", sorted(UPDATES))
async def test_explicit_null_for_each_optional_update_input(world: Api, mutation: str) -> None:
    """`companyUpdate(input: {id: 1, address: null})` wrote NULL into a NOT NULL column
    (IntegrityError, INTERNAL_SERVER_ERROR); `paymentConditions: null` hit int(None).
    Null for an input that cannot be null is now a payload error naming the field."""
    for input_name in UPDATES[mutation]:
        body = await world.gql(
            f"mutation {{ {mutation}(input: {{id: 1, {input_name}: null}}) "
            "{ errors { field code } } }",
            as_user="admin",
        )
        assert "INTERNAL_SERVER_ERROR" not in error_codes(body), (input_name, body)
        assert None not in error_codes(body), (input_name, body)


async def test_null_for_a_not_null_column_names_the_field(world: Api) -> None:
    data = await world.data(
        "mutation { companyUpdate(input: {id: 1, address: null, paymentConditions: null}) "
        "{ company { id } errors { field code } } }",
        as_user="admin",
    )
    assert data["companyUpdate"]["company"] is None
    assert {(e["field"], e["code"]) for e in data["companyUpdate"]["errors"]} == {
        ("address", "REQUIRED"),
        ("paymentConditions", "REQUIRED"),
    }


@pytest.mark.parametrize("mutation", ["companyImport", "contactImport", "contractImport"])
async def test_import_with_a_string_for_its_upload(demo: Api, mutation: str) -> None:
    """`companyImport(file: "")` in a JSON body reached `file.file` (AttributeError)."""
    body = await demo.gql(
        f'mutation {{ {mutation}(file: "x.csv") {{ written }} }}', as_user="admin"
    )
    assert body.get("data") in (None, {mutation: None}), body
    assert error_codes(body) == ["BAD_USER_INPUT"], body


async def test_saved_search_with_an_integer_beyond_64_bits(demo: Api) -> None:
    """`leadSearchSave(filter: -9223372036854775809)`: orjson refused to write the
    filter back out (TypeError, INTERNAL_SERVER_ERROR)."""
    data = await demo.data(
        'mutation { leadSearchSave(name: "s", filter: -9223372036854775809) '
        "{ savedSearch { id } errors { field code } } }",
        as_user="user1",
    )
    assert data["leadSearchSave"]["savedSearch"] is None
    assert [e["field"] for e in data["leadSearchSave"]["errors"]] == ["filter"]
