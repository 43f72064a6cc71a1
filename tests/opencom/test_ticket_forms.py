"""Ticket forms: one default per workspace, the widget's form, and forms in use kept."""

from opencom_backend import Backend, Team

FIELDS = [
    {"id": "order", "type": "text", "label": "Order number", "required": True},
    {"id": "topic", "type": "select", "label": "Topic", "required": False, "options": ["Billing", "Bug"]},
]


async def test_the_widget_gets_the_default_form_or_the_first(backend: Backend, team: Team):
    ws = {"workspaceId": team.workspace_id}
    assert await backend.call("ticketForms:getDefaultForVisitor", ws) is None
    first = await backend.call("ticketForms:create", {**ws, "name": "General", "fields": FIELDS}, as_=team.admin)
    assert (await backend.call("ticketForms:getDefaultForVisitor", ws))["_id"] == first
    second = await backend.call(
        "ticketForms:create", {**ws, "name": "Bugs", "fields": [], "isDefault": True}, as_=team.admin
    )
    assert (await backend.call("ticketForms:getDefaultForVisitor", ws))["_id"] == second
    await backend.call("ticketForms:update", {"id": first, "isDefault": True}, as_=team.admin)
    assert [(f["_id"], f["isDefault"]) for f in await backend.call("ticketForms:list", ws, as_=team.admin)] == [
        (first, True), (second, False),
    ]  # fmt: skip
    assert (await backend.call("ticketForms:getDefault", ws, as_=team.admin))["fields"] == FIELDS
    assert await backend.call("ticketForms:list", ws) == []
    assert await backend.call("ticketForms:get", {"id": first}) is None


async def test_a_form_in_use_is_kept(backend: Backend, team: Team):
    ws = {"workspaceId": team.workspace_id}
    used = await backend.call("ticketForms:create", {**ws, "name": "Used", "fields": FIELDS}, as_=team.admin)
    unused = await backend.call("ticketForms:create", {**ws, "name": "Unused", "fields": []}, as_=team.admin)
    visitor = await backend.boot(team.workspace_id)
    await backend.call(
        "tickets:create",
        {**ws, "sessionToken": visitor.token, "subject": "Help", "formId": used, "formData": {"order": "A-1"}},
    )
    refused = await backend.refused("ticketForms:remove", {"id": used}, as_=team.admin, code="INVALID_INPUT")
    assert refused["message"] == "Cannot delete form that is in use by tickets"
    assert await backend.call("ticketForms:remove", {"id": unused}, as_=team.admin) == unused
    await backend.refused("ticketForms:remove", {"id": unused}, as_=team.admin, code="NOT_FOUND")
    agent = await backend.add_member(team, "agent")
    await backend.refused("ticketForms:create", {**ws, "name": "x", "fields": []}, as_=agent, code="PERMISSION_DENIED")
