"""The file store shared by every domain that takes attachments.

`names` (client names, content types, generated names and paths), `transactions`
(`file_transaction`: rows and bytes change together), `storage` (the bytes in the
filesystem or database store), `records` (storing and deleting file rows) and
`maintenance` (`crm-graphql files sweep` and `files move`).

The name the bytes are stored under is random (`secrets.token_hex`), never derived from
what the client sent; the client's file name is sanitised metadata only. Files keep the
upload limit (`CRM_MAX_UPLOAD_BYTES`) in both stores.

The domain services use the store through this package (`files.store`,
`files.file_transaction`, ...): the names below are its interface.
"""

from crm_graphql.services.files.names import (
    DEFAULT_NAME,
    OCTET_STREAM,
    download_path,
    files_root,
    megabytes,
    new_stored_name,
    normalize_content_type,
    path_of,
    sanitize_name,
    upload_too_large,
)
from crm_graphql.services.files.records import delete, delete_for_owners, store
from crm_graphql.services.files.storage import (
    BLOB_CHUNK,
    DATABASE,
    FILESYSTEM,
    STORES,
    Opened,
    open_bytes,
    open_for_download,
    read_bytes,
    write_bytes,
)
from crm_graphql.services.files.transactions import file_transaction, on_commit, on_commit_async

__all__ = [
    "BLOB_CHUNK",
    "DATABASE",
    "DEFAULT_NAME",
    "FILESYSTEM",
    "OCTET_STREAM",
    "STORES",
    "Opened",
    "delete",
    "delete_for_owners",
    "download_path",
    "file_transaction",
    "files_root",
    "megabytes",
    "new_stored_name",
    "normalize_content_type",
    "on_commit",
    "on_commit_async",
    "open_bytes",
    "open_for_download",
    "path_of",
    "read_bytes",
    "sanitize_name",
    "store",
    "upload_too_large",
    "write_bytes",
]
