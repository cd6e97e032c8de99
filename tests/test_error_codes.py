"""Error codes are members of `crm_graphql.errors.ErrorCode`, never free strings: a walk of
the source finds every string literal passed as a code; the schema documents the codes."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from crm_graphql.errors import GRAPHQL_CODES, INTERNAL_CODES, PAYLOAD_CODES, ErrorCode
from tests.factories import Api

PACKAGE = Path(__file__).resolve().parent.parent / "crm_graphql"
# A parameter, keyword, attribute or dict key with one of these names holds an error code.
CODE_NAMES = {"code", "error_code"}
# A variable named like `TRANSIENT_CODES` may hold error codes, or other codes (contract
# status codes): there only an error code's own string counts.
ERROR_CODE_VALUES = {c.value for c in ErrorCode}


def _is_str(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _is_code_like(node: ast.AST) -> bool:
    return _is_str(node) and re.fullmatch(r"[A-Z][A-Z_]+", node.value) is not None  # type: ignore[attr-defined]


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _code_positions(tree: ast.Module) -> dict[str, set[int]]:
    """Callable name -> positional indexes of its code parameters (classes by __init__)."""
    positions: dict[str, set[int]] = {}

    def add(name: str, args: ast.arguments, skip_self: bool) -> None:
        params = [a.arg for a in args.posonlyargs + args.args][1 if skip_self else 0 :]
        found = {i for i, p in enumerate(params) if p in CODE_NAMES}
        if found:
            positions.setdefault(name, set()).update(found)

    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            # A dataclass's fields are its positional parameters.
            fields = [
                item.target.id
                for item in node.body
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)
            ]
            found = {i for i, f in enumerate(fields) if f in CODE_NAMES}
            if found:
                positions.setdefault(node.name, set()).update(found)
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    if item.name == "__init__":
                        add(node.name, item.args, skip_self=True)
                    else:
                        add(item.name, item.args, skip_self=True)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            add(node.name, node.args, skip_self=False)
    return positions


def literal_nodes(trees: dict[Path, ast.Module]) -> Iterator[tuple[Path, ast.Constant, str]]:
    """(file, string literal, how it is used) for each string passed as a code."""
    local = {path: _code_positions(tree) for path, tree in trees.items()}
    everywhere: dict[str, set[int]] = {}
    for found in local.values():
        for name, indexes in found.items():
            everywhere.setdefault(name, set()).update(indexes)
    for path, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                for kw in node.keywords:
                    if kw.arg in CODE_NAMES and _is_str(kw.value):
                        yield path, kw.value, f"{kw.arg}="  # type: ignore[misc]
                name = _name(node.func) or ""
                # A bare name is this module's function when it defines one of that name.
                if isinstance(node.func, ast.Name) and name in local[path]:
                    indexes = local[path][name]
                else:
                    indexes = everywhere.get(name, set())
                for index in indexes:
                    # Names repeat across modules: only code-like literals count here.
                    if index < len(node.args) and _is_code_like(node.args[index]):
                        yield path, node.args[index], f"{name}() argument {index}"  # type: ignore[misc]
            elif isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if _is_str(key) and key.value in CODE_NAMES and _is_str(value):  # type: ignore[union-attr]
                        yield path, value, "{'code': ...}"  # type: ignore[misc]
            elif isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names = {_name(t) for t in targets}
                if names & CODE_NAMES:
                    if _is_str(node.value):
                        yield path, node.value, "code = ..."  # type: ignore[misc]
                    else:  # code = "A" if ... else "B", {404: "NOT_FOUND"}.get(...)
                        for inner in ast.walk(node.value):
                            if _is_code_like(inner):
                                yield path, inner, "code = ..."  # type: ignore[misc]
                elif any(n and n.endswith(("_CODE", "_CODES")) for n in names):
                    for inner in ast.walk(node.value):
                        if _is_str(inner) and inner.value in ERROR_CODE_VALUES:  # type: ignore[attr-defined]
                            yield path, inner, "codes = ..."  # type: ignore[misc]
            elif isinstance(node, ast.Compare) and _name(node.left) in CODE_NAMES:  # type: ignore[arg-type]
                for value in node.comparators:
                    if _is_str(value):
                        yield path, value, "compared with a code"  # type: ignore[misc]


def literal_codes(trees: dict[Path, ast.Module]) -> list[str]:
    return [
        f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {how}: {node.value!r}"
        for path, node, how in literal_nodes(trees)
    ]


def _trees() -> dict[Path, ast.Module]:
    return {path: ast.parse(path.read_text(), str(path)) for path in PACKAGE.rglob("*.py")}


def test_no_string_literal_is_passed_as_an_error_code() -> None:
    assert literal_codes(_trees()) == []


def test_the_walk_finds_literal_codes() -> None:
    # The check can fail: each way of passing a code as a string is caught.
    source = """
class Oops(ApiError):
    code = "OOPS"
def fail(field, code, message): ...
fail("x", "INVALID", "m")
FieldError("x", "INVALID", "m")
raise ApiError("m", code="X")
body = {"extensions": {"code": "NOT_FOUND"}}
if error.code == "STALE": ...
fail("x", ErrorCode.INVALID, "fine")
code = "TOO_LARGE" if big else ErrorCode.RENDER_FAILED
RETRY_CODES = frozenset({"TIMEOUT"})
@dataclass
class Problem:
    line: int
    code: ErrorCode
Problem(1, "INVALID")
"""
    trees = {PACKAGE / "example.py": ast.parse(source)}
    trees[PACKAGE / "errors.py"] = ast.parse((PACKAGE / "errors.py").read_text())
    assert len(literal_codes(trees)) == 9


def test_every_code_is_documented_once_where_clients_see_it() -> None:
    assert set(PAYLOAD_CODES) | set(GRAPHQL_CODES) | set(INTERNAL_CODES) == set(ErrorCode)
    assert not (set(INTERNAL_CODES) & (set(PAYLOAD_CODES) | set(GRAPHQL_CODES)))
    assert all(PAYLOAD_CODES.values()) and all(GRAPHQL_CODES.values())
    assert ErrorCode.INVALID == "INVALID"  # the strings clients see are unchanged


async def test_the_schema_documents_both_enums(demo: Api) -> None:
    query = """query($name: String!) { __type(name: $name) {
      description enumValues { name description } } }"""
    for name, codes in (("ErrorCode", PAYLOAD_CODES), ("GraphQLErrorCode", GRAPHQL_CODES)):
        found = (await demo.data(query, {"name": name}, as_user="admin"))["__type"]
        assert found["description"]
        assert {v["name"]: v["description"] for v in found["enumValues"]} == {
            c.name: d for c, d in codes.items()
        }
