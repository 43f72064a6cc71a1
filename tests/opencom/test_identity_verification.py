"""Identity verification: the HMAC, the admin settings, rotation and the public/visitor reads."""

from opencom_backend import Backend, Team


async def test_user_hash_is_hmac_sha256_hex(backend: Backend):
    user_hash = backend.lib("user_hash")
    digest = user_hash.compute_user_hash("secret", "user-1")
    assert digest == user_hash.compute_user_hash("secret", "user-1") and len(digest) == 64 and digest == digest.lower()
    assert digest != user_hash.compute_user_hash("secret", "user-2") != user_hash.compute_user_hash("other", "user-1")
    rfc4231_case_2 = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert user_hash.compute_user_hash("Jefe", "what do ya want for nothing?") == rfc4231_case_2
    assert user_hash.user_hash_matches("secret", "user-1", digest.upper())
    assert not user_hash.user_hash_matches("secret", "user-1", "invalid-hash")
    assert not user_hash.user_hash_matches("secret", "user-2", digest)
    for user_id in ["", "ü-ñ 漢字", "a+b/c=d"]:
        assert user_hash.user_hash_matches("s", user_id, user_hash.compute_user_hash("s", user_id))


async def test_enable_disable_mode_and_rotation(backend: Backend, team: Team):
    ws = {"workspaceId": team.workspace_id}
    agent = await backend.add_member(team, "agent")
    await backend.refused("identityVerification:enable", ws, code="NOT_AUTHENTICATED")
    denied = await backend.refused("identityVerification:enable", ws, as_=agent, code="PERMISSION_DENIED")
    assert denied["message"] == "Permission denied: settings.security"
    assert await backend.call("identityVerification:getSettings", ws, as_=agent) == {
        "enabled": False,
        "mode": "optional",
        "hasSecret": False,
    }
    await backend.refused("identityVerification:rotateSecret", ws, as_=team.admin, code="INVALID_INPUT")

    first = await backend.call("identityVerification:enable", ws, as_=team.admin)
    assert first["isNewSecret"] and len(first["secret"]) == 64 and first["secret"].isalnum()
    again = await backend.call("identityVerification:enable", {**ws, "mode": "required"}, as_=team.admin)
    assert again == {"success": True, "isNewSecret": False, "mode": "required"}
    assert await backend.call("identityVerification:isRequired", ws) == {"enabled": True, "required": True}
    assert (await backend.call("identityVerification:getSecret", ws, as_=team.admin))["secret"] == first["secret"]

    rotated = await backend.call("identityVerification:rotateSecret", ws, as_=team.admin)
    old_hash = backend.lib("user_hash").compute_user_hash(first["secret"], "u1")
    new_hash = backend.lib("user_hash").compute_user_hash(rotated["secret"], "u1")
    boot = {**ws, "sessionId": "s", "externalUserId": "u1"}
    await backend.refused("widgetSessions:boot", {**boot, "userHash": old_hash}, code="NOT_AUTHORIZED")
    assert (await backend.call("widgetSessions:boot", {**boot, "userHash": new_hash}))["visitor"]["identityVerified"]

    refused = await backend.refused("identityVerification:disable", {**ws, "confirmDisable": False}, as_=team.admin)
    assert refused["message"] == "Confirmation required to disable identity verification"
    await backend.call("identityVerification:disable", ws, as_=team.admin)
    assert await backend.call("identityVerification:getSettings", ws, as_=team.admin) == {
        "enabled": False,
        "mode": "required",
        "hasSecret": True,
    }
    await backend.refused(
        "identityVerification:updateMode", {**ws, "mode": "optional"}, as_=team.admin, code="INVALID_INPUT"
    )

    logs = await backend.call("auditLogs:getActions", ws, as_=team.admin)
    assert {"widget.identity.enabled", "widget.identity.secret.rotated", "widget.identity.disabled"} <= set(logs)


async def test_settings_reads_are_for_members_and_visitor_status_for_owners(backend: Backend, team: Team):
    ws = {"workspaceId": team.workspace_id}
    outsider = (await backend.seed_team()).admin
    assert await backend.call("identityVerification:getSettings", ws) is None
    assert await backend.call("identityVerification:getSettings", ws, as_=outsider) is None
    gone = await backend.missing_id("workspaces", {"name": "gone", "createdAt": 1.0})
    assert await backend.call("identityVerification:isRequired", {"workspaceId": gone}) == {
        "enabled": False,
        "required": False,
    }

    visitor, other = await backend.boot(team.workspace_id), await backend.boot(team.workspace_id)
    status = {"visitorId": visitor.visitor_id}
    assert await backend.call("identityVerification:getVisitorStatus", {**status, "sessionToken": visitor.token}) == {
        "verified": False,
        "verifiedAt": None,
    }
    refused = await backend.refused(
        "identityVerification:getVisitorStatus", {**status, "sessionToken": other.token}, code="NOT_AUTHORIZED"
    )
    assert refused["message"] == "Not authorized to access visitor verification status"
    assert (await backend.call("identityVerification:getVisitorStatus", status, as_=team.admin))["verified"] is False
