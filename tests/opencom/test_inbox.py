"""The inbox: listForInbox pages and filters, and the bounded conversation and message lists."""

from opencom_backend import Backend, Team

from runtime import internal_mutation

BULK = 400  # documents per seeding transaction (each well inside the 1 s function time limit)


@internal_mutation
async def _bulk_insert(ctx, args):
    """Insert ``count`` copies of ``fields`` in ``table``, numbering ``numbered`` from ``start``."""
    for n in range(args["start"], args["start"] + args["count"]):
        fields = dict(args["fields"])
        for name in args["numbered"]:
            fields[name] = float(n)
        await ctx.db.insert(args["table"], fields)


async def _seed(backend: Backend, table: str, fields: dict, total: int, numbered: tuple[str, ...]) -> None:
    for start in range(0, total, BULK):
        args = {"table": table, "fields": fields, "start": start, "count": min(BULK, total - start),
                "numbered": list(numbered)}  # fmt: skip
        (await backend.executor.run_function(_bulk_insert, args)).unwrap()


def _conversation(team: Team, **fields) -> dict:
    return {"workspaceId": team.workspace_id, "status": "open", "createdAt": 1.0, "updatedAt": 1.0,
            "aiWorkflowState": "none", **fields}  # fmt: skip


async def test_pages_follow_latest_activity_without_gaps_or_repeats(backend: Backend, team: Team):
    visitor = await backend.boot(team.workspace_id, name="Ada")
    conversation = await backend.visitor_conversation(visitor)
    for n in range(23):
        status = "closed" if n % 3 == 0 else "open"
        state = "handoff" if n % 4 == 0 else "none"
        await backend.insert("conversations", _conversation(team, lastMessageAt=1000.0 + n, status=status,
                                                             aiWorkflowState=state))  # fmt: skip
    args = {"workspaceId": team.workspace_id, "limit": 5.0}
    seen, cursor = [], None
    for _ in range(10):
        page = await backend.call("conversations:listForInbox", {**args, "cursor": cursor}, as_=team.admin)
        seen += page["conversations"]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert len(seen) == 24 and len({row["_id"] for row in seen}) == 24
    assert seen[0]["_id"] == conversation and seen[0]["visitor"]["name"] == "Ada"
    assert seen[0]["lastMessage"]["senderType"] == "bot" and seen[0]["aiWorkflow"]["state"] == "none"
    stamps = [row["lastMessageAt"] for row in seen[1:]]
    assert stamps == sorted(stamps, reverse=True)

    for filters, keep in (
        ({"status": "closed"}, lambda n: n % 3 == 0),
        ({"aiWorkflowState": "handoff"}, lambda n: n % 4 == 0),
        ({"status": "open", "aiWorkflowState": "handoff"}, lambda n: n % 4 == 0 and n % 3 != 0),
    ):
        page = await backend.call("conversations:listForInbox", {"workspaceId": team.workspace_id, **filters},
                                  as_=team.admin)  # fmt: skip
        expected = [1000.0 + n for n in reversed(range(23)) if keep(n)]
        assert [row["lastMessageAt"] for row in page["conversations"]] == expected
        assert page["nextCursor"] is None


async def test_strangers_get_an_empty_inbox(backend: Backend, team: Team):
    await backend.visitor_conversation(await backend.boot(team.workspace_id))
    outsider = (await backend.seed_team()).admin
    empty = {"conversations": [], "nextCursor": None}
    assert await backend.call("conversations:listForInbox", {"workspaceId": team.workspace_id}, as_=outsider) == empty
    assert await backend.call("conversations:listForInbox", {"workspaceId": team.workspace_id}) == empty


async def test_lists_stay_bounded_past_the_array_limit(backend: Backend, team: Team):
    await _seed(backend, "conversations", _conversation(team), 9000, ("lastMessageAt",))
    newest = await backend.call("conversations:list", {"workspaceId": team.workspace_id}, as_=team.admin)
    assert len(newest) == 1000 and newest[0]["lastMessageAt"] == 8999.0
    page = await backend.call("conversations:listForInbox", {"workspaceId": team.workspace_id}, as_=team.admin)
    assert [row["lastMessageAt"] for row in page["conversations"]] == [8999.0 - n for n in range(50)]

    conversation = newest[0]["_id"]
    message = {"conversationId": conversation, "senderId": team.admin.user_id, "senderType": "agent",
               "content": "hello"}  # fmt: skip
    await _seed(backend, "messages", message, 9000, ("createdAt",))
    messages = await backend.call("messages:list", {"conversationId": conversation}, as_=team.admin)
    assert [m["createdAt"] for m in messages] == [float(n) for n in range(8500, 9000)]
    latest = await backend.call("messages:list", {"conversationId": conversation, "limit": 3.0}, as_=team.admin)
    assert [m["createdAt"] for m in latest] == [8997.0, 8998.0, 8999.0]
