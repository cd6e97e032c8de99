"""GraphQL multipart requests (github.com/jaydenseric/graphql-multipart-request-spec)
checked strictly before anything runs: the `map` must send each file part to exactly one
`null` placeholder under `variables`, so a map that does not fit the operation is the
client's error (HTTP 400), never an error deep in the upload code."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import orjson

# More paths than any operation has uploads; a longer map is refused unread.
MAX_PATHS = 100


class MultipartError(ValueError):
    """The request's `operations` or `map` does not fit; the message says how."""


def parse_json_field(raw: Any, name: str) -> Any:
    if raw is None:
        raise MultipartError(f"The multipart request has no `{name}` field.")
    if not isinstance(raw, str | bytes):
        raise MultipartError(f"`{name}` must be a form field, not a file.")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise MultipartError(f"`{name}` is not valid JSON.") from None


def place_files(operations: Any, files_map: Any, files: Mapping[str, Any]) -> Any:
    """`operations` with each mapped file part put at its placeholder."""
    batch = isinstance(operations, list)
    if not (isinstance(operations, dict) or (batch and operations)) or (
        batch and not all(isinstance(o, dict) for o in operations)
    ):
        raise MultipartError("`operations` must be a JSON object (or a list of them).")
    if not isinstance(files_map, dict):
        raise MultipartError("`map` must be a JSON object of file part names to paths.")
    if len(files_map) > MAX_PATHS:
        raise MultipartError(f"`map` names more than {MAX_PATHS} files.")
    result = copy.deepcopy(operations)
    for part, paths in files_map.items():
        if part not in files:
            raise MultipartError(f"`map` names the file part `{part[:40]}`, which is missing.")
        if not isinstance(paths, list) or len(paths) != 1 or not isinstance(paths[0], str):
            # One part read by two uploads would be consumed (and closed) by the first.
            raise MultipartError(
                f"`map` must give the file part `{part[:40]}` a list of exactly one path."
            )
        _place(result, paths[0], files[part], batch)
    return result


def _place(operations: Any, path: str, file: Any, batch: bool) -> None:
    keys = path.split(".")
    shown = path[:80]
    if batch:
        if not keys[0].isascii() or not keys[0].isdigit() or int(keys[0]) >= len(operations):
            raise MultipartError(f"`map` path `{shown}` names no operation of the batch.")
        target: Any = operations[int(keys[0])]
        keys = keys[1:]
    else:
        target = operations
    if len(keys) < 2 or keys[0] != "variables":
        raise MultipartError(f"`map` path `{shown}` must point into `variables`.")
    *parents, last = keys
    for key in parents:
        target = _child(target, key, shown)
    if isinstance(target, dict):
        if last not in target or target[last] is not None:
            raise MultipartError(f"`map` path `{shown}` must point at a null placeholder.")
        target[last] = file
    elif isinstance(target, list):
        index = _index(target, last, shown)
        if target[index] is not None:
            raise MultipartError(f"`map` path `{shown}` must point at a null placeholder.")
        target[index] = file
    else:
        raise MultipartError(f"`map` path `{shown}` does not fit the variables.")


def _child(target: Any, key: str, shown: str) -> Any:
    if isinstance(target, dict) and key in target:
        return target[key]
    if isinstance(target, list):
        return target[_index(target, key, shown)]
    raise MultipartError(f"`map` path `{shown}` does not fit the variables.")


def _index(target: list[Any], key: str, shown: str) -> int:
    if not key.isascii() or not key.isdigit() or int(key) >= len(target):
        raise MultipartError(f"`map` path `{shown}` does not fit the variables.")
    return int(key)
