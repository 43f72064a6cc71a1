"""Hosted onboarding: has the workspace's widget been installed on a site yet?

The dashboard's shell routes a new workspace to its onboarding page until the widget is seen.
Two kinds of evidence count: a widget that echoed the verification token the dashboard issued
(``hostedOnboardingWidgetVerifiedAt``), and recent widget sessions ("integration signals"),
grouped by client and origin. A signal is recognised when one of its sessions is still live and
was created after the current token was issued.
"""

import secrets
from typing import Any

from .clock import DAY_MS, now_ms
from .identity import Doc

WIDGET_STEP = "widget_install"
SIGNAL_LOOKBACK_MS = 30 * DAY_MS
SIGNAL_SESSION_LIMIT = 200  # newest widget sessions read per answer
MOBILE_PLATFORMS = ("ios", "android")


def new_verification_token() -> str:
    """A fresh onboarding token (``onb_`` and 128 random bits in hex)."""
    return f"onb_{secrets.token_hex(16)}"


def onboarding_view(workspace: Doc, latest_detected_at: float | None = None) -> Doc:
    """The onboarding state the dashboard reads, from the workspace's ``hostedOnboarding*`` fields."""
    completed = workspace.get("hostedOnboardingCompletedSteps", [])
    widget_done = WIDGET_STEP in completed
    stored = workspace.get("hostedOnboardingWidgetVerifiedAt")
    candidates = [at for at in (stored, latest_detected_at) if at is not None]
    verified_at = max(candidates) if candidates else None
    issued_at = workspace.get("hostedOnboardingVerificationTokenIssuedAt")
    token = workspace.get("hostedOnboardingVerificationToken")
    return {
        "status": workspace.get("hostedOnboardingStatus", "completed" if widget_done else "not_started"),
        "currentStep": workspace.get("hostedOnboardingCurrentStep", 1.0 if widget_done else 0.0),
        "completedSteps": completed,
        "onboardingVerificationToken": token,
        "verificationToken": token,
        "verificationTokenIssuedAt": issued_at,
        "widgetVerifiedAt": verified_at,
        "isWidgetVerified": verified_at is not None and (issued_at is None or verified_at >= issued_at),
        "updatedAt": workspace.get("hostedOnboardingUpdatedAt"),
    }


def _clean(value: Any) -> str | None:
    text = value.strip() if isinstance(value, str) else ""
    return text or None


async def integration_signals(ctx: Any, workspace_id: str, token_issued_at: float | None) -> Doc:
    """``{signals, latestDetectedAt, latestRecognizedDetectedAt, hasRecognizedInstall}`` from recent sessions."""
    now = now_ms()
    sessions = (
        await ctx.db.query("widgetSessions")
        .with_index("by_workspace", lambda q: q.eq("workspaceId", workspace_id))
        .order("desc")
        .take(SIGNAL_SESSION_LIMIT)
    )
    signals: dict[str, Doc] = {}
    for session in sessions:
        if session["createdAt"] < now - SIGNAL_LOOKBACK_MS:
            continue
        platform = _clean(session.get("devicePlatform"))
        client_type = _clean(session.get("clientType")) or (
            "mobile_sdk" if platform in MOBILE_PLATFORMS else "web_widget"
        )
        fields = {
            "clientType": client_type,
            "clientVersion": _clean(session.get("clientVersion")),
            "clientIdentifier": _clean(session.get("clientIdentifier")),
            "origin": _clean(session.get("origin")),
            "devicePlatform": platform,
        }
        key = "|".join(fields[name] or "unknown" for name in fields)
        active = session["expiresAt"] > now
        in_window = token_issued_at is None or session["createdAt"] >= token_issued_at
        signal = signals.get(key)
        if signal is None:
            signals[key] = {
                "id": key,
                **fields,
                "currentUrl": _clean(session.get("currentUrl")),
                "sessionCount": 1.0,
                "activeSessionCount": 1.0 if active else 0.0,
                "lastSeenAt": session["createdAt"],
                "latestSessionExpiresAt": session["expiresAt"],
                "matchesCurrentVerificationWindow": in_window,
                "isActiveNow": active,
            }
            continue
        signal["sessionCount"] += 1
        signal["activeSessionCount"] += 1 if active else 0
        if session["createdAt"] > signal["lastSeenAt"]:
            signal["lastSeenAt"] = session["createdAt"]
            signal["currentUrl"] = _clean(session.get("currentUrl"))
        signal["latestSessionExpiresAt"] = max(signal["latestSessionExpiresAt"], session["expiresAt"])
        signal["matchesCurrentVerificationWindow"] = signal["matchesCurrentVerificationWindow"] or in_window
        signal["isActiveNow"] = signal["latestSessionExpiresAt"] > now
    ordered = sorted(signals.values(), key=lambda signal: signal["lastSeenAt"], reverse=True)
    recognized = [s for s in ordered if s["isActiveNow"] and s["matchesCurrentVerificationWindow"]]
    return {
        "signals": ordered,
        "latestDetectedAt": ordered[0]["lastSeenAt"] if ordered else None,
        "latestRecognizedDetectedAt": recognized[0]["lastSeenAt"] if recognized else None,
        "hasRecognizedInstall": bool(recognized),
    }
