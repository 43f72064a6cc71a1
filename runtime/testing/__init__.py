"""Testing an opencom app in-process: convex-test's API in Python, on the real engine.

    from runtime.testing import ConvexTest

    async def test_sending(convex_test):          # the pytest fixture: this app on a fresh database
        await convex_test.mutation("messages:send", {"body": "hi"})
        assert [m["body"] for m in await convex_test.query("messages:list")] == ["hi"]

See ``docs/testing.md``. The pytest plugin (fixtures ``convex_test`` and ``convex_test_factory``)
is registered as an entry point, so any app gets it with ``pip install opencom``.
"""

from runtime.testing.harness import ConvexTest, TestResponse, user_identity
from runtime.testing.subscriptions import NoNewResult, Subscription
from runtime.testing.time_control import EndlessSchedulingError

__all__ = ["ConvexTest", "EndlessSchedulingError", "NoNewResult", "Subscription", "TestResponse", "user_identity"]
