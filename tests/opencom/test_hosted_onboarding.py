"""Hosted onboarding: the shell's state query, integration signals, tokens and the widget step."""

from opencom_backend import Backend, Team


async def test_a_new_workspace_is_not_started_and_strangers_get_null(backend: Backend, team: Team):
    args = {"workspaceId": team.workspace_id}
    state = await backend.call("workspaces:getHostedOnboardingState", args, as_=team.admin)
    assert state["status"] == "not_started" and state["isWidgetVerified"] is False
    assert state["detectedIntegrationCount"] == 0 and state["verificationToken"] is None
    outsider = (await backend.seed_team()).admin
    assert await backend.call("workspaces:getHostedOnboardingState", args, as_=outsider) is None
    assert await backend.call("workspaces:getHostedOnboardingState", args) is None
    assert await backend.call("workspaces:getHostedOnboardingIntegrationSignals", args, as_=outsider) is None


async def test_widget_sessions_are_signals_recognised_only_after_the_current_token(backend: Backend, team: Team):
    args = {"workspaceId": team.workspace_id}
    await backend.boot(team.workspace_id, origin="https://shop.example")
    await backend.boot(team.workspace_id, origin="https://shop.example")
    signals = await backend.call("workspaces:getHostedOnboardingIntegrationSignals", args, as_=team.admin)
    [signal] = signals["integrations"]
    assert (signal["clientType"], signal["origin"], signal["sessionCount"]) == ("web_widget", "https://shop.example", 2)
    assert signals["hasRecognizedInstall"] is True

    await backend.call("workspaces:startHostedOnboarding", args, as_=team.admin)
    issued = await backend.call("workspaces:issueHostedOnboardingVerificationToken", args, as_=team.admin)
    assert issued["token"].startswith("onb_")
    for session in (await backend.dump())["widgetSessions"]:
        await backend.patch(session["_id"], {"createdAt": issued["issuedAt"] - 1000})
    stale = await backend.call("workspaces:getHostedOnboardingState", args, as_=team.admin)
    assert (stale["status"], stale["hasRecognizedInstall"], stale["isWidgetVerified"]) == ("in_progress", False, False)
    done = await backend.call("workspaces:completeHostedOnboardingWidgetStep", args, as_=team.admin)
    assert done == {"success": False, "reason": "not_verified"}
    wrong = {**args, "token": "onb_wrong"}
    assert (await backend.call("workspaces:completeHostedOnboardingWidgetStep", wrong, as_=team.admin))["reason"] == (
        "token_mismatch"
    )

    await backend.boot(team.workspace_id, origin="https://shop.example")
    fresh = await backend.call("workspaces:getHostedOnboardingState", args, as_=team.admin)
    assert fresh["isWidgetVerified"] is True and fresh["verificationToken"] == issued["token"]
    done = await backend.call(
        "workspaces:completeHostedOnboardingWidgetStep", {**args, "token": issued["token"]}, as_=team.admin
    )
    assert done["success"] is True and done["completedSteps"] == ["widget_install"]
    state = await backend.call("workspaces:getHostedOnboardingState", args, as_=team.admin)
    assert (state["status"], state["currentStep"]) == ("completed", 1)


async def test_onboarding_mutations_need_a_member_and_signup_settings_need_security(backend: Backend, team: Team):
    args = {"workspaceId": team.workspace_id}
    outsider = (await backend.seed_team()).admin
    for name in ("startHostedOnboarding", "issueHostedOnboardingVerificationToken"):
        await backend.refused(f"workspaces:{name}", args, as_=outsider, code="NOT_WORKSPACE_MEMBER")
    agent = await backend.add_member(team, "agent")
    signup = {**args, "signupMode": "invite-only"}
    await backend.refused("workspaces:updateSignupSettings", signup, as_=agent, code="PERMISSION_DENIED")
    await backend.refused(
        "workspaces:updateSignupSettings", {**signup, "authMethods": []}, as_=team.admin, code="INVALID_INPUT"
    )
    before = await backend.get(team.workspace_id)
    assert "signupMode" not in before
    await backend.call("workspaces:updateSignupSettings", {**signup, "allowedDomains": ["x.com"]}, as_=team.admin)
    after = await backend.get(team.workspace_id)
    assert (after["signupMode"], after["allowedDomains"]) == ("invite-only", [])
