"""The import direction of docs/architecture.md ("Layers"), checked on the source.

Every module of `crm_graphql/` is parsed with `ast`; every import (at module level, in
functions, under `TYPE_CHECKING`) of a `crm_graphql` module must go to the same layer or
one below. Resolver modules import no other resolver module except the shared helpers;
the modules of one resolver domain package (`resolvers/leads/`) may import each other.
A new module must be placed in LAYERS, so the map stays complete."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "crm_graphql"

# Lowest first; a module may import from its own layer and those before it. The first
# path part of a module decides (`services.invoices` is in "services").
LAYERS: list[tuple[str, set[str]]] = [
    ("foundation", {"", "settings", "errors", "ids", "values", "redaction"}),
    ("models", {"models"}),
    ("services", {"services"}),
    ("permissions", {"permissions"}),
    ("dataloaders", {"dataloaders"}),
    ("context", {"context"}),
    ("schema", {"schema"}),
    ("resolvers", {"resolvers"}),
    ("extensions", {"extensions"}),
    ("api", {"api"}),
    (
        "http",
        {
            "endpoints",
            "mailworkers",
            "webhookworkers",
            "graphiql",
            "multipart",
            "websecurity",
            "middleware",
            "graphql_app",
        },
    ),
    ("app", {"app"}),
    ("cli", {"cli"}),
]
RANK = {part: rank for rank, (_, parts) in enumerate(LAYERS) for part in parts}
LAYER_NAME = {part: name for name, parts in LAYERS for part in parts}

# Resolver modules that other resolver modules may import: helpers, not domains.
SHARED_RESOLVERS = {
    "crm_graphql.resolvers",
    "crm_graphql.resolvers.common",
    "crm_graphql.resolvers.filtering",
}


def same_resolver_domain(source: str, target: str) -> bool:
    """Both modules are inside one resolver domain package (`crm_graphql.resolvers.leads`
    and its modules): a domain split into parts that merge into its root fields."""
    domain = source.split(".")[:3]
    return (
        len(domain) == 3
        and target.split(".")[:3] == domain
        and (PACKAGE.joinpath(*domain[1:]) / "__init__.py").is_file()
    )


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) for each `crm_graphql` module `path` imports, wherever the import
    statement is; `from X import y` counts as X and, if it is a module, X.y."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            found.append((node.lineno, source))
            for alias in node.names:
                candidate = f"{source}.{alias.name}"
                if is_module(candidate):
                    found.append((node.lineno, candidate))
    return [(line, mod) for line, mod in found if mod.split(".")[0] == "crm_graphql"]


def is_module(name: str) -> bool:
    relative = Path(*name.split(".")[1:]) if "." in name else Path()
    base = PACKAGE / relative
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def layer_part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def crossings(root: Path = PACKAGE) -> list[str]:
    problems: list[str] = []
    for path in sorted(root.rglob("*.py")):
        source = module_name(path)
        where = layer_part(source)
        if where not in RANK:
            problems.append(f"{source}: not placed in a layer (add it to LAYERS and the docs)")
            continue
        for line, target in imported_modules(path):
            to = layer_part(target)
            if to not in RANK:
                problems.append(f"{source}:{line} imports {target}, which is in no layer")
            elif RANK[to] > RANK[where]:
                problems.append(
                    f"{source}:{line} ({LAYER_NAME[where]}) imports {target} "
                    f"({LAYER_NAME[to]}, a layer above)"
                )
            elif (
                where == to == "resolvers"
                and target != source
                and target not in SHARED_RESOLVERS
                and source not in SHARED_RESOLVERS
                and not same_resolver_domain(source, target)
            ):
                problems.append(
                    f"{source}:{line} imports resolver module {target}: move what it needs "
                    "to resolvers/common.py, permissions/ or services/"
                )
    return problems


def test_imports_follow_the_layer_order() -> None:
    assert crossings() == []


def test_every_layer_is_in_the_architecture_doc() -> None:
    doc = (PACKAGE.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    order = " -> ".join(name for name, _ in LAYERS)
    assert order in " ".join(doc.split()), f"docs/architecture.md should state: {order}"


@pytest.mark.parametrize(
    ("module", "code", "expected"),
    [
        ("services/x.py", "def f():\n    from crm_graphql.permissions import y\n", "above"),
        ("services/x.py", "from ..resolvers.common import z\n", "above"),
        ("models/x.py", "import crm_graphql.services.auth\n", "above"),
        ("resolvers/a.py", "from crm_graphql.resolvers.b import f\n", "resolver module"),
        ("resolvers/a.py", "from crm_graphql.resolvers import b\n", "resolver module"),
        ("resolvers/a.py", "from crm_graphql.resolvers.common import f\n", None),
        ("resolvers/d/a.py", "from crm_graphql.resolvers.d.c import f\n", None),
        ("resolvers/d/a.py", "from .c import f\n", None),
        ("resolvers/d/__init__.py", "from crm_graphql.resolvers.d.a import f\n", None),
        ("resolvers/d/a.py", "from crm_graphql.resolvers.b import f\n", "resolver module"),
        ("resolvers/d/a.py", "from .. import b\n", "resolver module"),
        ("resolvers/d/a.py", "from crm_graphql.resolvers.e.c import f\n", "resolver module"),
        ("resolvers/a.py", "from crm_graphql.resolvers.d.c import f\n", "resolver module"),
        ("resolvers/a.py", "from crm_graphql.resolvers.d import c\n", "resolver module"),
        ("resolvers/b.py", "from crm_graphql.resolvers.d import f\n", "resolver module"),
        ("cli.py", "from crm_graphql.resolvers.b import f\n", None),
        ("newplace/x.py", "import os\n", "not placed"),
    ],
)
def test_the_check_finds_crossings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: str, code: str, expected: str | None
) -> None:
    """The checker itself, on a small fake package (so the test above cannot pass by
    finding nothing)."""
    fake = tmp_path / "crm_graphql"
    for part in (
        "models",
        "services",
        "permissions",
        "resolvers",
        "newplace",
        "resolvers/d",
        "resolvers/e",
    ):
        (fake / part).mkdir(parents=True)
        (fake / part / "__init__.py").write_text("")
    (fake / "__init__.py").write_text("")
    helpers = ("resolvers/b.py", "resolvers/common.py", "permissions/y.py")
    for helper in (*helpers, "resolvers/d/c.py", "resolvers/e/c.py"):
        (fake / helper).write_text("")
    (fake / module).write_text(code)
    monkeypatch.setattr(f"{__name__}.PACKAGE", fake)
    name = "crm_graphql." + module.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
    found = [p for p in crossings(fake) if p.startswith(name + ":")]
    if expected is None:
        assert found == []
    else:
        assert found and all(expected in problem for problem in found), found


# Tortoise internals (no public API gives a queryset's SQL with its parameters and
# connection, or a model from a raw row): only services/orm.py may touch them; the
# database engines subclass Tortoise's clients and are exempt.
TORTOISE_PRIVATE = {
    "_choose_db_if_not_chosen",
    "_make_query",
    "_init_from_db",
    "_orderbys",
    "_joins",
}
TORTOISE_ALLOWED = {"services/orm.py", "services/sqlite_engine.py", "services/postgres_engine.py"}


def private_tortoise_uses(root: Path = PACKAGE) -> list[str]:
    found: list[str] = []
    for path in sorted(root.rglob("*.py")):
        if path.relative_to(root).as_posix() in TORTOISE_ALLOWED:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Attribute) and node.attr in TORTOISE_PRIVATE:
                found.append(f"{path.relative_to(root)}:{node.lineno} uses .{node.attr}")
    return found


def test_tortoise_internals_only_behind_services_orm(tmp_path: Path) -> None:
    assert private_tortoise_uses() == []
    (tmp_path / "services").mkdir()
    (tmp_path / "services" / "x.py").write_text("def f(q):\n    q._make_query()\n")
    assert private_tortoise_uses(tmp_path) == ["services/x.py:2 uses ._make_query"]
