"""Support attachments: staging uploads, binding them to one message, ticket or comment, the limits,
and the cleanup of uploads nobody used."""

from opencom_backend import Backend, Team, Visitor

PNG = b"\x89PNG fake image"


async def _stage(backend: Backend, visitor: Visitor, file_name: str = "shot.png", data: bytes = PNG) -> dict:
    """Upload ``data`` as ``visitor`` and finalize it; the answer carries the ``storageId`` it used."""
    storage_id = await backend.executor.file_storage.store(data, "image/png")
    answer = await backend.call(
        "supportAttachments:finalizeUpload",
        {"workspaceId": visitor.workspace_id, "sessionToken": visitor.token, "storageId": storage_id,
         "fileName": file_name},
    )  # fmt: skip
    return {**answer, "storageId": storage_id}


def _send(visitor: Visitor, conversation: str, attachment_ids: list[str], content: str = "see attached") -> dict:
    return {
        "conversationId": conversation,
        "senderType": "visitor",
        "senderId": visitor.visitor_id,
        "visitorId": visitor.visitor_id,
        "sessionToken": visitor.token,
        "content": content,
        "attachmentIds": attachment_ids,
    }


async def test_a_visitor_uploads_a_file_and_sends_it_with_a_message(backend: Backend, team: Team):
    visitor = await backend.boot(team.workspace_id)
    url = await backend.call(
        "supportAttachments:generateUploadUrl", {"workspaceId": team.workspace_id, "sessionToken": visitor.token}
    )
    assert "/api/storage/upload" in url
    staged = await _stage(backend, visitor, "C:\\Users\\me\\Screen Shot.PNG")
    assert {k: staged[k] for k in ("status", "fileName", "mimeType", "size")} == {
        "status": "staged", "fileName": "Screen Shot.PNG", "mimeType": "image/png", "size": len(PNG),
    }  # fmt: skip
    row = await backend.get(staged["attachmentId"])
    assert (row["uploadedByType"], row["uploadedById"]) == ("visitor", visitor.visitor_id)
    assert row["expiresAt"] - row["createdAt"] == 3_600_000

    conversation = await backend.visitor_conversation(visitor)
    message = await backend.call("messages:send", _send(visitor, conversation, [staged["attachmentId"]] * 2))
    listed = await backend.call("messages:list", {"conversationId": conversation, "sessionToken": visitor.token})
    assert listed[0]["attachments"] == []  # the welcome message
    [attachment] = listed[-1]["attachments"]
    assert listed[-1]["attachmentIds"] == [staged["attachmentId"]]
    assert (attachment["fileName"], attachment["size"], attachment["url"].endswith(row["storageId"])) == (
        "Screen Shot.PNG", len(PNG), True,
    )  # fmt: skip
    bound = await backend.get(staged["attachmentId"])
    assert (bound["status"], bound["messageId"], "expiresAt" in bound) == ("attached", message, False)
    agent_view = await backend.call("messages:list", {"conversationId": conversation}, as_=team.admin)
    assert agent_view[-1]["attachments"] == listed[-1]["attachments"]


async def test_an_agent_attaches_files_to_a_reply(backend: Backend, team: Team):
    visitor = await backend.boot(team.workspace_id)
    conversation = await backend.visitor_conversation(visitor)
    storage_id = await backend.executor.file_storage.store(b"{}", "application/json")
    staged = await backend.call(
        "supportAttachments:finalizeUpload",
        {"workspaceId": team.workspace_id, "storageId": storage_id, "fileName": "export.json"},
        as_=team.admin,
    )
    assert staged["mimeType"] == "application/json"
    reply = {"conversationId": conversation, "senderType": "agent", "senderId": team.admin.user_id, "content": "here"}
    await backend.call("messages:send", {**reply, "attachmentIds": [staged["attachmentId"]]}, as_=team.admin)
    thread = await backend.call("messages:list", {"conversationId": conversation, "sessionToken": visitor.token})
    assert [a["fileName"] for a in thread[-1]["attachments"]] == ["export.json"]


async def test_unsupported_and_oversized_files_are_rejected_and_deleted(backend: Backend, team: Team):
    visitor = await backend.boot(team.workspace_id)
    rejected = await _stage(backend, visitor, "run.exe")
    assert backend.executor.file_storage.row(rejected.pop("storageId")) is None
    assert rejected == {
        "status": "rejected",
        "message": "Unsupported file type. Allowed: PNG, JPEG, GIF, WEBP, PDF, TXT, CSV, JSON, and ZIP.",
    }
    assert (await _stage(backend, visitor, "noextension"))["status"] == "rejected"
    big = await _stage(backend, visitor, "big.png", b"x" * (10 * 1024 * 1024 + 1))
    assert backend.executor.file_storage.row(big.pop("storageId")) is None
    assert big == {"status": "rejected", "message": "File exceeds 10MB maximum size."}
    assert (await backend.dump())["supportAttachments"] == []


async def test_an_upload_is_claimed_once_and_used_once_by_its_uploader(backend: Backend, team: Team):
    owner = await backend.boot(team.workspace_id)
    other = await backend.boot(team.workspace_id)
    staged = await _stage(backend, owner)
    storage_id = (await backend.get(staged["attachmentId"]))["storageId"]
    await backend.refused(
        "supportAttachments:finalizeUpload",
        {"workspaceId": team.workspace_id, "sessionToken": other.token, "storageId": storage_id, "fileName": "a.png"},
        code="NOT_AUTHORIZED",
    )
    theirs = await backend.visitor_conversation(other)
    refused = await backend.refused(
        "messages:send", _send(other, theirs, [staged["attachmentId"]]), code="NOT_AUTHORIZED"
    )
    assert refused["message"] == "Not authorized to use this attachment"
    assert len(await backend.call("messages:list", {"conversationId": theirs, "sessionToken": other.token})) == 1

    mine = await backend.visitor_conversation(owner)
    await backend.call("messages:send", _send(owner, mine, [staged["attachmentId"]]))
    used = await backend.refused("messages:send", _send(owner, mine, [staged["attachmentId"]]), code="INVALID_INPUT")
    assert used["message"] == "Attachment has already been used"


async def test_limits_on_count_expiry_and_workspace(backend: Backend, team: Team):
    visitor = await backend.boot(team.workspace_id)
    conversation = await backend.visitor_conversation(visitor)
    six = [(await _stage(backend, visitor, f"f{i}.txt"))["attachmentId"] for i in range(6)]
    too_many = await backend.refused("messages:send", _send(visitor, conversation, six), code="INVALID_INPUT")
    assert too_many["message"] == "You can attach up to 5 files at a time."
    assert [(await backend.get(i))["status"] for i in six] == ["staged"] * 6

    await backend.patch(six[0], {"expiresAt": 1.0})
    expired = await backend.refused("messages:send", _send(visitor, conversation, six[:1]), code="INVALID_INPUT")
    assert expired["message"] == "Attachment upload expired. Please upload again."

    elsewhere = await backend.seed_team()
    foreign = await backend.boot(elsewhere.workspace_id)
    foreign_id = (await _stage(backend, foreign))["attachmentId"]
    await backend.refused("messages:send", _send(visitor, conversation, [foreign_id]), code="NOT_FOUND")
    await backend.refused(
        "supportAttachments:generateUploadUrl",
        {"workspaceId": team.workspace_id, "sessionToken": foreign.token},
        code="NOT_AUTHORIZED",
    )
    await backend.refused(
        "supportAttachments:generateUploadUrl", {"workspaceId": team.workspace_id}, code="NOT_AUTHENTICATED"
    )


async def test_cleanup_removes_expired_staged_uploads_and_their_files(backend: Backend, team: Team):
    visitor = await backend.boot(team.workspace_id)
    foreign = await backend.boot((await backend.seed_team()).workspace_id)
    expired = await _stage(backend, visitor, "old.png")
    expired_elsewhere = await _stage(backend, foreign, "old.png")
    fresh = await _stage(backend, visitor, "new.png")
    used = await _stage(backend, visitor, "used.png")
    conversation = await backend.visitor_conversation(visitor)
    await backend.call("messages:send", _send(visitor, conversation, [used["attachmentId"]]))
    for old in (expired, expired_elsewhere, used):
        await backend.patch(old["attachmentId"], {"expiresAt": 1.0})  # an attached one keeps no expiry in practice

    result = await backend.internal("supportAttachments:cleanupExpiredStagedUploads", {})
    assert result == {"deleted": 2.0, "hasMore": False}
    remaining = {row["_id"] for row in (await backend.dump())["supportAttachments"]}
    assert remaining == {fresh["attachmentId"], used["attachmentId"]}
    assert backend.executor.file_storage.row(expired["storageId"]) is None
    assert backend.executor.file_storage.row(used["storageId"]) is not None


async def test_a_full_cleanup_batch_schedules_the_next_one(backend: Backend, team: Team):
    visitor = await backend.boot(team.workspace_id)
    for name in ("a.txt", "b.txt", "c.txt"):
        await backend.patch((await _stage(backend, visitor, name))["attachmentId"], {"expiresAt": 1.0})
    assert await backend.internal("supportAttachments:cleanupExpiredStagedUploads", {"limit": 2.0}) == {
        "deleted": 2.0,
        "hasMore": True,
    }
    [job] = [job for job in (await backend.dump())["_scheduled_functions"] if "cleanupExpired" in job["name"]]
    assert job["args"] == [{"limit": 2.0}]
    assert len((await backend.dump())["supportAttachments"]) == 1


def test_the_cleanup_runs_as_a_cron_job(backend: Backend):
    job = backend.executor.app.crons.jobs["expired support uploads"]
    assert job.target(backend.executor.app.functions) == "supportAttachments:cleanupExpiredStagedUploads"
    assert job.interval_ms == 15 * 60 * 1000
