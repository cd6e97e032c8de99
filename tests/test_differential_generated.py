"""Generated read queries through both paths (issue 15): a fixed-seed generator walks
the schema as introspection describes it and builds valid queries over the root
connections (leads' saved searches too, the trash and its kinds), the single-object
roots by id, the plain root lists, the lead pipeline and `duplicates`, some with a
second root beside (one the compiler does not cover, or a root list: the compiled and
the executor's roots then mix in one answer), with random selections and nesting,
aliases, inline and named fragments, @skip/@include, __typename, filters with
and/or/not and relations, multi-key orderBy, page sizes, nested cursors and page info,
cursors taken from the page before, run as a random
viewer each.
`CRM_DIFFERENTIAL_CASES` sets how many (default 300), `CRM_DIFFERENTIAL_SEED` the seed."""

from __future__ import annotations

import json
import os
import random
import time
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    build_client_schema,
    get_introspection_query,
    get_named_type,
    is_leaf_type,
)

from crm_graphql.compiled.catalog import TYPES
from crm_graphql.compiled.roots import LISTS, VALUES
from tests.differential import VIEWERS, Differential, build_world, end_cursor

CASES = int(os.environ.get("CRM_DIFFERENTIAL_CASES", "300"))
SEED = int(os.environ.get("CRM_DIFFERENTIAL_SEED", "16"))
ROOTS = ("companies", "contacts", "contracts", "invoices", "leads", "trash")
# Roots that read one object by id: visible, invisible (NOT_FOUND) or unknown ids.
SINGLE_ROOTS = ("company", "contact", "contract", "invoice", "lead", "contractTemplate")
# Plain lists of small tables (`contractTypes`, `customFields(entity:)`,
# `leadMailTemplates(leadId:)`...) and those computed from CRM setup (`leadChannels`).
LIST_ROOTS = (*LISTS, *VALUES)
# Saved lead searches of the world: the admin's, the lead seller's, one whose stored
# filter is refused, an unknown one.
SAVED_SEARCHES = ("1", "2", "3", "99")
# Roots a generated query may select beside its first one (then each path compiles what
# it covers and leaves the rest to the executor): roots the compiler does not cover, whose
# answers do not change between two requests, and the plain root lists it covers.
EXTRA_ROOTS = (
    "viewer",
    "users",
    "profiles",
    "companyStatistics",
    "invoiceStatistics",
    "leadStatistics",
    "leadProgressSteps",
    "leadChannels",
    "leadPipeline",
    "crmSetup",
    # (not those with a required argument)
    *(name for name in LIST_ROOTS if name not in ("customFields", "leadMailTemplates")),
)
# How often a generated query has a second root.
MIXED = 0.3
# Response depth at which only leaves are selected (the server's limit is 10).
MAX_DEPTH = 7

# Values that match rows of the world (tests/differential.build_world) as often as not.
WORDS = ("Child", "Alpha", "Beta", "Customer", "#A", "Lead 0", "Person", "a", "Contract 0")
BY_NAME: dict[str, tuple[Any, ...]] = {
    "currency": ("EUR", "USD"),
    "country": ("Spain", "France", "Italy"),
    "username": ("user1", "manager1", "admin", "lead_seller"),
    "name": ("Customer #A", "Customer #B", "Child 01 Alpha", "Hot lead", "Child"),
    "position": ("CEO", "CTO"),
    "fullName": ("Lead 03", "Person 02-1", "Lead"),
}


@dataclass
class Query:
    text: str
    variables: dict[str, Any]
    root: str
    paged: bool


@dataclass
class Generator:
    schema: GraphQLSchema
    rng: random.Random
    fragments: list[str] = field(default_factory=list)
    aliases: int = 0
    # Half the queries keep to the fields the compiled path covers (its catalog), so that
    # they run on it rather than fall back; the other half pick from the whole schema.
    covered: bool = False

    # Values of input types

    def scalar(self, kind: GraphQLScalarType, name: str) -> Any:
        rng = self.rng
        if name in BY_NAME and kind.name == "String":
            return rng.choice(BY_NAME[name])
        return {
            "String": lambda: rng.choice(WORDS),
            "ID": lambda: str(rng.randint(1, 40)),
            "Int": lambda: rng.randint(0, 60),
            "Boolean": lambda: rng.random() < 0.5,
            "Date": lambda: f"2026-0{rng.randint(1, 6)}-{rng.randint(1, 28):02}",
            "DateTime": lambda: f"2026-0{rng.randint(1, 6)}-{rng.randint(1, 28):02}T10:00:00Z",
            "Decimal": lambda: rng.choice(("0", "100.00", "250.5", "1000")),
        }.get(kind.name, lambda: rng.choice(WORDS))()

    def value(self, kind: GraphQLInputType, name: str, depth: int) -> Any:
        if isinstance(kind, GraphQLNonNull):
            return self.value(kind.of_type, name, depth)
        if isinstance(kind, GraphQLList):
            return [self.value(kind.of_type, name, depth) for _ in range(self.rng.randint(1, 2))]
        if isinstance(kind, GraphQLEnumType):
            return self.rng.choice(list(kind.values))
        if isinstance(kind, GraphQLScalarType):
            return self.scalar(kind, name)
        assert isinstance(kind, GraphQLInputObjectType)
        return self.input_object(kind, depth + 1)

    def input_object(self, kind: GraphQLInputObjectType, depth: int) -> dict[str, Any]:
        required = [n for n, f in kind.fields.items() if isinstance(f.type, GraphQLNonNull)]
        optional = [n for n in kind.fields if n not in required]
        if depth > 3:  # no deeper and/or/not
            optional = [n for n in optional if n not in ("and", "or", "not")]
        chosen = required + self.rng.sample(optional, min(len(optional), self.rng.randint(1, 2)))
        return {n: self.value(kind.fields[n].type, n, depth) for n in chosen}

    # Selections

    def arguments(self, definition: GraphQLField, top: bool) -> tuple[str, dict[str, Any]]:
        """Literal arguments of a nested field; root ones go in variables."""
        parts, variables = [], {}
        for name, arg in definition.args.items():
            if name == "first" and self.rng.random() < 0.8:
                parts.append(f"first: {self.rng.randint(1, 5 if top else 3)}")
            elif top and name in ("filter", "orderBy") and self.rng.random() < 0.6:
                variables[name] = self.value(arg.type, name, 0)
            elif top and name == "savedSearchId" and self.rng.random() < 0.25:
                variables[name] = self.rng.choice(SAVED_SEARCHES)
            elif top and name in ("types", "includeClosed") and self.rng.random() < 0.5:
                variables[name] = self.value(arg.type, name, 0)
        return ", ".join(parts), variables

    def selection(self, kind: GraphQLObjectType, depth: int) -> str:
        names = [
            n
            for n, f in kind.fields.items()
            if not any(isinstance(a.type, GraphQLNonNull) for a in f.args.values())
        ]
        catalog = TYPES.get(kind.name)
        if self.covered and catalog is not None:
            # (all of them when the catalog has none of this type's fields)
            names = [n for n in names if n in catalog.fields] or names
        leaves = [n for n in names if is_leaf_type(get_named_type(kind.fields[n].type))]
        objects = [n for n in names if n not in leaves]
        chosen = self.rng.sample(leaves, min(len(leaves), self.rng.randint(1, 5)))
        if depth < MAX_DEPTH - 2 and objects:
            chosen += self.rng.sample(objects, min(len(objects), self.rng.randint(0, 2)))
        if not chosen:
            # (a type of objects only, say a root's statistics: one of them)
            chosen = leaves[:1] or objects[:1]
        self.rng.shuffle(chosen)
        fields = [self.field(kind, n, depth) for n in chosen]
        if self.rng.random() < 0.15:
            fields.insert(self.rng.randint(0, len(fields)), "__typename")
        # A part of the fields behind a fragment (disjoint, so nothing conflicts)
        if len(fields) > 1 and self.rng.random() < 0.25:
            cut = self.rng.randint(1, len(fields) - 1)
            inner = " ".join(fields[cut:])
            if self.rng.random() < 0.5:
                fields = [*fields[:cut], f"... on {kind.name} {{ {inner} }}"]
            else:
                name = f"F{len(self.fragments)}"
                self.fragments.append(f"fragment {name} on {kind.name} {{ {inner} }}")
                fields = [*fields[:cut], f"...{name}"]
        return " ".join(fields)

    def field(self, kind: GraphQLObjectType, name: str, depth: int) -> str:
        definition = kind.fields[name]
        target = get_named_type(definition.type)
        alias = ""
        if self.aliases < 20 and self.rng.random() < 0.15:
            self.aliases += 1
            alias = f"a{self.aliases}: "
        directive = ""
        if self.rng.random() < 0.05:
            directive = self.rng.choice((" @skip(if: true)", " @include(if: true)"))
            directive = self.rng.choice((directive, " @skip(if: false)", " @include(if: false)"))
        if is_leaf_type(target):
            return f"{alias}{name}{directive}"
        assert isinstance(target, GraphQLObjectType)
        args, _ = self.arguments(definition, top=False)
        args = f"({args})" if args else ""
        if target.name.endswith("Connection"):
            inner = self.connection(target, depth + 1, paged=False)
        else:
            inner = self.selection(target, depth + 1)
        return f"{alias}{name}{args}{directive} {{ {inner} }}"

    def connection(self, kind: GraphQLObjectType, depth: int, paged: bool) -> str:
        node = get_named_type(kind.fields["edges"].type)
        assert isinstance(node, GraphQLObjectType)
        node_type = get_named_type(node.fields["node"].type)
        assert isinstance(node_type, GraphQLObjectType)
        parts = []
        if self.rng.random() < 0.6:
            parts.append("totalCount")
        if paged:
            parts.append("pageInfo { hasNextPage hasPreviousPage endCursor }")
        elif self.rng.random() < 0.3:
            info = ["hasNextPage", "hasPreviousPage", "startCursor", "endCursor", "__typename"]
            chosen = self.rng.sample(info, self.rng.randint(1, 3))
            parts.append(f"pageInfo {{ {' '.join(chosen)} }}")
        cursor = "cursor " if self.rng.random() < 0.3 else ""
        parts.append(f"edges {{ {cursor}node {{ {self.selection(node_type, depth + 2)} }} }}")
        self.rng.shuffle(parts)
        return " ".join(parts)

    def query(self) -> Query:
        self.fragments, self.aliases = [], 0
        self.covered = self.rng.random() < 0.5
        query_type = self.schema.query_type
        assert query_type is not None
        special = self.rng.random()
        if special < 0.08:
            return self.pipeline(query_type)
        if special < 0.12:
            return self.duplicates(query_type)
        built = self.one_root(query_type)
        if self.rng.random() < MIXED:
            return self.mixed(query_type, built)
        return built

    def mixed(self, query_type: GraphQLObjectType, built: Query) -> Query:
        """`built` with a second root field (EXTRA_ROOTS, aliased or not) before or after
        its own: a query whose roots the compiled path covers in part."""
        name = self.rng.choice([n for n in EXTRA_ROOTS if n != built.root])
        target = get_named_type(query_type.fields[name].type)
        known = len(self.fragments)
        body = "" if is_leaf_type(target) else f" {{ {self.selection(target, 1)} }}"
        alias = "also: " if self.rng.random() < 0.3 else ""
        extra = f"{alias}{name}{body}"
        head, _, fragments = built.text.partition("\n")
        assert head.endswith(" }")
        if self.rng.random() < 0.5:
            head = f"{head[:-2]} {extra} }}"
        else:
            start = head.index("{ ") + 2
            head = f"{head[:start]}{extra} {head[start:]}"
        text = "\n".join(part for part in (head, fragments, *self.fragments[known:]) if part)
        return Query(text, built.variables, built.root, built.paged)

    def one_root(self, query_type: GraphQLObjectType) -> Query:
        if self.rng.random() < 0.2:
            return self.single(query_type)
        if self.rng.random() < 0.1:
            return self.plain(query_type)
        root = self.rng.choice(ROOTS)
        definition = query_type.fields[root]
        args, variables = self.arguments(definition, top=True)
        declared = ["$after: String"]
        passed = [args] if args else []
        passed.append("after: $after")
        for name in variables:
            declared.append(f"${name}: {definition.args[name].type}")
            passed.append(f"{name}: ${name}")
        connection = get_named_type(definition.type)
        assert isinstance(connection, GraphQLObjectType)
        paged = self.rng.random() < 0.5
        body = self.connection(connection, 1, paged)
        alias = "list: " if self.rng.random() < 0.2 else ""
        text = (
            f"query Generated({', '.join(declared)}) {{ {alias}{root}({', '.join(passed)}) "
            f"{{ {body} }} }}"
        )
        text = "\n".join([text, *self.fragments])
        return Query(text, {**variables, "after": None}, root, paged)

    def single(self, query_type: GraphQLObjectType) -> Query:
        root = self.rng.choice(SINGLE_ROOTS)
        target = get_named_type(query_type.fields[root].type)
        assert isinstance(target, GraphQLObjectType)
        body = self.selection(target, 1)
        alias = "one: " if self.rng.random() < 0.2 else ""
        text = f"query Generated($id: ID!) {{ {alias}{root}(id: $id) {{ {body} }} }}"
        text = "\n".join([text, *self.fragments])
        return Query(text, {"id": str(self.rng.randint(1, 25))}, root, False)

    def pipeline(self, query_type: GraphQLObjectType) -> Query:
        """`leadPipeline` with its arguments as variables (a page size up to the cap)."""
        definition = query_type.fields["leadPipeline"]
        _, variables = self.arguments(definition, top=True)
        if self.rng.random() < 0.7:
            variables["first"] = self.rng.choice((0, 1, 2, 3, 50))
        declared = ", ".join(f"${n}: {definition.args[n].type}" for n in variables)
        passed = ", ".join(f"{n}: ${n}" for n in variables)
        step = get_named_type(definition.type)
        assert isinstance(step, GraphQLObjectType)
        body = self.selection(step, 1)
        text = (
            f"query Generated{f'({declared})' if declared else ''} "
            f"{{ leadPipeline{f'({passed})' if passed else ''} {{ {body} }} }}"
        )
        text = "\n".join([text, *self.fragments])
        return Query(text, variables, "leadPipeline", False)

    def duplicates(self, query_type: GraphQLObjectType) -> Query:
        """`duplicates` of a random kind and id (visible, invisible or unknown)."""
        definition = query_type.fields["duplicates"]
        candidate = get_named_type(definition.type)
        assert isinstance(candidate, GraphQLObjectType)
        body = self.selection(candidate, 1)
        text = (
            "query Generated($type: DuplicateEntity!, $id: ID!) "
            f"{{ duplicates(type: $type, id: $id) {{ {body} }} }}"
        )
        text = "\n".join([text, *self.fragments])
        kind = self.rng.choice(("COMPANY", "CONTACT", "LEAD"))
        return Query(text, {"type": kind, "id": str(self.rng.randint(1, 30))}, "duplicates", False)

    def plain(self, query_type: GraphQLObjectType) -> Query:
        root = self.rng.choice(LIST_ROOTS)
        definition = query_type.fields[root]
        target = get_named_type(definition.type)
        # Required arguments always, the others half the time, as variables.
        variables = {
            name: self.value(arg.type, name, 0)
            for name, arg in definition.args.items()
            if isinstance(arg.type, GraphQLNonNull) or self.rng.random() < 0.5
        }
        declared = ", ".join(f"${n}: {definition.args[n].type}" for n in variables)
        passed = ", ".join(f"{n}: ${n}" for n in variables)
        # A list of text (`leadChannels`) has no selection.
        body = "" if is_leaf_type(target) else f" {{ {self.selection(target, 1)} }}"
        text = (
            f"query Generated{f'({declared})' if declared else ''} "
            f"{{ {root}{f'({passed})' if passed else ''}{body} }}"
        )
        text = "\n".join([text, *self.fragments])
        return Query(text, variables, root, False)


async def test_generated_queries_answer_the_same_on_both_paths(paths: Differential) -> None:
    tokens = await build_world()
    response = await paths.interpreted.post(
        "/graphql",
        json={"query": get_introspection_query()},
        headers={"Authorization": f"Bearer {tokens['admin']}"},
    )
    schema = build_client_schema(response.json()["data"])
    generator = Generator(schema, random.Random(SEED))
    rng = random.Random(SEED + 1)
    started = time.monotonic()
    with_data = followed = 0
    for n in range(CASES):
        query = generator.query()
        viewer = rng.choice(VIEWERS)
        what = f"case {n} as {viewer}: {query.text} {json.dumps(query.variables)}"
        answer = await paths.check(query.text, query.variables, tokens[viewer], what)
        assert "GRAPHQL_VALIDATION_FAILED" not in json.dumps(answer.body), what
        if answer.body.get("data") and "errors" not in answer.body:
            with_data += 1
        after = end_cursor(answer.body) if query.paged else None
        if after is not None:
            following = {**query.variables, "after": after}
            await paths.check(query.text, following, tokens[viewer], f"{what} next page")
            followed += 1
    took = time.monotonic() - started
    # Queries that only failed would prove little; some pages must have had a next one.
    assert with_data > CASES // 2, (with_data, CASES)
    assert followed > CASES // 20, followed
    print(f"{CASES} generated queries, {with_data} with data, {followed} next pages, {took:.1f} s")


def test_the_generated_queries_reach_the_attached_rows() -> None:
    # Files, record history, lead lines and activity rights are in the catalog: the
    # covered half of the generated queries selects them (the seed's first cases).
    from crm_graphql.api import schema

    generator = Generator(schema._schema, random.Random(SEED))
    texts = " ".join(generator.query().text for _ in range(300))
    for field_name in ("files", "history", "changeHistory", "activities", "viewerCan"):
        assert f"{field_name} " in texts or f"{field_name}(" in texts, field_name
    for leaf in ("downloadUrl", "changes", "viewerCanChange", "sender"):
        assert leaf in texts, leaf
    # A user's rights, and the lead roots computed from CRM setup.
    for name in ("permissions", "assignments", "leadProgressSteps", "leadChannels"):
        assert name in texts, name
    assert "leadMailTemplates(leadId: $leadId)" in texts
    # The pipeline (with its leads) and the trash (its kinds and cursors).
    reached_roots = ("leadPipeline", "hasMoreLeads", "estimatedSales", "trash(", "$types")
    for reached in (*reached_roots, "duplicates("):
        assert reached in texts, reached
