"""Whether a series may be activated: every blocker and warning its graph and blocks have, by code.

An issue is ``{code, message, remediation, blockId?, connectionId?}`` with Opencom's codes. A
series is ready when it has no blocker; warnings never stop ``activate``. The graph must have one
entry block (a block no connection leads to), every block reachable from it, rule blocks with
exactly one "yes" and one "no" branch, and every block's configuration complete for its type.
"""

from typing import Any

from .audience import validate_rules
from .identity import Doc
from .series_graph import Graph

CONTENT_TYPES = ("chat", "post", "carousel")


def _issue(code: str, message: str, remediation: str, block: Doc | None = None, connection: Doc | None = None) -> dict:
    issue = {"code": code, "message": message, "remediation": remediation}
    if block is not None:
        issue["blockId"] = block["_id"]
    if connection is not None:
        issue["connectionId"] = connection["_id"]
    return issue


def _valid_rules(rules: Any) -> bool:
    try:
        validate_rules(rules)
    except Exception:  # noqa: BLE001 - any refusal means "not valid"
        return False
    return True


def _block_blockers(block: Doc, graph: Graph) -> list[dict]:
    config, kind, found = block.get("config") or {}, block["type"], []
    outgoing = graph.outgoing(block["_id"])
    conditions = [connection.get("condition") for connection in outgoing]
    if kind == "rule":
        if not config.get("rules") or not _valid_rules(config["rules"]):
            found.append(_issue("SERIES_RULE_CONFIG_INVALID", "This rule block has no valid rules.", "Define the rule's conditions.", block))
        if conditions.count("yes") != 1 or conditions.count("no") != 1:
            found.append(_issue("SERIES_RULE_BRANCHES_REQUIRED", "A rule block needs exactly one yes branch and one no branch.",
                                "Connect one yes and one no path from this block.", block))  # fmt: skip
        if conditions.count("default") > 1:
            found.append(_issue("SERIES_RULE_DEFAULT_BRANCH_DUPLICATE", "A rule block has more than one default branch.",
                                "Keep a single default path.", block))  # fmt: skip
    elif "yes" in conditions or "no" in conditions:
        found.append(_issue("SERIES_NON_RULE_CONDITIONAL_BRANCH", "Only rule blocks may have yes/no branches.",
                            "Use default connections from this block.", block))  # fmt: skip
    if kind == "wait":
        found += _wait_blockers(block, config)
    if kind == "email" and not (config.get("subject") and config.get("body")):
        found.append(_issue("SERIES_EMAIL_CONTENT_REQUIRED", "The email block needs a subject and a body.", "Write both.", block))
    if kind == "push" and not (config.get("title") and config.get("body")):
        found.append(_issue("SERIES_PUSH_CONTENT_REQUIRED", "The push block needs a title and a body.", "Write both.", block))
    if kind == "tag" and not (config.get("tagAction") and (config.get("tagName") or "").strip()):
        found.append(_issue("SERIES_TAG_CONFIG_REQUIRED", "The tag block needs an action and a tag name.", "Choose both.", block))
    return found


def _wait_blockers(block: Doc, config: dict) -> list[dict]:
    wait_type = config.get("waitType")
    if wait_type is None:
        return [_issue("SERIES_WAIT_TYPE_REQUIRED", "The wait block has no wait type.", "Choose how long to wait.", block)]
    if wait_type == "duration" and not ((config.get("waitDuration") or 0) > 0 and config.get("waitUnit")):
        return [_issue("SERIES_WAIT_DURATION_INVALID", "The wait needs a positive duration and a unit.", "Set both.", block)]
    if wait_type == "until_date" and config.get("waitUntilDate") is None:
        return [_issue("SERIES_WAIT_UNTIL_DATE_REQUIRED", "The wait has no date.", "Pick the date to wait for.", block)]
    if wait_type == "until_event" and not config.get("waitUntilEvent"):
        return [_issue("SERIES_WAIT_UNTIL_EVENT_REQUIRED", "The wait has no event name.", "Name the event to wait for.", block)]
    return []


async def readiness(ctx: Any, series: Doc, graph: Graph) -> dict:
    """``{blockers, warnings, isReady}`` for the series and its loaded graph."""
    blockers: list[dict] = []
    warnings: list[dict] = []
    if not graph.blocks:
        blockers.append(_issue("SERIES_GRAPH_EMPTY", "The series has no blocks.", "Add at least one block."))
    for connection in graph.dangling:
        blockers.append(_issue("SERIES_INVALID_CONNECTION", "A connection points to a block that does not exist.",
                               "Remove the connection.", connection=connection))  # fmt: skip
    entries = graph.entries()
    if graph.blocks and not entries:
        blockers.append(_issue("SERIES_NO_ENTRY_PATH", "Every block has an incoming connection, so none is the start.",
                               "Remove the connection into the first block."))  # fmt: skip
    if len(entries) > 1:
        blockers.append(_issue("SERIES_MULTIPLE_ENTRY_PATHS", f"{len(entries)} blocks have no incoming connection.",
                               "Connect them so that exactly one block starts the series."))  # fmt: skip
    if len(entries) == 1:
        reachable = graph.reachable(entries[0]["_id"])
        for block in graph.blocks.values():
            if block["_id"] not in reachable:
                blockers.append(_issue("SERIES_UNREACHABLE_BLOCK", "No path from the start reaches this block.",
                                       "Connect it or remove it.", block))  # fmt: skip
    for block in graph.blocks.values():
        blockers += _block_blockers(block, graph)
        config = block.get("config") or {}
        if block["type"] in CONTENT_TYPES and not config.get("body"):
            warnings.append(_issue("SERIES_CONTENT_BODY_RECOMMENDED", "This message has no body.", "Write its content.", block))
        if block["type"] != "wait" and not graph.outgoing(block["_id"]):
            warnings.append(_issue("SERIES_PATH_TERMINATES", "The series ends after this block.", "Connect a next block if it should go on.", block))
    if not series.get("entryTriggers"):
        warnings.append(_issue("SERIES_ENTRY_TRIGGER_RECOMMENDED", "No entry trigger: visitors enter on any trigger.",
                               "Add an event or attribute trigger."))  # fmt: skip
    kinds = {block["type"] for block in graph.blocks.values()}
    if "email" in kinds:
        config = await ctx.db.query("emailConfigs").with_index("by_workspace", lambda q: q.eq("workspaceId", series["workspaceId"])).first()
        if config is None or not config.get("enabled"):
            blockers.append(_issue("SERIES_EMAIL_CHANNEL_NOT_CONFIGURED", "Email blocks need the workspace's email channel.",
                                   "Set up and enable email in the workspace settings."))  # fmt: skip
    if "push" in kinds:
        token = await ctx.db.query("visitorPushTokens").with_index("by_workspace", lambda q: q.eq("workspaceId", series["workspaceId"])).first()
        if token is None:
            warnings.append(_issue("SERIES_PUSH_DELIVERY_UNVERIFIED", "No visitor has a push token yet.",
                                   "Check the mobile SDK registers devices."))  # fmt: skip
    return {"blockers": blockers, "warnings": warnings, "isReady": not blockers}
