"""File storage (convex-semantics §10): ``ctx.storage`` from every kind of function, the ``_storage``
rows, transactional deletes, crash leftovers, and the upload/download routes over real HTTP.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from runtime import knobs
from runtime.functions.executor import Executor
from runtime.functions.file_storage import routes
from runtime.values.ids import new_id

APP = Path(__file__).parent / "apps" / "files"


@pytest.fixture
def executor(open_executor: Callable[..., Executor]) -> Executor:
    return open_executor(APP)


def blob_path(executor: Executor, storage_id: str) -> Path:
    return executor.file_storage.path(storage_id)


async def test_a_stored_file_round_trips_with_its_metadata(executor: Executor) -> None:
    storage_id = await executor.call("files:store_text", {"text": "hello, files", "contentType": "text/plain"})
    assert await executor.call("files:read", {"id": storage_id}) == b"hello, files"
    row = await executor.call("files:row", {"id": storage_id})
    assert row["sha256"] == base64.b64encode(hashlib.sha256(b"hello, files").digest()).decode()
    assert row["size"] == 12.0 and isinstance(row["size"], float)
    assert row["contentType"] == "text/plain"
    url = f"{executor.cloud_url}/api/storage/{storage_id}"
    assert await executor.call("files:url", {"id": storage_id}) == url
    expected = {"storageId": storage_id, "sha256": row["sha256"], "size": 12.0, "contentType": "text/plain"}
    assert await executor.call("files:metadata", {"id": storage_id}) == expected
    assert await executor.call("files:describe_from_action", {"id": storage_id}) == {"url": url, "metadata": expected}


async def test_a_file_without_content_type_stores_null(executor: Executor) -> None:
    storage_id = await executor.call("files:store_text", {"text": ""})
    row = await executor.call("files:row", {"id": storage_id})
    assert row["contentType"] is None and row["size"] == 0.0
    assert await executor.call("files:read", {"id": storage_id}) == b""


async def test_deleting_in_a_mutation_removes_row_url_and_bytes(executor: Executor) -> None:
    storage_id = await executor.call("files:store_text", {"text": "short-lived"})
    assert await executor.call("files:delete", {"id": storage_id}) is None  # already gone inside the mutation
    assert await executor.call("files:row", {"id": storage_id}) is None
    assert await executor.call("files:url", {"id": storage_id}) is None
    assert await executor.call("files:read", {"id": storage_id}) is None
    assert not blob_path(executor, storage_id).exists()


async def test_a_failed_mutation_deletes_nothing(executor: Executor) -> None:
    storage_id = await executor.call("files:store_text", {"text": "survivor"})
    result = await executor.run("files:delete_then_fail", {"id": storage_id})
    assert "changed my mind" in str(result.error)
    assert await executor.call("files:read", {"id": storage_id}) == b"survivor"


async def test_deleting_a_missing_file_is_an_error(executor: Executor) -> None:
    storage_id = await executor.call("files:store_text", {"text": "once"})
    await executor.call("files:delete_from_action", {"id": storage_id})
    result = await executor.run("files:delete", {"id": storage_id})
    assert str(result.error) == f"storage id {storage_id} not found"


async def test_crash_leftovers_are_swept_at_start(open_executor: Callable[..., Executor], tmp_path: Path) -> None:
    first = open_executor(APP, tmp_path / "data")
    kept = await first.call("files:store_text", {"text": "kept"})
    await first.close()
    storage = tmp_path / "data" / "storage"
    orphan = storage / new_id(2)  # a file whose row never committed
    orphan.write_bytes(b"orphan")
    unfinished = storage / ".tmp" / "upload-in-progress"
    unfinished.write_bytes(b"partial")
    for leftover in (orphan, unfinished):
        os.utime(leftover, (1, 1))
    second = open_executor(APP, tmp_path / "data")
    await second.start()
    assert not orphan.exists() and not unfinished.exists()
    assert await second.call("files:read", {"id": kept}) == b"kept"


# --- over HTTP ----------------------------------------------------------------------------------
@pytest.fixture
async def served(executor: Executor) -> AsyncIterator[tuple[Executor, aiohttp.ClientSession]]:
    """The storage routes on 127.0.0.1, with the executor's URLs pointing at them."""
    app = web.Application()
    app.add_routes(routes(executor.file_storage, "/{lead:/?}"))  # the server's prefix, which also accepts "//api/..."
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    executor.cloud_url = str(server.make_url("")).rstrip("/")
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield executor, session
    await server.close()


async def test_upload_and_download_over_http(served: tuple[Executor, aiohttp.ClientSession]) -> None:
    executor, session = served
    upload_url = await executor.call("files:upload_url")
    assert upload_url.startswith(f"{executor.cloud_url}/api/storage/upload?token=")
    body = os.urandom(200_000)
    async with session.post(upload_url, data=body, headers={"Content-Type": "image/png"}) as response:
        assert response.status == 200
        storage_id = (await response.json())["storageId"]
    row = await executor.call("files:row", {"id": storage_id})
    assert (row["size"], row["contentType"]) == (200_000.0, "image/png")
    assert row["sha256"] == base64.b64encode(hashlib.sha256(body).digest()).decode()
    async with session.get(await executor.call("files:url", {"id": storage_id})) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "image/png"
        assert await response.read() == body
    async with session.get(f"{executor.cloud_url}//api/storage/{storage_id}") as response:
        assert response.status == 200 and await response.read() == body
    await executor.call("files:delete", {"id": storage_id})
    async with session.get(f"{executor.cloud_url}/api/storage/{storage_id}") as response:
        assert response.status == 404


async def test_an_upload_url_is_one_this_deployment_signed_and_unexpired(
    served: tuple[Executor, aiohttp.ClientSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    executor, session = served
    forged = f"{executor.cloud_url}/api/storage/upload?token=99999999999.{'0' * 64}"
    monkeypatch.setattr(knobs, "UPLOAD_URL_TTL_S", -10.0)
    expired = await executor.call("files:upload_url")
    for url in (forged, expired, f"{executor.cloud_url}/api/storage/upload"):
        async with session.post(url, data=b"nope") as response:
            assert response.status == 401
            assert (await response.json())["code"] == "InvalidUploadToken"
    assert executor.database.count_documents("_storage") == 0


async def test_downloading_an_unknown_id_is_404(served: tuple[Executor, aiohttp.ClientSession]) -> None:
    executor, session = served
    for name in ("not-an-id", new_id(2), new_id(10001)):
        async with session.get(f"{executor.cloud_url}/api/storage/{name}") as response:
            assert response.status == 404


async def test_an_upload_url_works_once(served: tuple[Executor, aiohttp.ClientSession]) -> None:
    executor, session = served
    upload_url = await executor.call("files:upload_url")
    async with session.post(upload_url, data=b"first") as response:
        assert response.status == 200
    for _ in range(2):
        async with session.post(upload_url, data=b"again") as response:
            assert response.status == 401
            assert await response.json() == {
                "code": "InvalidUploadToken",
                "message": "The upload URL has already been used. Generate a new one.",
            }
    assert executor.database.count_documents("_storage") == 1


@pytest.mark.parametrize("chunked", [False, True])
async def test_an_upload_past_the_size_cap_is_a_413_and_keeps_nothing(
    served: tuple[Executor, aiohttp.ClientSession], monkeypatch: pytest.MonkeyPatch, chunked: bool
) -> None:
    executor, session = served
    monkeypatch.setattr(knobs, "MAX_UPLOAD_BYTES", 100_000)
    body = os.urandom(100_001)

    async def stream() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 10_000):
            yield body[start : start + 10_000]  # no Content-Length: the cap is found while streaming

    async with session.post(await executor.call("files:upload_url"), data=stream() if chunked else body) as response:
        assert response.status == 413
        assert await response.json() == {
            "code": "PayloadTooLarge",
            "message": "The file is larger than the upload limit of 97.66 KiB.",
        }
    assert executor.database.count_documents("_storage") == 0
    assert list((executor.file_storage.root / ".tmp").iterdir()) == []
    async with session.post(await executor.call("files:upload_url"), data=body[:100_000]) as response:
        assert response.status == 200


@pytest.mark.parametrize(
    ("content_type", "attachment"),
    [
        ("text/html", True),
        ("image/svg+xml", True),
        ("text/xml; charset=utf-8", True),
        ("application/javascript", True),
        ("TEXT/HTML", True),
        ("image/png", False),
        ("text/plain", False),
        ("application/pdf", False),
        ("video/mp4", False),
    ],
)
async def test_files_are_served_unsniffable_and_active_types_as_attachments(
    served: tuple[Executor, aiohttp.ClientSession], content_type: str, attachment: bool
) -> None:
    executor, session = served
    body = b"<html><script>alert(document.domain)</script></html>"
    upload_url = await executor.call("files:upload_url")
    async with session.post(upload_url, data=body, headers={"Content-Type": content_type}) as response:
        storage_id = (await response.json())["storageId"]
    async with session.get(f"{executor.cloud_url}/api/storage/{storage_id}") as response:
        assert response.status == 200 and await response.read() == body
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
        assert (response.headers.get("Content-Disposition") == "attachment") is attachment
