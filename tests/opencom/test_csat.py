"""CSAT in the widget: asked only when enabled and the conversation is closed; one rating each."""

from opencom_backend import Backend, Team


async def test_a_closed_conversation_is_rated_once(backend: Backend, team: Team):
    visitor = await backend.boot(team.workspace_id)
    conversation = await backend.visitor_conversation(visitor)
    own = {"conversationId": conversation, "visitorId": visitor.visitor_id, "sessionToken": visitor.token}
    eligibility = lambda: backend.call("reporting:getCsatEligibility", own)
    assert await eligibility() == {
        "eligible": False, "reason": "disabled", "askForRatingEnabled": False, "alreadySubmitted": False,
        "conversationStatus": "open",
    }  # fmt: skip
    disabled = await backend.refused("reporting:submitCsatResponse", {**own, "rating": 5.0}, code="INVALID_INPUT")
    assert disabled["message"] == "CSAT collection is disabled for this workspace"
    await backend.call("automationSettings:upsert", {"workspaceId": team.workspace_id, "askForRatingEnabled": True},
                       as_=team.admin)  # fmt: skip
    assert (await eligibility())["reason"] == "conversation_not_closed"
    await backend.call("conversations:assign", {"id": conversation, "agentId": team.admin.user_id}, as_=team.admin)
    await backend.call("conversations:updateStatus", {"id": conversation, "status": "closed"}, as_=team.admin)
    assert (await eligibility())["eligible"] is True
    out_of_range = await backend.refused("reporting:submitCsatResponse", {**own, "rating": 6.0}, code="INVALID_INPUT")
    assert out_of_range["message"] == "Rating must be between 1 and 5"

    csat_id = await backend.call("reporting:submitCsatResponse", {**own, "rating": 4.0, "feedback": "Quick, thanks"})
    row = await backend.get(csat_id)
    assert (row["rating"], row["feedback"], row["agentId"], row["visitorId"]) == (
        4, "Quick, thanks", team.admin.user_id, visitor.visitor_id,
    )  # fmt: skip
    assert (await backend.get(conversation))["csatResponseId"] == csat_id
    assert (await eligibility())["reason"] == "already_submitted"
    twice = await backend.refused("reporting:submitCsatResponse", {**own, "rating": 1.0}, code="INVALID_INPUT")
    assert twice["message"] == "CSAT response already submitted for this conversation"


async def test_only_the_conversations_visitor_or_agents_rate_it(backend: Backend, team: Team):
    visitor = await backend.boot(team.workspace_id)
    other = await backend.boot(team.workspace_id)
    conversation = await backend.visitor_conversation(visitor)
    args = {"conversationId": conversation, "rating": 5.0}
    await backend.refused("reporting:submitCsatResponse", {**args, "sessionToken": other.token}, code="NOT_AUTHORIZED")
    await backend.refused("reporting:getCsatEligibility", {"conversationId": conversation}, code="NOT_AUTHENTICATED")
    viewer = await backend.add_member(team, "viewer")
    assert (await backend.call("reporting:getCsatEligibility", {"conversationId": conversation}, as_=viewer))[
        "conversationStatus"
    ] == "open"
    assert (await backend.dump())["csatResponses"] == []
