"""Svix webhook signatures (the inbound email route's verification), as pure functions."""

import base64

import pytest
from opencom_backend import Backend

SECRET = "whsec_" + base64.b64encode(b"opencom-webhook-test-secret-0001").decode()
BODY = b'{"type":"email.received","data":{"from":"ann@example.com"}}'
NOW = 1_700_000_000


@pytest.fixture
async def svix(backend: Backend):
    return backend.lib("svix")


def _headers(
    svix, *, body: bytes = BODY, timestamp: int = NOW, secret: str = SECRET, message_id: str = "msg_1"
) -> dict[str, str]:
    return {
        "svix-id": message_id,
        "svix-timestamp": str(timestamp),
        "svix-signature": svix.sign(secret, message_id, timestamp, body),
    }


async def test_a_fresh_authentic_request_is_accepted(svix):
    svix.verify_webhook(SECRET, _headers(svix), BODY, NOW)
    headers = {key.upper(): value for key, value in _headers(svix).items()}
    svix.verify_webhook(SECRET, headers, BODY, NOW + 299)


async def test_known_answer(svix):
    # Svix's documented example: secret, id, timestamp and payload give this exact signature.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    assert (
        svix.sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"body": b'{"type":"email.received","data":{"from":"eve@example.com"}}'}, "No matching signature found"),
        ({"timestamp": NOW - 301}, "Message timestamp too old"),
        ({"timestamp": NOW + 301}, "Message timestamp too new"),
        ({"secret": "whsec_" + base64.b64encode(b"another-secret").decode()}, "No matching signature found"),
    ],
)
async def test_tampered_stale_or_foreign_requests_are_rejected(svix, change, reason):
    headers = _headers(svix, **change)
    with pytest.raises(svix.WebhookVerificationError, match=reason):
        svix.verify_webhook(SECRET, headers, BODY, NOW)


async def test_replayed_signature_under_another_message_id_is_rejected(svix):
    headers = {**_headers(svix), "svix-id": "msg_2"}
    with pytest.raises(svix.WebhookVerificationError):
        svix.verify_webhook(SECRET, headers, BODY, NOW)


async def test_missing_headers_and_rotation(svix):
    for header in ("svix-id", "svix-timestamp", "svix-signature"):
        headers = {key: value for key, value in _headers(svix).items() if key != header}
        with pytest.raises(svix.WebhookVerificationError, match=f"Missing required header {header}"):
            svix.verify_webhook(SECRET, headers, BODY, NOW)
    old_secret = "whsec_" + base64.b64encode(b"the-previous-secret").decode()
    rotated = _headers(svix)
    rotated["svix-signature"] = f"{svix.sign(old_secret, 'msg_1', NOW, BODY)} {rotated['svix-signature']}"
    svix.verify_webhook(SECRET, rotated, BODY, NOW)
    with pytest.raises(svix.WebhookVerificationError):
        svix.verify_webhook(SECRET, {**_headers(svix), "svix-timestamp": "yesterday"}, BODY, NOW)
