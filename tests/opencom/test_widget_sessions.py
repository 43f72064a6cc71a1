"""Widget sessions: boot, token lifecycle, refresh/revoke, identity checks at boot, settings."""

import re

from opencom_backend import Backend, Team

HOUR = 3_600_000.0
DAY = 24 * HOUR


async def test_tokens_are_wst_plus_64_hex_and_unique(backend: Backend, team: Team):
    tokens = {(await backend.boot(team.workspace_id)).token for _ in range(20)}
    assert len(tokens) == 20
    assert all(re.fullmatch(r"wst_[0-9a-f]{64}", token) for token in tokens)


async def test_lifetime_clamping_and_refresh_threshold(backend: Backend):
    sessions = backend.lib("sessions")
    assert sessions.clamp_lifetime(None) == DAY
    assert sessions.clamp_lifetime(1000.0) == HOUR
    assert sessions.clamp_lifetime(30 * DAY) == 7 * DAY
    assert sessions.clamp_lifetime(4 * HOUR) == 4 * HOUR
    issued = 0.0
    assert not sessions.refresh_due(issued + DAY, DAY, issued + 18 * HOUR - 1)
    assert sessions.refresh_due(issued + DAY, DAY, issued + 18 * HOUR + 1)


async def test_boot_creates_a_visitor_and_a_session(backend: Backend, team: Team):
    booted = await backend.call(
        "widgetSessions:boot",
        {
            "workspaceId": team.workspace_id,
            "sessionId": "browser-1",
            "name": "Ann",
            "email": "",
            "device": {"platform": "ios"},
            "customAttributes": {"plan": "pro"},
        },
    )
    visitor = booted["visitor"]
    assert visitor["name"] == "Ann" and "email" not in visitor and visitor["customAttributes"] == {"plan": "pro"}
    assert re.fullmatch(r"[a-z]+-[a-z]+-\d\d", visitor["readableId"])
    assert visitor["firstSeenAt"] == visitor["lastSeenAt"] == visitor["createdAt"]
    [session] = (await backend.dump())["widgetSessions"]
    assert booted["expiresAt"] - session["createdAt"] == DAY
    assert (session["token"], session["clientType"], session["devicePlatform"]) == (
        booted["sessionToken"],
        "mobile_sdk",
        "ios",
    )
    assert session["identityVerified"] is False
    [log] = await backend.call(
        "auditLogs:list", {"workspaceId": team.workspace_id, "action": "auth.session.created"}, as_=team.admin
    )
    assert (log["actorType"], log["resourceId"], log["metadata"]) == (
        "api",
        visitor["_id"],
        {"source": "widgetSessions.boot", "identityVerified": False},
    )


async def test_boot_resumes_the_same_browser_and_replaces_custom_attributes(backend: Backend, team: Team):
    first = await backend.boot(team.workspace_id, sessionId="browser-1", customAttributes={"a": 1.0})
    again = await backend.call(
        "widgetSessions:boot",
        {"workspaceId": team.workspace_id, "sessionId": "browser-1", "customAttributes": {"b": 2.0}},
    )
    assert again["visitor"]["_id"] == first.visitor_id
    assert again["visitor"]["customAttributes"] == {"b": 2.0}
    with_id = await backend.call(
        "widgetSessions:boot",
        {"workspaceId": team.workspace_id, "sessionId": "browser-1", "existingVisitorId": first.visitor_id},
    )
    assert with_id["visitor"]["_id"] == first.visitor_id


async def test_a_bare_visitor_id_or_email_never_resumes_another_browser_visitor(backend: Backend, team: Team):
    known = await backend.boot(team.workspace_id, sessionId="ann-browser", email="ann@example.com")
    await backend.visitor_conversation(known)
    before = await backend.get(known.visitor_id)
    by_email = await backend.boot(team.workspace_id, email="ann@example.com")
    by_id = await backend.boot(team.workspace_id, sessionId="mallory", existingVisitorId=known.visitor_id)
    assert len({by_email.visitor_id, by_id.visitor_id, known.visitor_id}) == 3
    assert await backend.get(known.visitor_id) == before  # not patched, its sessionId not moved
    sessions = (await backend.dump())["widgetSessions"]
    assert [row["token"] for row in sessions if row["visitorId"] == known.visitor_id] == [known.token]
    listed = await backend.call(
        "conversations:listByVisitor", {"workspaceId": team.workspace_id, "sessionToken": by_id.token}
    )
    assert listed == []


async def test_an_unverified_boot_cannot_take_over_a_verified_visitor(backend: Backend, team: Team):
    enabled = await backend.call("identityVerification:enable", {"workspaceId": team.workspace_id}, as_=team.admin)
    user_hash = backend.lib("user_hash").compute_user_hash(enabled["secret"], "user-42")
    verified = await backend.boot(
        team.workspace_id, email="vip@example.com", externalUserId="user-42", userHash=user_hash
    )
    claim = await backend.boot(team.workspace_id, email="vip@example.com")
    resumed_by_id = await backend.boot(team.workspace_id, existingVisitorId=verified.visitor_id)
    proven = await backend.boot(
        team.workspace_id, email="vip@example.com", externalUserId="user-42", userHash=user_hash
    )
    assert claim.visitor_id != verified.visitor_id
    assert resumed_by_id.visitor_id != verified.visitor_id
    assert proven.visitor_id == verified.visitor_id


async def test_boot_checks_the_origin_allowlist(backend: Backend, team: Team):
    await backend.call(
        "workspaces:updateAllowedOrigins",
        {"workspaceId": team.workspace_id, "allowedOrigins": ["https://allowed.com"]},
        as_=team.admin,
    )
    await backend.boot(team.workspace_id, origin="https://allowed.com")
    for origin, reason in [
        ("https://evil.com", "Origin not in allowed list"),
        (None, "Origin header is required when allowed origins are configured"),
    ]:
        args = {"workspaceId": team.workspace_id, "sessionId": "s", **({"origin": origin} if origin else {})}
        refused = await backend.refused("widgetSessions:boot", args, code="NOT_AUTHORIZED")
        assert refused["message"] == f"Origin validation failed: {reason}"


async def test_boot_enforces_required_identity_verification(backend: Backend, team: Team):
    enabled = await backend.call(
        "identityVerification:enable", {"workspaceId": team.workspace_id, "mode": "required"}, as_=team.admin
    )
    user_hash = backend.lib("user_hash").compute_user_hash(enabled["secret"], "user-1")
    base = {"workspaceId": team.workspace_id, "sessionId": "s", "externalUserId": "user-1"}
    missing = await backend.refused("widgetSessions:boot", base, code="NOT_AUTHORIZED")
    assert missing["message"] == "Identity verification failed: userHash is required"
    wrong = await backend.refused("widgetSessions:boot", {**base, "userHash": "invalid-hash"})
    assert wrong["message"] == "Identity verification failed: invalid userHash"
    assert (await backend.dump())["visitors"] == []

    booted = await backend.call("widgetSessions:boot", {**base, "userHash": user_hash.upper()})
    assert booted["visitor"]["identityVerified"] is True
    assert (
        await backend.call(
            "widgetSessions:validateSessionToken",
            {"workspaceId": team.workspace_id, "sessionToken": booted["sessionToken"]},
        )
    )["identityVerified"] is True
    anonymous = await backend.boot(team.workspace_id)
    assert anonymous.visitor_id != booted["visitor"]["_id"]


async def test_refresh_swaps_the_token(backend: Backend, team: Team):
    visitor = await backend.boot(team.workspace_id)
    refreshed = await backend.call("widgetSessions:refresh", {"sessionToken": visitor.token})
    assert refreshed["sessionToken"] != visitor.token
    validate = {"workspaceId": team.workspace_id}
    assert (
        await backend.call(
            "widgetSessions:validateSessionToken", {**validate, "sessionToken": refreshed["sessionToken"]}
        )
    )["visitorId"] == visitor.visitor_id
    old = await backend.call("widgetSessions:validateSessionToken", {**validate, "sessionToken": visitor.token})
    assert old == {"valid": False, "reason": "Invalid session token"}
    assert (await backend.refused("widgetSessions:refresh", {"sessionToken": visitor.token}))[
        "message"
    ] == "Invalid session token"


async def test_expired_tokens_are_refused_everywhere(backend: Backend, team: Team):
    visitor = await backend.boot(team.workspace_id)
    [session] = (await backend.dump())["widgetSessions"]
    await backend.patch(session["_id"], {"expiresAt": session["createdAt"] - 1})
    refused = await backend.refused("widgetSessions:refresh", {"sessionToken": visitor.token}, code="SESSION_EXPIRED")
    assert refused["message"] == "Session expired: please re-boot"
    args = {"workspaceId": team.workspace_id, "sessionToken": visitor.token}
    assert (await backend.refused("conversations:createForVisitor", args, code="SESSION_EXPIRED"))[
        "message"
    ] == "Session expired"
    assert await backend.call("widgetSessions:validateSessionToken", args) == {
        "valid": False,
        "reason": "Session expired",
    }

    swept = await backend.internal("widgetSessions:cleanupExpiredSessions")
    assert swept == {"deleted": 1.0, "hasMore": False}
    assert (await backend.dump())["widgetSessions"] == []


async def test_revoke_is_idempotent_and_audited(backend: Backend, team: Team):
    visitor = await backend.boot(team.workspace_id)
    assert await backend.call("widgetSessions:revoke", {"sessionToken": visitor.token}) == {"success": True}
    assert await backend.call("widgetSessions:revoke", {"sessionToken": visitor.token}) == {"success": True}
    args = {"workspaceId": team.workspace_id, "sessionToken": visitor.token}
    assert (await backend.refused("conversations:createForVisitor", args))["message"] == "Invalid session token"
    logs = await backend.call(
        "auditLogs:list", {"workspaceId": team.workspace_id, "action": "auth.logout"}, as_=team.admin
    )
    assert len(logs) == 1


async def test_validate_session_token_reports_why(backend: Backend, team: Team):
    visitor = await backend.boot(team.workspace_id)
    other = await backend.boot(team.workspace_id)
    foreign = await backend.seed_team()
    validate = "widgetSessions:validateSessionToken"
    assert await backend.call(validate, {"workspaceId": foreign.workspace_id, "sessionToken": visitor.token}) == {
        "valid": False,
        "reason": "Session token does not match workspace",
    }
    mismatch = {"workspaceId": team.workspace_id, "sessionToken": visitor.token, "visitorId": other.visitor_id}
    assert await backend.call(validate, mismatch) == {"valid": False, "reason": "Session token does not match visitor"}
    assert (await backend.call(validate, {"workspaceId": team.workspace_id, "sessionToken": ""}))[
        "reason"
    ] == "Session token required"


async def test_session_lifetime_settings(backend: Backend, team: Team):
    args = {"workspaceId": team.workspace_id}
    assert await backend.call("widgetSessions:getSettings", args) is None
    assert (await backend.refused("widgetSessions:updateSettings", {**args, "sessionLifetimeMs": HOUR}))[
        "message"
    ] == "Unauthorized"
    agent = await backend.add_member(team, "agent")
    await backend.refused("widgetSessions:getSettings", args, as_=agent, code="PERMISSION_DENIED")
    assert await backend.call("widgetSessions:getSettings", args, as_=team.admin) == {"sessionLifetimeMs": DAY}

    await backend.call("widgetSessions:updateSettings", {**args, "sessionLifetimeMs": 60_000.0}, as_=team.admin)
    assert await backend.call("widgetSessions:getSettings", args, as_=team.admin) == {"sessionLifetimeMs": HOUR}
    booted = await backend.call("widgetSessions:boot", {**args, "sessionId": "s"})
    [session] = (await backend.dump())["widgetSessions"]
    assert booted["expiresAt"] - session["createdAt"] == HOUR


async def test_expired_sessions_are_swept_by_an_hourly_cron(backend: Backend, team: Team):
    await backend.boot(team.workspace_id)
    [session] = (await backend.dump())["widgetSessions"]
    await backend.patch(session["_id"], {"expiresAt": backend.t.now_ms() - 1})
    await backend.t.advance_time(3600)
    assert (await backend.dump())["widgetSessions"] == []
