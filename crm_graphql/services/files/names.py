"""Names and paths of stored files: the client's file name and content type made safe
to keep (metadata only), the generated name the bytes are stored under and where on
disk that is, and the words of the upload limit."""

from __future__ import annotations

import re
import secrets
import unicodedata
from pathlib import Path

from crm_graphql.settings import Settings, settings

MAX_NAME_LENGTH = 255  # StoredFile.original_name
MAX_DESCRIPTION_LENGTH = 255  # StoredFile.description
DEFAULT_NAME = "file"
OCTET_STREAM = "application/octet-stream"
STORED_NAME_RE = re.compile(r"^[0-9a-f]{32}$")
_CONTENT_TYPE_RE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$")
# Invisible characters that reorder or hide text: a name could show "gpj.exe" as "exe.jpg".
_FORMAT_CONTROLS = frozenset(
    "\u061c\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2060\u2066\u2067\u2068\u2069\ufeff"
)


def megabytes(size: int) -> str:
    """A byte count as people read upload limits: "20 MB", "1.5 MB", "0.00095 MB"."""
    value = size / 1_048_576
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{text if text != '0' else f'{value:.2g}'} MB"


def upload_too_large(limit: int) -> str:
    """The one message for an upload over CRM_MAX_UPLOAD_BYTES (code TOO_LARGE), from the
    resolver or from the request middleware."""
    return (
        f"The file is over the upload limit of {megabytes(limit)} ({limit} bytes, "
        "CRM_MAX_UPLOAD_BYTES); nothing was stored."
    )


def sanitize_name(raw: str | None) -> str:
    """The client's file name made safe to store and to show: the last path component
    (both `/` and `\\` separate), without control or invisible formatting characters,
    trimmed, at most 255 characters (keeping the extension), "file" when nothing is
    left. It is metadata: it never becomes part of a path on disk."""
    name = unicodedata.normalize("NFC", str(raw or ""))
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(
        c
        for c in name
        if c not in _FORMAT_CONTROLS and unicodedata.category(c) not in ("Cc", "Cs", "Co", "Cn")
    )
    name = name.strip().strip(".").strip()
    if len(name) > MAX_NAME_LENGTH:
        stem, dot, extension = name.rpartition(".")
        if dot and stem and 0 < len(extension) <= 16:
            name = stem[: MAX_NAME_LENGTH - len(extension) - 1].rstrip() + "." + extension
        else:
            name = name[:MAX_NAME_LENGTH].rstrip()
    return name or DEFAULT_NAME


def normalize_content_type(raw: str | None) -> str:
    """`type/subtype` in lower case without parameters, or application/octet-stream."""
    value = (raw or "").split(";", 1)[0].strip().lower()
    return value if _CONTENT_TYPE_RE.match(value) else OCTET_STREAM


def files_root(config: Settings | None = None) -> Path:
    return (config or settings).data_dir / "files"


def path_of(stored_name: str, config: Settings | None = None) -> Path:
    """Where the bytes of a stored name live; refuses anything but a generated name."""
    if not STORED_NAME_RE.match(stored_name):
        raise ValueError(f"not a generated file name: {stored_name!r}")
    return files_root(config) / stored_name[:2] / stored_name


# The download endpoint's path before a file's id (see endpoints/files.py).
DOWNLOAD_PREFIX = "/files/"


def download_path(file_id: int) -> str:
    """The download endpoint's path for a file (see endpoints/files.py)."""
    return f"{DOWNLOAD_PREFIX}{int(file_id)}"


def new_stored_name() -> str:
    return secrets.token_hex(16)
