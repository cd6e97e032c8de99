"""GET /files/{id}: the bytes of a file the viewer can see. Authenticated by the same
bearer token as /graphql (the request middleware has already resolved it to
`scope["state"]["viewer"]`); visibility is the owner's company rule in SQL
(permissions/files.py). The bytes come from either file store (services/files/storage.py). A
file the viewer may not see is a 404, exactly like a file that does not exist, so ids
reveal nothing; the denial goes to the audit log. The response is always an attachment,
with the original name encoded per RFC 6266, `nosniff`, and the stored content type only
when it is on a safe list."""

from __future__ import annotations

import logging
import unicodedata
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse

from crm_graphql.errors import ErrorCode
from crm_graphql.ids import id_number
from crm_graphql.models.auth import TokenScope
from crm_graphql.models.files import StoredFile
from crm_graphql.permissions.files import visible_files_q
from crm_graphql.services import audit
from crm_graphql.services import files as service
from crm_graphql.settings import Settings, settings

log = logging.getLogger("crm_graphql.files")


# Types a browser will not run as a page or script. Anything else is served as
# application/octet-stream (text/html, image/svg+xml, XML, JavaScript...).
SAFE_CONTENT_TYPES = frozenset(
    {
        "application/pdf",
        "application/zip",
        "application/gzip",
        "application/json",
        "application/rtf",
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation",
        "text/plain",
        "text/csv",
        "text/calendar",
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "image/bmp",
        "image/tiff",
        "audio/mpeg",
        "audio/ogg",
        "audio/wav",
        "video/mp4",
        "video/webm",
    }
)


def _error(
    status: int, message: str, code: ErrorCode, headers: dict[str, str] | None = None
) -> Response:
    body = {"errors": [{"message": message, "extensions": {"code": code}}]}
    return JSONResponse(body, status_code=status, headers=headers)


def _not_found() -> Response:
    return _error(404, "No such file.", ErrorCode.NOT_FOUND)


def served_content_type(stored: str) -> str:
    return stored if stored in SAFE_CONTENT_TYPES else service.OCTET_STREAM


def content_disposition(name: str) -> str:
    """`attachment` with an ASCII fallback `filename` and the exact UTF-8 `filename*`
    (RFC 6266 / RFC 8187); no quote, backslash, control character or separator can
    break out of the header."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    fallback = "".join(c if c.isalnum() or c in " ._-()[]+,=@" else "_" for c in ascii_name).strip()
    fallback = fallback or service.DEFAULT_NAME
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def _file_id(raw: str) -> int | None:
    if not raw.isascii() or not raw.isdigit():
        return None
    return id_number(raw)


async def _deny(viewer: Any, file_id: Any, reason: str, request_id: str) -> None:
    await audit.record(
        viewer.user,
        audit.DENIED,
        "File",
        file_id,
        {"reason": reason, "operation": "download"},
        request_id,
    )


async def download(request: Request) -> Response:
    state = request.scope.get("state", {})
    viewer = state.get("viewer")
    request_id = state.get("request_id", "")
    if viewer is None:
        return _error(
            401,
            "Authentication required.",
            ErrorCode.UNAUTHENTICATED,
            {"WWW-Authenticate": "Bearer"},
        )
    config: Settings = getattr(request.app.state, "config", settings)
    raw_id = request.path_params.get("file_id", "")
    if viewer.scope != TokenScope.FULL:
        await _deny(viewer, raw_id[:40], f"token scope {viewer.scope.value}", request_id)
        return _error(403, "This API token's scope does not allow downloads.", ErrorCode.FORBIDDEN)
    file_id = _file_id(raw_id)
    if file_id is None:
        return _not_found()
    found = await StoredFile.filter(visible_files_q(viewer), id=file_id).first()
    if found is None:
        if await StoredFile.filter(id=file_id).exists():
            await _deny(viewer, file_id, "not visible", request_id)
        return _not_found()
    try:
        opened = await service.open_bytes(found, config)
    except (FileNotFoundError, ValueError):
        log.error("request %s: the bytes of file %s are missing", request_id, found.id)
        return _not_found()
    return bytes_response(
        opened,
        found,
        served_content_type(found.content_type),
        {
            "Content-Disposition": content_disposition(found.original_name),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, no-cache",
        },
    )


def bytes_response(
    opened: service.Opened, file: StoredFile, media_type: str, headers: dict[str, str]
) -> Response:
    """A file's bytes from whichever store holds them: from disk as a FileResponse,
    from the database streamed a chunk per statement."""
    if opened.path is not None:
        return FileResponse(opened.path, media_type=media_type, headers=headers)
    return StreamingResponse(
        opened.chunks(),
        media_type=media_type,
        headers={**headers, "Content-Length": str(file.size)},
    )
