"""File storage: blobs on disk under ``<data dir>/storage/``, each described by a row of ``_storage``.

A file is named by its storage id (the id of its ``_storage`` row, which holds ``sha256`` as
base64, ``size`` and ``contentType``; convex-semantics §10). The order of operations keeps the
two in step across crashes:

- storing writes the bytes to ``.tmp/`` and fsyncs them, then one transaction inserts the row
  and renames the file to its id before committing, so a committed row always has its file;
- deleting removes the row in the deleting mutation's transaction, and the file only once that
  commit is durable (a commit listener), so a mutation that fails deletes nothing;
- a crash between those steps can only leave a file without a row: ``sweep`` removes those
  (and unfinished uploads) when the executor starts.

Several servers of one PostgreSQL deployment share this directory (the data directory on a mount
every server sees): files are named by id, markers are created with ``O_EXCL``, and each server
deletes a file when any server's commit deleted its row (the commit feed delivers every commit).

Upload URLs are signed with a per-deployment key kept next to the files, so they stay valid
across restarts until they expire, and each works once: its first use creates a marker file
named after its nonce (``O_EXCL``, so two racing uploads cannot both win), kept until the URL
would have expired anyway. An upload larger than ``knobs.MAX_UPLOAD_BYTES`` is refused with 413.

Files are served from the deployment's own origin, so none may act as a page of it: every file
goes out with ``X-Content-Type-Options: nosniff`` and a sandboxing CSP, and a type a browser
would run (HTML, SVG, XML, scripts…) as an attachment. The aiohttp handlers are at the end.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import time
import uuid
from collections.abc import AsyncIterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from runtime import knobs
from runtime.database.read_set import Commit
from runtime.database.transaction import Transaction
from runtime.store.catalog import SYSTEM_TABLE_NUMBERS
from runtime.store.durable_files import sync_directory, sync_file
from runtime.store.sqlite import decode_document
from runtime.values.errors import ConvexValueError
from runtime.values.ids import id_table_number
from runtime.values.values import Value, binary_size, display

if TYPE_CHECKING:
    from runtime.database.database import Database
    from runtime.functions.execution import Execution, ExecutionHost

STORAGE = "_storage"
STORAGE_TABLE_NUMBER = SYSTEM_TABLE_NUMBERS[STORAGE]
_TEMPORARY = ".tmp"
_KEY_FILE = ".upload-key"
_USED_UPLOADS = ".used-uploads"  # one empty file per upload URL already used, named by its nonce
# On a shared directory (PostgreSQL deployments), how old a file must be to count as left over.
SHARED_SWEEP_AGE_S = 3600.0
# Types a browser renders without running anything; every other type is served as an attachment.
_INLINE_TYPES = frozenset(
    {
        "application/json",
        "application/octet-stream",
        "application/pdf",
        "text/csv",
        "text/plain",
    }
)
_INLINE_PREFIXES = ("audio/", "font/", "video/")
_SAFE_IMAGES = frozenset({"image/apng", "image/avif", "image/bmp", "image/gif", "image/jpeg", "image/png", "image/webp"})


def is_storage_id(storage_id: object) -> bool:
    """True for a string that is an id of the ``_storage`` table."""
    return isinstance(storage_id, str) and id_table_number(storage_id) == STORAGE_TABLE_NUMBER


def _checked_id(storage_id: object, method: str) -> str:
    if not is_storage_id(storage_id):
        raise ConvexValueError(
            f"Invalid argument `storageId` for `storage.{method}`: {display(storage_id)} is not a storage ID"
        )
    return str(storage_id)


def metadata(row: dict[str, Value]) -> dict[str, Value]:
    """What ``storage.get_metadata`` returns for a ``_storage`` row."""
    return {
        "storageId": row["_id"],
        "sha256": row["sha256"],
        "size": row["size"],
        "contentType": row.get("contentType"),
    }


class FileStorage:
    """The blobs of one deployment and the bookkeeping that keeps them in step with ``_storage``."""

    def __init__(self, database: Database, root: Path) -> None:
        self._database = database
        self.root = root
        (root / _TEMPORARY).mkdir(parents=True, exist_ok=True)
        (root / _USED_UPLOADS).mkdir(exist_ok=True)
        # Files older than this may be crash leftovers; younger ones may belong to a store in flight.
        # What ``sweep`` may take for a leftover: anything older than this server. On PostgreSQL
        # several servers share the directory, and another's upload or commit may be in flight:
        # only what is older than any upload or commit could take counts as left over there.
        self._leftover_before = time.time() if database.database_url is None else time.time() - SHARED_SWEEP_AGE_S
        self._swept = False
        self._key: bytes | None = None
        database.add_commit_listener(self._on_commits)

    def path(self, storage_id: str) -> Path:
        """Where the bytes of ``storage_id`` live (for imports and exports of ``_storage`` too)."""
        return self.root / storage_id

    # --- rows -------------------------------------------------------------------------------
    def row(self, storage_id: object) -> dict[str, Value] | None:
        """The ``_storage`` row of ``storage_id`` in the latest committed state, or None."""
        if not is_storage_id(storage_id):
            return None
        with self._database.snapshot() as ts:
            return self._database.read_transaction(ts).get(str(storage_id), system=True)

    # --- bytes ------------------------------------------------------------------------------
    async def store(
        self, data: bytes | AsyncIterable[bytes], content_type: str | None = None, *, limit: int | None = None
    ) -> str:
        """Keep ``data`` (bytes, or chunks as they arrive) as a new file; returns its storage id.

        Chunks past ``limit`` bytes raise ``UploadTooLargeError`` and nothing is kept.
        """
        if content_type is not None and not isinstance(content_type, str):
            raise ConvexValueError(f"contentType must be a string, got {display(content_type)}")
        temporary = self.root / _TEMPORARY / uuid.uuid4().hex
        try:
            digest, size = await self._write(temporary, data, limit)
            fields: dict[str, Value] = {
                "sha256": base64.b64encode(digest).decode("ascii"),
                "size": float(size),
                "contentType": content_type,
            }

            def body(transaction: Transaction) -> str:
                storage_id = transaction.insert(STORAGE, fields, system=True)
                # Renamed before the commit: whenever the row exists, so does its file.
                os.replace(temporary, self.path(storage_id))
                sync_directory(self.root)
                return storage_id

            return (await self._database.mutate(body)).value
        finally:
            temporary.unlink(missing_ok=True)

    async def _write(self, path: Path, data: bytes | AsyncIterable[bytes], limit: int | None) -> tuple[bytes, int]:
        digest = hashlib.sha256()
        size = 0
        file = await asyncio.to_thread(path.open, "wb")
        try:
            if isinstance(data, (bytes, bytearray, memoryview)):
                digest.update(data)
                size = len(data)
                await asyncio.to_thread(file.write, data)
            else:
                async for chunk in data:
                    size += len(chunk)
                    if limit is not None and size > limit:
                        raise UploadTooLargeError(limit)
                    digest.update(chunk)
                    file.write(chunk)  # one chunk at a time: short enough not to stall the loop
            await asyncio.to_thread(sync_file, file)
        finally:
            file.close()
        return digest.digest(), size

    async def read(self, storage_id: object) -> bytes | None:
        """The bytes of a stored file, or None if there is no such file."""
        if self.row(storage_id) is None:
            return None
        try:
            return await asyncio.to_thread(self.path(str(storage_id)).read_bytes)
        except FileNotFoundError:
            return None  # deleted since the row was read

    def _on_commits(self, commits: list[Commit]) -> None:
        for commit in commits:
            for write in commit.writes:
                if write.table_number == STORAGE_TABLE_NUMBER and write.new is None:
                    self.path(write.doc_id).unlink(missing_ok=True)

    def sweep(self) -> None:
        """Remove unfinished uploads and files whose row is gone (crash leftovers); once per process."""
        if self._swept:
            return
        self._swept = True
        for leftover in (self.root / _TEMPORARY).iterdir():
            if leftover.stat().st_mtime < self._leftover_before:
                leftover.unlink(missing_ok=True)
        for marker in (self.root / _USED_UPLOADS).iterdir():
            if marker.stat().st_mtime < time.time() - knobs.UPLOAD_URL_TTL_S - 60:
                marker.unlink(missing_ok=True)  # its URL has expired: the marker is no longer needed
        with self._database.snapshot() as ts:
            rows = self._database.read_transaction(ts).rows
            live = {decode_document(body)["_id"] for body in rows.table_documents(STORAGE_TABLE_NUMBER)}
        for entry in self.root.iterdir():
            if is_storage_id(entry.name) and entry.name not in live and entry.stat().st_mtime < self._leftover_before:
                entry.unlink(missing_ok=True)

    # --- upload URLs ------------------------------------------------------------------------
    def upload_url(self, base_url: str) -> str:
        """A URL a client may POST one file to, once, within ``knobs.UPLOAD_URL_TTL_S``."""
        claim = f"{int(time.time() + knobs.UPLOAD_URL_TTL_S)}.{uuid.uuid4().hex}"
        return f"{base_url.rstrip('/')}/api/storage/upload?token={claim}.{self._sign(claim)}"

    def check_upload_token(self, token: str | None) -> bool:
        """True for a token this deployment signed, not expired and not used yet."""
        expires, _, rest = (token or "").partition(".")
        nonce, _, signature = rest.partition(".")
        if not expires.isdigit() or len(nonce) != 32 or not nonce.isalnum():
            return False
        if not hmac.compare_digest(signature, self._sign(f"{expires}.{nonce}")):
            return False
        return int(expires) >= time.time()

    def use_upload_token(self, token: str) -> bool:
        """Spend a checked token: True the first time only, across restarts too."""
        nonce = token.split(".")[1]
        try:
            os.close(os.open(self.root / _USED_UPLOADS / nonce, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            return False
        return True

    def _sign(self, message: str) -> str:
        return hmac.new(self._signing_key(), message.encode("ascii"), hashlib.sha256).hexdigest()

    def _signing_key(self) -> bytes:
        if self._key is None:
            path = self.root / _KEY_FILE
            try:
                descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                self._key = path.read_bytes()
            else:
                key = os.urandom(32)
                with os.fdopen(descriptor, "wb") as file:
                    file.write(key)
                    sync_file(file)
                self._key = key
        return self._key


def file_url(executor: ExecutionHost, storage_id: str) -> str:
    """The public URL a stored file is served at."""
    return f"{executor.cloud_url.rstrip('/')}/api/storage/{storage_id}"


# --- ctx.storage --------------------------------------------------------------------------------
class StorageReader:
    """``ctx.storage`` of a query: URLs and metadata, read in the query's transaction (so reactive)."""

    def __init__(self, execution: Execution) -> None:
        self._execution = execution

    @property
    def _transaction(self) -> Transaction:
        transaction = self._execution.transaction
        assert transaction is not None
        return transaction

    async def get_url(self, storage_id: str) -> str | None:
        """The URL serving the file, or None if it does not exist (any more)."""
        storage_id = _checked_id(storage_id, "getUrl")
        row = self._transaction.get(storage_id, system=True)
        return None if row is None else file_url(self._execution.executor, storage_id)

    async def get_metadata(self, storage_id: str) -> dict[str, Value] | None:
        """``{storageId, sha256, size, contentType}`` or None (deprecated in Convex: read ``_storage``)."""
        row = self._transaction.get(_checked_id(storage_id, "getMetadata"), system=True)
        return None if row is None else metadata(row)


class StorageWriter(StorageReader):
    """``ctx.storage`` of a mutation: also upload URLs and transactional deletes."""

    async def generate_upload_url(self) -> str:
        """A short-lived URL a client POSTs a file to; the response is ``{"storageId": ...}``."""
        executor = self._execution.executor
        return executor.file_storage.upload_url(executor.cloud_url)

    async def delete(self, storage_id: str) -> None:
        """Delete the file with this mutation: nothing happens if the mutation fails."""
        _delete(self._transaction, _checked_id(storage_id, "delete"))


def _delete(transaction: Transaction, storage_id: str) -> None:
    if transaction.get(storage_id, system=True) is None:
        raise ConvexValueError(f"storage id {storage_id} not found")
    transaction.delete(storage_id, system=True)  # the file itself goes once this commit is durable


class ActionStorage:
    """``ctx.storage`` of an action: the whole API, each call on its own (reads see the latest state)."""

    def __init__(self, execution: Execution) -> None:
        self._executor = execution.executor

    async def get_url(self, storage_id: str) -> str | None:
        """The URL serving the file, or None."""
        storage_id = _checked_id(storage_id, "getUrl")
        return None if self._executor.file_storage.row(storage_id) is None else file_url(self._executor, storage_id)

    async def get_metadata(self, storage_id: str) -> dict[str, Value] | None:
        """``{storageId, sha256, size, contentType}`` or None."""
        row = self._executor.file_storage.row(_checked_id(storage_id, "getMetadata"))
        return None if row is None else metadata(row)

    async def generate_upload_url(self) -> str:
        """A short-lived URL a client POSTs a file to."""
        return self._executor.file_storage.upload_url(self._executor.cloud_url)

    async def delete(self, storage_id: str) -> None:
        """Delete the file now (committed before this returns)."""
        checked = _checked_id(storage_id, "delete")
        await self._executor.database.mutate(lambda transaction: _delete(transaction, checked))

    async def store(self, data: bytes, content_type: str | None = None) -> str:
        """Store ``data`` as a new file; returns its storage id."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise ConvexValueError(f"storage.store expects bytes, got {type(data).__name__}")
        return await self._executor.file_storage.store(bytes(data), content_type)

    async def get(self, storage_id: str) -> bytes | None:
        """The file's bytes, or None if it does not exist."""
        return await self._executor.file_storage.read(_checked_id(storage_id, "get"))


# --- HTTP ---------------------------------------------------------------------------------------
def routes(files: FileStorage, prefix: str = "/") -> list[web.RouteDef]:
    """``POST /api/storage/upload?token=…`` → ``{"storageId"}``; ``GET /api/storage/{id}`` → the file.

    ``prefix`` is what the paths start with (a server may use a pattern such as ``/{lead:/?}``).
    """

    async def upload(request: web.Request) -> web.Response:
        token = request.query.get("token")
        if token is None or not files.check_upload_token(token):
            return _error(401, "InvalidUploadToken", "The upload URL is invalid or has expired. Generate a new one.")
        limit = knobs.MAX_UPLOAD_BYTES
        if request.content_length is not None and request.content_length > limit:
            return _too_large(limit)
        if not files.use_upload_token(token):
            return _error(401, "InvalidUploadToken", "The upload URL has already been used. Generate a new one.")
        chunks = request.content.iter_chunked(knobs.STORAGE_CHUNK_BYTES)
        try:
            storage_id = await files.store(chunks, request.headers.get("Content-Type"), limit=limit)
        except UploadTooLargeError:
            return _too_large(limit)
        return web.json_response({"storageId": storage_id})

    async def download(request: web.Request) -> web.StreamResponse:
        storage_id = request.match_info["storage_id"]
        row = files.row(storage_id)
        if row is None or not files.path(storage_id).exists():
            return _error(404, "FileNotFound", f"File {storage_id} not found")
        content_type = str(row.get("contentType") or "application/octet-stream")
        return web.FileResponse(files.path(storage_id), headers=serving_headers(content_type))

    return [
        web.post(f"{prefix}api/storage/upload", upload),
        web.get(prefix + "api/storage/{storage_id}", download),
    ]


class UploadTooLargeError(Exception):
    """An upload past ``knobs.MAX_UPLOAD_BYTES``."""


def serving_headers(content_type: str) -> dict[str, str]:
    """The headers a stored file is served with: never sniffed, never a live page of this origin."""
    headers = {
        "Content-Type": content_type,
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    essence = content_type.split(";", 1)[0].strip().lower()
    if essence not in _INLINE_TYPES and essence not in _SAFE_IMAGES and not essence.startswith(_INLINE_PREFIXES):
        headers["Content-Disposition"] = "attachment"
    return headers


def _too_large(limit: int) -> web.Response:
    return _error(413, "PayloadTooLarge", f"The file is larger than the upload limit of {binary_size(limit)}.")


def _error(status: int, code: str, message: str) -> web.Response:
    body: dict[str, Any] = {"code": code, "message": message}
    return web.json_response(body, status=status)
