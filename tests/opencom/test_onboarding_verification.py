"""The widget confirming a hosted-onboarding install: accepted only with the issued token, from an allowed origin."""

from opencom_backend import Backend, Team


async def test_verification_events_need_the_issued_token_and_an_allowed_origin(backend: Backend, team: Team):
    event = {
        "workspaceId": team.workspace_id,
        "token": "onb_123",
        "origin": "https://a.com",
        "currentUrl": "https://a.com/x",
    }

    def record(**changes):
        return backend.call("workspaces:recordHostedOnboardingVerificationEvent", {**event, **changes})

    assert await record() == {"accepted": False, "reason": "token_not_issued"}
    await backend.patch(team.workspace_id, {"hostedOnboardingVerificationToken": "onb_123"})
    assert await record(token="onb_999") == {"accepted": False, "reason": "token_mismatch"}
    await backend.call(
        "workspaces:updateAllowedOrigins",
        {"workspaceId": team.workspace_id, "allowedOrigins": ["https://a.com"]},
        as_=team.admin,
    )
    assert await record(origin="https://evil.com") == {"accepted": False, "reason": "origin_invalid"}
    assert "hostedOnboardingVerificationEvents" not in await backend.get(team.workspace_id)
    for _ in range(21):
        accepted = await record()
    assert accepted["accepted"] is True
    workspace = await backend.get(team.workspace_id)
    assert len(workspace["hostedOnboardingVerificationEvents"]) == 20
    assert workspace["hostedOnboardingWidgetVerifiedAt"] == accepted["verifiedAt"]
    assert workspace["hostedOnboardingVerificationEvents"][-1]["currentUrl"] == "https://a.com/x"
