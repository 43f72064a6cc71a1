"""Push delivery: the Expo push service when configured, otherwise a record saying nothing was sent.

``OPENCOM_PUSH_TRANSPORT=expo`` selects Expo (``OPENCOM_EXPO_PUSH_URL`` overrides its endpoint,
``OPENCOM_EXPO_ACCESS_TOKEN`` adds the bearer token). Without it, callers record each payload as a
``notificationDeliveries`` row with status "suppressed" and reason ``NO_TRANSPORT``: nothing claims
to have reached a device. Expo answers one ticket per message; a ticket naming an invalid device
(``DeviceNotRegistered`` and the like) tells the caller to prune that token.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

NO_TRANSPORT = "no transport configured"
EXPO_URL = "https://exp.host/--/api/v2/push/send"
TIMEOUT_S = 30.0
INVALID_TOKEN_MARKERS = ("devicenotregistered", "invalidregistration", "invalidpushtoken", "pushtokeninvalid", "invalidtoken")


@dataclass(frozen=True)
class ExpoSettings:
    url: str
    access_token: str | None


def expo_settings(env: Mapping[str, str]) -> ExpoSettings | None:
    """Expo's settings when the deployment selected it, else None (no transport)."""
    if (env.get("OPENCOM_PUSH_TRANSPORT") or "").lower() != "expo":
        return None
    return ExpoSettings(env.get("OPENCOM_EXPO_PUSH_URL") or EXPO_URL, env.get("OPENCOM_EXPO_ACCESS_TOKEN"))


def invalid_token_error(error: str) -> bool:
    """Whether a provider's error says the device token is dead (so it should be pruned)."""
    lowered = error.lower()
    return any(marker in lowered for marker in INVALID_TOKEN_MARKERS)


async def send_expo(settings: ExpoSettings, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """POST ``[{to, title, body, data}]``; one ``{ok, error?}`` per message, in order.

    ``ok`` is True for an "ok" ticket and False for an error ticket or a refused request
    (``retryable`` when it never reached Expo or Expo asked for a retry); None when the request
    may have arrived but no answer came back (never resent).
    """
    headers = {"content-type": "application/json", "accept": "application/json"}
    if settings.access_token:
        headers["authorization"] = f"Bearer {settings.access_token}"
    body = [{**message, "sound": "default"} for message in messages]
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_S)) as session:
            async with session.post(settings.url, json=body, headers=headers) as response:
                answer = await response.json(content_type=None) if response.status < 500 else None
                status = response.status
    except aiohttp.ClientConnectorError as error:
        return [{"ok": False, "retryable": True, "error": f"Expo unreachable: {error}"} for _ in messages]
    except (aiohttp.ClientError, TimeoutError, ValueError) as error:
        return [{"ok": None, "error": f"Expo gave no answer: {error}"} for _ in messages]
    tickets = answer.get("data") if isinstance(answer, dict) else None
    if status >= 400 or not isinstance(tickets, list) or len(tickets) != len(messages):
        retryable = status >= 500 or status == 429
        return [{"ok": False, "retryable": retryable, "error": f"Expo refused the request (HTTP {status})"} for _ in messages]
    return [_outcome(ticket) for ticket in tickets]


def _outcome(ticket: Any) -> dict[str, Any]:
    if isinstance(ticket, dict) and ticket.get("status") == "ok":
        return {"ok": True}
    details = ticket.get("details") if isinstance(ticket, dict) else None
    code = details.get("error") if isinstance(details, dict) else None
    message = ticket.get("message") if isinstance(ticket, dict) else None
    error = f"{code}: {message}" if code and message else (code or message or "Unknown error")
    return {"ok": False, "error": str(error)}
