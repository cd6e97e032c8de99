"""The documentation names modules that exist: every `crm_graphql/...` path in
docs/*.md and README.md, and every backticked module path (`services/listing/filters.py`,
`permissions/scopes.PATHS`, `services.mutations.atomic`), must resolve in the tree.
README's "Where things go" names every top-level module and package of `crm_graphql/`,
and the architecture documents keep their prose lines short enough to read."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "crm_graphql"
DOCUMENTS = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
# Documents whose prose is wrapped (tables and code blocks are exempt).
WRAPPED = [ROOT / "docs" / "architecture.md", ROOT / "docs" / "adding-a-domain.md"]
MAX_LINE = 100

# First parts of a path relative to `crm_graphql/` (its packages and data directories).
PACKAGE_DIRS = sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name[0] != "_")
REPO_DIRS = ["tests", "migrations", "scripts", "bench", "docs"]
ERROR_EXTENSIONS = {"extensions.code", "extensions.field", "extensions.reason"}

FULL_PATH = re.compile(r"crm_graphql/[\w./-]*")
BACKTICKED = re.compile(r"`([^`\s]+)`")
SLASHED = re.compile(rf"^(?:{'|'.join(PACKAGE_DIRS + REPO_DIRS)})/[\w/.-]*$")
DOTTED = re.compile(rf"^(?:crm_graphql\.)?(?:{'|'.join(PACKAGE_DIRS)})(?:\.\w+)+$")


def defines(module: Path, name: str) -> bool:
    """The module (a `.py` file or a package's `__init__.py`) mentions `name` as a word:
    enough to catch a renamed or moved function without importing anything."""
    source = module / "__init__.py" if module.is_dir() else module.with_suffix(".py")
    return source.is_file() and re.search(rf"\b{name}\b", source.read_text()) is not None


def resolves(base: Path, parts: list[str], attributes: bool) -> bool:
    """`parts` under `base` name a file or directory; with `attributes`, a trailing
    dotted name after a module (`scopes.PATHS`) must be mentioned in that module."""
    path = base.joinpath(*parts) if parts else base
    if path.exists():
        return True
    if not attributes:
        return False
    *folders, last = parts
    # `cursors.decode_cursor` -> cursors.py; `base.py` has already been tried as is.
    stem, _, attribute = last.partition(".")
    module = base.joinpath(*folders, stem)
    if not (module.with_suffix(".py").is_file() or (module / "__init__.py").is_file()):
        return False
    return not attribute or defines(module, attribute.split(".")[0])


def slashed_exists(text: str) -> bool:
    parts = [part for part in text.removeprefix("crm_graphql/").split("/") if part]
    if not parts:
        return True
    base = ROOT if parts[0] in REPO_DIRS and not text.startswith("crm_graphql/") else PACKAGE
    return resolves(base, parts, attributes=True)


def dotted_exists(text: str) -> bool:
    """`services.mutations.atomic`: the longest prefix that is a module or package
    (`services.mutations`, `extensions`) must mention the next name (`atomic`,
    `cost_limit_rule`). A GraphQL error's `extensions.code` and a file such as
    `schema.graphql` are no modules."""
    if text in ERROR_EXTENSIONS or (ROOT / text).is_file():
        return True
    parts = text.removeprefix("crm_graphql.").split(".")
    for end in range(len(parts), 0, -1):
        module = PACKAGE.joinpath(*parts[:end])
        if module.with_suffix(".py").is_file() or (module / "__init__.py").is_file():
            return end == len(parts) or defines(module, parts[end])
    return False


def named_paths(text: str) -> set[str]:
    names = {match.rstrip(".") for match in FULL_PATH.findall(text)}
    for token in BACKTICKED.findall(text):
        if SLASHED.match(token) or DOTTED.match(token):
            names.add(token.rstrip("."))
    return names


def missing_paths(document: Path) -> list[str]:
    missing = []
    for name in sorted(named_paths(document.read_text(encoding="utf-8"))):
        exists = dotted_exists(name) if "/" not in name else slashed_exists(name)
        if not exists:
            missing.append(name)
    return missing


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_named_modules_exist(document: Path) -> None:
    assert missing_paths(document) == []


def test_the_check_finds_a_missing_module(tmp_path: Path) -> None:
    """The extraction is not vacuous: a wrong name in any of the forms is reported."""
    document = tmp_path / "doc.md"
    document.write_text(
        "See `services/listing/filters.py`, `permissions/scopes.PATHS`, "
        "`services.mutations.atomic` and crm_graphql/api.py.\n"
        "Gone: `services/nowhere.py`, `schema/leads/nothing`, `services.nowhere.f`, "
        "`services/listing/cursors.no_such_function`, `services.mutations.no_such`, "
        "crm_graphql/vanished.py.\n",
        encoding="utf-8",
    )
    assert missing_paths(document) == [
        "crm_graphql/vanished.py",
        "schema/leads/nothing",
        "services.mutations.no_such",
        "services.nowhere.f",
        "services/listing/cursors.no_such_function",
        "services/nowhere.py",
    ]


def where_things_go() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Where things go", 1)[1]
    return section.split("\n## ", 1)[0]


def test_readme_table_names_every_top_level_module() -> None:
    named = {
        token.removeprefix("crm_graphql/").rstrip("/")
        for token in BACKTICKED.findall(where_things_go())
    }
    top_level = {
        path.name
        for path in PACKAGE.iterdir()
        if (path.suffix == ".py" and path.name != "__init__.py")
        or (path.is_dir() and (path / "__init__.py").is_file())
    }
    assert sorted(top_level - named) == []


@pytest.mark.parametrize("document", WRAPPED, ids=lambda path: path.name)
def test_prose_lines_are_wrapped(document: Path) -> None:
    long_lines = []
    in_code = False
    for number, line in enumerate(document.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and not line.startswith("|") and len(line) > MAX_LINE:
            long_lines.append(number)
    assert long_lines == []
