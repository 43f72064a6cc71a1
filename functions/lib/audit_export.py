"""Audit-log export rows and their CSV form (the columns and quoting of Opencom's export)."""

import json
from datetime import UTC, datetime
from typing import Any

CSV_COLUMNS = ("timestamp", "action", "actorType", "actorId", "actorName", "actorEmail", "resourceType",
               "resourceId", "ipAddress", "userAgent")  # fmt: skip


def iso_timestamp(ms: float) -> str:
    """JavaScript's ``toISOString``: UTC with milliseconds and a ``Z``."""
    moment = datetime.fromtimestamp(ms / 1000.0, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def export_row(log: dict[str, Any], actor: dict[str, Any] | None) -> dict[str, Any]:
    """One exported entry, with the actor's name and email."""
    row = {
        "timestamp": iso_timestamp(log["timestamp"]),
        "action": log["action"],
        "actorType": log["actorType"],
        "actorName": (actor or {}).get("name"),
        "actorEmail": (actor or {}).get("email"),
        "resourceType": log["resourceType"],
    }
    for optional in ("actorId", "resourceId", "metadata", "ipAddress", "userAgent"):
        if optional in log:
            row[optional] = log[optional]
    return row


def _cell(value: Any) -> str:
    if value is None:
        text = ""
    elif isinstance(value, (dict, list)):
        text = json.dumps(value, separators=(",", ":"))
    else:
        text = str(value)
    return '"' + text.replace('"', '""') + '"'


def to_csv(rows: list[dict[str, Any]]) -> str:
    """A header line and one quoted line per row."""
    lines = [",".join(CSV_COLUMNS)]
    lines += [",".join(_cell(row.get(column)) for column in CSV_COLUMNS) for row in rows]
    return "\n".join(lines)
