"""Campaign email over SMTP, selected by deployment environment variables; the outbox stays the default.

``OPENCOM_SMTP_HOST`` switches it on; ``OPENCOM_SMTP_PORT`` (587), ``OPENCOM_SMTP_USER`` /
``OPENCOM_SMTP_PASSWORD`` (login when both are set) and ``OPENCOM_SMTP_SECURITY`` ("starttls",
"tls" or "none"; "starttls" by default) refine it. The standard library's ``smtplib`` runs in a
worker thread of an action. An address counts as sent only when the server accepted it: a
refused recipient, a refused message or a broken connection is reported per address so the caller
can retry or give up.
"""

import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

TIMEOUT_S = 30.0


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to connect."""

    host: str
    port: int
    security: str
    user: str | None
    password: str | None


def smtp_settings(env: Mapping[str, str]) -> SmtpSettings | None:
    """The deployment's SMTP settings, or None when ``OPENCOM_SMTP_HOST`` is unset (the outbox is used)."""
    host = env.get("OPENCOM_SMTP_HOST")
    if not host:
        return None
    security = env.get("OPENCOM_SMTP_SECURITY") or "starttls"
    port = int(env.get("OPENCOM_SMTP_PORT") or (465 if security == "tls" else 587))
    return SmtpSettings(host, port, security, env.get("OPENCOM_SMTP_USER"), env.get("OPENCOM_SMTP_PASSWORD"))


def _message(email: Mapping[str, Any]) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = email["from"], email["to"], email["subject"]
    message["Message-ID"] = email["messageId"]
    message.set_content(email["text"])
    message.add_alternative(email["html"], subtype="html")
    return message


def send_batch(settings: SmtpSettings, emails: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Send each email on one connection; ``[{recipientId, ok, error?}]`` in order (blocking: run in a thread).

    ``ok`` is True when the server accepted the message, False when it refused it or was never
    reached, and None for the message in flight when the connection broke: it may have been
    accepted, so it must not be retried.
    """
    results: list[dict[str, Any]] = []
    in_flight = False
    try:
        if settings.security == "tls":
            context = ssl.create_default_context()
            client: smtplib.SMTP = smtplib.SMTP_SSL(settings.host, settings.port, timeout=TIMEOUT_S, context=context)
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=TIMEOUT_S)
        with client:
            if settings.security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if settings.user and settings.password:
                client.login(settings.user, settings.password)
            for email in emails:
                in_flight = True
                results.append(_send_one(client, email))
                in_flight = False
    except (OSError, smtplib.SMTPException) as error:
        for index, email in enumerate(emails[len(results) :]):
            ok = None if in_flight and index == 0 else False
            results.append({"recipientId": email["recipientId"], "ok": ok, "error": f"SMTP: {error}"})
    return results


def _send_one(client: smtplib.SMTP, email: Mapping[str, Any]) -> dict[str, Any]:
    try:
        refused = client.send_message(_message(email))
    except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as error:
        return {"recipientId": email["recipientId"], "ok": False, "error": f"SMTP refused: {error}"}
    if refused:
        return {"recipientId": email["recipientId"], "ok": False, "error": f"SMTP refused: {refused}"}
    return {"recipientId": email["recipientId"], "ok": True}
