"""Tests of the chat example: copy this file to start testing your own app.

``convex_test`` comes with opencom (a pytest plugin): it is this app — the nearest directory above
this file holding ``functions/`` — on a fresh, empty database for every test. Calls go through
the real runtime, so a test that passes here behaves the same on ``opencom serve``.
Run with ``pytest`` (``asyncio_mode = "auto"`` lets tests be plain ``async def``).
"""

import pytest

from runtime.testing import ConvexTest
from runtime.values.errors import ArgumentValidationError


async def test_sent_messages_are_listed_oldest_first(convex_test: ConvexTest):
    await convex_test.mutation("messages:send", {"author": "Ada", "body": "Hello"})
    await convex_test.mutation("messages:send", {"author": "Linus", "body": "Hi Ada"})

    messages = await convex_test.query("messages:list")
    assert [(m["author"], m["body"]) for m in messages] == [("Ada", "Hello"), ("Linus", "Hi Ada")]


async def test_a_message_needs_an_author_and_a_body(convex_test: ConvexTest):
    with pytest.raises(ArgumentValidationError, match="missing the required field `author`"):
        await convex_test.mutation("messages:send", {"body": "who said this?"})
    assert await convex_test.query("messages:list") == []


async def test_a_subscribed_client_sees_each_new_message(convex_test: ConvexTest):
    chat = convex_test.subscribe("messages:list")
    assert await chat.next() == []

    await convex_test.mutation("messages:send", {"author": "Ada", "body": "Hello"})
    assert [m["body"] for m in await chat.next()] == ["Hello"]


async def test_documents_can_be_seeded_and_inspected_directly(convex_test: ConvexTest):
    async def seed(ctx):
        return await ctx.db.insert("messages", {"author": "seed", "body": "from a test"})

    message_id = await convex_test.run(seed)  # `run` gives a real mutation ctx
    assert (await convex_test.query("messages:list"))[0]["_id"] == message_id
