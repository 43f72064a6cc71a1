"""The temporary engagement answers: every widget call of those modules answers empty and writes nothing."""

from opencom_backend import APP_ROOT, Backend, Team

from runtime.app_loader import load_app


async def test_every_placeholder_answers_empty_and_writes_nothing(backend: Backend, team: Team):
    placeholders = backend.lib("engagement_placeholders")
    paths = [*placeholders.PLACEHOLDERS, *placeholders.MUTATIONS]
    assert len(paths) == 28
    visitor = await backend.boot(team.workspace_id)
    before = await backend.dump()
    for path in paths:
        args = {"workspaceId": team.workspace_id, "visitorId": visitor.visitor_id, "sessionToken": visitor.token}
        answer = await backend.call(path, {**args, "anything": {"the": "widget sends"}})
        assert answer == placeholders.PLACEHOLDERS.get(path), path
    assert await backend.dump() == before


def test_the_placeholders_are_served_under_the_widgets_paths():
    served = set(load_app(APP_ROOT).functions)
    assert {"tours:listAll", "tourProgress:snooze", "events:track", "tooltipAuthoringSessions:end"} <= served
    assert not any(path.startswith("lib/") for path in served)
