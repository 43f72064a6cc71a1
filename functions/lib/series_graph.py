"""A series' blocks and connections loaded once, with the walks readiness and the runtime need."""

from typing import Any

from .identity import Doc

GRAPH_LIMIT = 2000  # blocks (and connections) one series may have


class Graph:
    """Blocks by id, valid connections by source block, and connections naming a missing block."""

    def __init__(self, blocks: list[Doc], connections: list[Doc]) -> None:
        self.blocks = {block["_id"]: block for block in blocks}
        self.connections = [c for c in connections if c["fromBlockId"] in self.blocks and c["toBlockId"] in self.blocks]
        self.dangling = [c for c in connections if c not in self.connections]
        self._outgoing: dict[str, list[Doc]] = {}
        for connection in sorted(self.connections, key=lambda c: c["_creationTime"]):
            self._outgoing.setdefault(connection["fromBlockId"], []).append(connection)

    @classmethod
    async def load(cls, ctx: Any, series_id: str) -> "Graph":
        blocks = ctx.db.query("seriesBlocks").with_index("by_series", lambda q: q.eq("seriesId", series_id))
        connections = ctx.db.query("seriesConnections").with_index("by_series", lambda q: q.eq("seriesId", series_id))
        return cls(await blocks.take(GRAPH_LIMIT), await connections.take(GRAPH_LIMIT))

    def outgoing(self, block_id: str) -> list[Doc]:
        """The block's connections, oldest first."""
        return self._outgoing.get(block_id, [])

    def entries(self) -> list[Doc]:
        """Blocks no connection leads to, oldest first."""
        targets = {connection["toBlockId"] for connection in self.connections}
        return sorted((b for b in self.blocks.values() if b["_id"] not in targets), key=lambda b: b["_creationTime"])

    def reachable(self, start: str) -> set[str]:
        seen, todo = {start}, [start]
        while todo:
            for connection in self.outgoing(todo.pop()):
                if connection["toBlockId"] not in seen:
                    seen.add(connection["toBlockId"])
                    todo.append(connection["toBlockId"])
        return seen

    def next_block(self, block_id: str, branch: str | None = None) -> str | None:
        """Where a block leads: its ``branch`` ("yes"/"no") connection, else default, else unlabeled, else the first."""
        connection = self.next_connection(block_id, branch)
        return None if connection is None else connection["toBlockId"]

    def next_connection(self, block_id: str, branch: str | None = None) -> Doc | None:
        """The connection ``next_block`` follows (None when the block leads nowhere)."""
        outgoing = self.outgoing(block_id)
        preferences = [lambda c: c.get("condition") == "default", lambda c: "condition" not in c, lambda c: True]
        if branch is not None:
            preferences.insert(0, lambda c: c.get("condition") == branch)
        for preferred in preferences:
            for connection in outgoing:
                if preferred(connection):
                    return connection
        return None
