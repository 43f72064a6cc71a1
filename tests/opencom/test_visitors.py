"""Visitors: who may read them, identify (with email merge), location, readable labels."""

from opencom_backend import Backend, Team


async def test_readable_ids_match_opencom(backend: Backend):
    readable_id = backend.lib("readable_ids").readable_id
    assert readable_id("visitor_1") == "pretty-eyes-95"
    assert readable_id("visitor_abc123") == "fancy-hats-33"


async def test_get_is_for_agents_of_the_visitor_workspace(backend: Backend, team: Team):
    visitor = await backend.boot(team.workspace_id, email="ann@example.com")
    viewer = await backend.add_member(team, "viewer")
    outsider = (await backend.seed_team()).admin
    assert (await backend.call("visitors:get", {"id": visitor.visitor_id}, as_=viewer))["email"] == "ann@example.com"
    assert await backend.call("visitors:get", {"id": visitor.visitor_id}) is None
    assert await backend.call("visitors:get", {"id": visitor.visitor_id}, as_=outsider) is None


async def test_get_by_session_needs_an_agent_or_the_visitor_own_token(backend: Backend, team: Team):
    visitor = await backend.boot(team.workspace_id, email="ann@example.com")
    other = await backend.boot(team.workspace_id)
    by_session = {"sessionId": visitor.session_id}
    assert (await backend.call("visitors:getBySession", {**by_session, "sessionToken": visitor.token}))[
        "_id"
    ] == visitor.visitor_id
    assert (await backend.call("visitors:getBySession", by_session, as_=team.admin))["_id"] == visitor.visitor_id
    assert await backend.call("visitors:getBySession", by_session) is None
    assert await backend.call("visitors:getBySession", {**by_session, "sessionToken": other.token}) is None


async def test_identify_updates_the_session_own_visitor(backend: Backend, team: Team):
    visitor = await backend.boot(team.workspace_id, customAttributes={"plan": "free", "seats": 1.0})
    args = {"visitorId": visitor.visitor_id, "sessionToken": visitor.token}
    updated = await backend.call(
        "visitors:identify",
        {**args, "name": "Ann", "email": "ann@example.com", "customAttributes": {"plan": "pro", "feature2": True}},
    )
    assert (updated["name"], updated["email"]) == ("Ann", "ann@example.com")
    assert updated["customAttributes"] == {"plan": "pro", "seats": 1.0, "feature2": True}

    missing = await backend.refused(
        "visitors:identify", {"visitorId": visitor.visitor_id, "name": "Eve"}, code="NOT_AUTHENTICATED"
    )
    assert missing["message"] == "Session token required"
    intruder = await backend.boot(team.workspace_id)
    stolen = {"visitorId": visitor.visitor_id, "sessionToken": intruder.token, "name": "Eve"}
    assert (await backend.refused("visitors:identify", stolen, code="NOT_AUTHORIZED"))[
        "message"
    ] == "Not authorized for requested visitor"


async def proven(backend: Backend, team: Team, user_id: str) -> dict[str, str]:
    """Identity verification on, and the ``externalUserId``/``userHash`` pair proving ``user_id``."""
    enabled = await backend.call("identityVerification:enable", {"workspaceId": team.workspace_id}, as_=team.admin)
    secret = enabled.get("secret") or (
        await backend.call("identityVerification:getSecret", {"workspaceId": team.workspace_id}, as_=team.admin)
    )["secret"]
    return {"externalUserId": user_id, "userHash": backend.lib("user_hash").compute_user_hash(secret, user_id)}


async def test_identify_merges_into_the_earliest_visitor_verified_as_the_proven_user(backend: Backend, team: Team):
    ann = await proven(backend, team, "ann-1")
    canonical = await backend.boot(team.workspace_id, email="ann@example.com", name="Old", **ann)
    later = await backend.boot(team.workspace_id, sessionId="later")
    await backend.patch(later.visitor_id, {"email": "ann@example.com"})
    canonical_conversation = await backend.visitor_conversation(canonical)
    source = await backend.boot(team.workspace_id, customAttributes={"fromSource": True})
    source_conversation = await backend.visitor_conversation(source)
    token = await backend.insert(
        "visitorPushTokens",
        {
            "visitorId": source.visitor_id,
            "workspaceId": team.workspace_id,
            "token": "push-1",
            "platform": "ios",
            "createdAt": 1.0,
            "updatedAt": 1.0,
        },
    )
    readable = (await backend.get(canonical.visitor_id))["readableId"]

    merged = await backend.call(
        "visitors:identify",
        {
            "visitorId": source.visitor_id,
            "sessionToken": source.token,
            "email": "ann@example.com",
            "name": "Updated Name",
            **ann,
        },
    )
    assert merged["_id"] == canonical.visitor_id
    assert (merged["name"], merged["readableId"], merged["customAttributes"]) == (
        "Updated Name",
        readable,
        {"fromSource": True},
    )
    assert await backend.get(source.visitor_id) is None
    assert (await backend.get(source_conversation))["visitorId"] == canonical.visitor_id
    assert (await backend.get(token))["visitorId"] == canonical.visitor_id
    listed = await backend.call(
        "conversations:listByVisitor", {"sessionToken": source.token, "workspaceId": team.workspace_id}
    )
    assert {row["_id"] for row in listed} == {canonical_conversation, source_conversation}

    [log] = await backend.call(
        "auditLogs:list", {"workspaceId": team.workspace_id, "action": "visitor.merged"}, as_=team.admin
    )
    metadata = log["metadata"]
    assert (log["resourceId"], metadata["sourceVisitorId"], metadata["targetVisitorId"]) == (
        canonical.visitor_id,
        source.visitor_id,
        canonical.visitor_id,
    )
    assert metadata["reason"] == "email_match" and metadata["targetVisitorReadableId"] == readable
    assert (metadata["reassignedConversations"], metadata["reassignedSessions"], metadata["migratedPushTokens"]) == (
        1.0,
        1.0,
        1.0,
    )


async def test_duplicate_push_tokens_collapse_onto_the_canonical_visitor(backend: Backend, team: Team):
    ann = await proven(backend, team, "ann-1")
    canonical = await backend.boot(team.workspace_id, email="ann@example.com", **ann)
    source = await backend.boot(team.workspace_id)
    fields = {
        "workspaceId": team.workspace_id,
        "token": "same",
        "platform": "android",
        "createdAt": 1.0,
        "updatedAt": 1.0,
    }
    kept = await backend.insert(
        "visitorPushTokens", {**fields, "visitorId": canonical.visitor_id, "notificationsEnabled": False}
    )
    await backend.insert("visitorPushTokens", {**fields, "visitorId": source.visitor_id})
    await backend.call(
        "visitors:identify",
        {"visitorId": source.visitor_id, "sessionToken": source.token, "email": "ann@example.com", **ann},
    )
    [token] = (await backend.dump())["visitorPushTokens"]
    assert token["_id"] == kept and token["notificationsEnabled"] is True


async def test_unverified_callers_cannot_merge_into_someone_else_when_verification_is_on(backend: Backend, team: Team):
    await backend.call("identityVerification:enable", {"workspaceId": team.workspace_id}, as_=team.admin)
    victim = await backend.boot(team.workspace_id, email="vip@example.com")
    attacker = await backend.boot(team.workspace_id)
    result = await backend.call(
        "visitors:identify",
        {"visitorId": attacker.visitor_id, "sessionToken": attacker.token, "email": "vip@example.com"},
    )
    assert result["_id"] == attacker.visitor_id
    assert await backend.get(victim.visitor_id) is not None


async def test_identify_checks_origin_and_required_identity(backend: Backend, team: Team):
    visitor = await backend.boot(team.workspace_id)
    args = {"visitorId": visitor.visitor_id, "sessionToken": visitor.token}
    await backend.call(
        "workspaces:updateAllowedOrigins",
        {"workspaceId": team.workspace_id, "allowedOrigins": ["https://allowed.com"]},
        as_=team.admin,
    )
    await backend.call("visitors:identify", {**args, "origin": "https://allowed.com"})
    refused = await backend.refused("visitors:identify", {**args, "origin": "https://evil.com"})
    assert refused["message"].startswith("Origin validation failed")
    await backend.call(
        "workspaces:updateAllowedOrigins", {"workspaceId": team.workspace_id, "allowedOrigins": []}, as_=team.admin
    )

    await backend.call("identityVerification:enable", {"workspaceId": team.workspace_id}, as_=team.admin)
    await backend.call("visitors:identify", {**args, "externalUserId": "u1"})
    await backend.call(
        "identityVerification:updateMode", {"workspaceId": team.workspace_id, "mode": "required"}, as_=team.admin
    )
    refused = await backend.refused("visitors:identify", {**args, "externalUserId": "u1"})
    assert "Identity verification failed" in refused["message"]


async def test_update_location(backend: Backend, team: Team):
    visitor = await backend.boot(team.workspace_id)
    other = await backend.boot(team.workspace_id)
    location = {"city": "New York", "country": "United States"}
    await backend.call(
        "visitors:updateLocation", {"visitorId": visitor.visitor_id, "location": location}, as_=team.admin
    )
    assert (await backend.get(visitor.visitor_id))["location"] == location
    await backend.call(
        "visitors:updateLocation",
        {"visitorId": visitor.visitor_id, "sessionToken": visitor.token, "location": {"city": "Paris"}},
    )
    assert (await backend.get(visitor.visitor_id))["location"] == {"city": "Paris"}

    stolen = {"visitorId": visitor.visitor_id, "sessionToken": other.token, "location": location}
    assert (await backend.refused("visitors:updateLocation", stolen))[
        "message"
    ] == "Not authorized to update location for this visitor"
    await backend.refused(
        "visitors:updateLocation", {"visitorId": visitor.visitor_id, "location": location}, code="NOT_AUTHENTICATED"
    )
    outsider = (await backend.seed_team()).admin
    await backend.refused(
        "visitors:updateLocation",
        {"visitorId": visitor.visitor_id, "location": location},
        as_=outsider,
        code="NOT_WORKSPACE_MEMBER",
    )


async def test_with_verification_on_only_proven_callers_merge_and_never_into_another_user(backend: Backend, team: Team):
    secret = (await backend.call("identityVerification:enable", {"workspaceId": team.workspace_id}, as_=team.admin))[
        "secret"
    ]
    sign = backend.lib("user_hash").compute_user_hash
    verified_other = await backend.boot(team.workspace_id, externalUserId="other", userHash=sign(secret, "other"))
    await backend.patch(verified_other.visitor_id, {"email": "other@example.com"})
    plain = await backend.boot(team.workspace_id, email="plain@example.com")
    caller = await backend.boot(team.workspace_id, externalUserId="me", userHash=sign(secret, "me"))
    args = {"visitorId": caller.visitor_id, "sessionToken": caller.token}

    kept = await backend.call("visitors:identify", {**args, "email": "other@example.com"})
    assert kept["_id"] == caller.visitor_id and await backend.get(verified_other.visitor_id) is not None
    unverified = await backend.call("visitors:identify", {**args, "email": "plain@example.com"})
    assert unverified["_id"] == caller.visitor_id and unverified["email"] == "plain@example.com"
    assert await backend.get(plain.visitor_id) is not None  # an unverified email match is nobody's proof
