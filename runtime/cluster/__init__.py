"""Several servers, one deployment: what lets opencom servers share one PostgreSQL database.

- ``commit_feed``: every server's commits reach every server's live queries, in commit order.
- ``scheduler_lease``: one server at a time runs the scheduler and the crons.

The single serial order itself comes from the store (``runtime.store.postgres``): writers take
turns under a transaction-level advisory lock, so any server may commit and none forwards.
"""
