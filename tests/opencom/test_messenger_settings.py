"""Messenger settings: public defaults for the widget, the dashboard's edits and validation, the logo
in file storage, and the home screen each audience sees."""

import pytest
from opencom_backend import Backend, Team

PUBLIC_DEFAULTS = {
    "primaryColor": "#792cd4",
    "backgroundColor": "#792cd4",
    "themeMode": "system",
    "launcherPosition": "right",
    "launcherSideSpacing": 20,
    "launcherBottomSpacing": 20,
    "showLauncher": True,
    "welcomeMessage": "Hi there! How can we help you today?",
    "teamIntroduction": None,
    "showTeammateAvatars": True,
    "supportedLanguages": ["en"],
    "defaultLanguage": "en",
    "mobileEnabled": True,
    "logo": None,
    "launcherIconUrl": None,
    "privacyPolicyUrl": None,
    "launcherAudienceRules": None,
}
TABS = ["home", "messages", "help", "tours", "tasks", "tickets"]


async def test_the_widget_reads_defaults_then_the_saved_settings(backend: Backend, team: Team):
    ws = {"workspaceId": team.workspace_id}
    assert await backend.call("messengerSettings:getPublicSettings", ws) == PUBLIC_DEFAULTS
    assert await backend.call("messengerSettings:get", ws, as_=team.admin) is None
    defaults = await backend.call("messengerSettings:getOrCreate", ws, as_=team.admin)
    assert defaults["logoStorageId"] is None and defaults["primaryColor"] == "#792cd4"
    assert (await backend.dump())["messengerSettings"] == []

    changes = {"primaryColor": "#abc", "launcherPosition": "left", "teamIntroduction": "We reply fast",
               "privacyPolicyUrl": "https://example.com/privacy"}  # fmt: skip
    row_id = await backend.call("messengerSettings:upsert", {**ws, **changes}, as_=team.admin)
    assert await backend.call("messengerSettings:getPublicSettings", ws) == {**PUBLIC_DEFAULTS, **changes}
    cleared = {**ws, "teamIntroduction": None, "welcomeMessage": "Hello"}
    assert await backend.call("messengerSettings:upsert", cleared, as_=team.admin) == row_id
    public = await backend.call("messengerSettings:getPublicSettings", ws)
    assert (public["teamIntroduction"], public["welcomeMessage"], public["primaryColor"]) == (None, "Hello", "#abc")
    assert "teamIntroduction" not in await backend.get(row_id)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"primaryColor": "purple"}, "Invalid primary color format. Must be a valid hex color (e.g., #792cd4)"),
        ({"backgroundColor": "#12345"}, "Invalid background color format. Must be a valid hex color (e.g., #792cd4)"),
        ({"privacyPolicyUrl": "not a url"}, "Invalid privacy policy URL format"),
        ({"launcherIconUrl": "nope"}, "Invalid launcher icon URL format"),
        ({"launcherSideSpacing": 101.0}, "Launcher side spacing must be between 0 and 100 pixels"),
        ({"launcherBottomSpacing": -1.0}, "Launcher bottom spacing must be between 0 and 100 pixels"),
        ({"welcomeMessage": "x" * 501}, "Welcome message must be 500 characters or less"),
    ],
)
async def test_bad_settings_are_refused(backend: Backend, team: Team, change: dict, message: str):
    args = {"workspaceId": team.workspace_id, **change}
    refused = await backend.refused("messengerSettings:upsert", args, as_=team.admin, code="INVALID_INPUT")
    assert refused["message"] == message
    assert (await backend.dump())["messengerSettings"] == []


async def test_only_settings_admins_edit(backend: Backend, team: Team):
    ws = {"workspaceId": team.workspace_id}
    agent = await backend.add_member(team, "agent")
    await backend.refused("messengerSettings:upsert", {**ws, "showLauncher": False}, code="NOT_AUTHENTICATED")
    await backend.refused(
        "messengerSettings:upsert", {**ws, "showLauncher": False}, as_=agent, code="PERMISSION_DENIED"
    )
    assert await backend.call("messengerSettings:getOrCreate", ws, as_=agent) is None


async def test_the_logo_lives_in_file_storage(backend: Backend, team: Team):
    ws = {"workspaceId": team.workspace_id}
    files = backend.executor.file_storage
    assert "/api/storage/upload" in await backend.call("messengerSettings:generateLogoUploadUrl", ws, as_=team.admin)
    first = await files.store(b"logo one", "image/png")
    row_id = await backend.call("messengerSettings:saveLogo", {**ws, "storageId": first}, as_=team.admin)
    logo = (await backend.call("messengerSettings:getPublicSettings", ws))["logo"]
    assert logo.endswith(f"/api/storage/{first}")
    second = await files.store(b"logo two", "image/png")
    await backend.call("messengerSettings:saveLogo", {**ws, "storageId": second}, as_=team.admin)
    assert files.row(first) is None  # the replaced logo's file is gone
    assert (await backend.call("messengerSettings:getOrCreate", ws, as_=team.admin))["logo"].endswith(second)
    assert await backend.call("messengerSettings:deleteLogo", ws, as_=team.admin) == row_id
    assert files.row(second) is None
    assert (await backend.call("messengerSettings:getPublicSettings", ws))["logo"] is None


async def test_the_home_screen_per_audience(backend: Backend, team: Team):
    ws = {"workspaceId": team.workspace_id}
    default = await backend.call("messengerSettings:getPublicHomeConfig", ws)
    assert [card["id"] for card in default["cards"]] == [
        "welcome-1",
        "search-1",
        "conversations-1",
        "startConversation-1",
    ]
    assert ([tab["id"] for tab in default["tabs"]], default["defaultSpace"]) == (TABS, "home")

    config = {
        "enabled": True,
        "defaultSpace": "help",
        "cards": [
            {"id": "hello", "type": "welcome", "visibleTo": "all"},
            {"id": "for-users", "type": "announcements", "visibleTo": "users", "config": {"title": "New!"}},
            {"id": "for-visitors", "type": "search", "visibleTo": "visitors"},
        ],
        "tabs": [
            {"id": "help", "enabled": False, "visibleTo": "all"},
            {"id": "messages", "enabled": False, "visibleTo": "users"},
            {"id": "tickets", "enabled": True, "visibleTo": "users"},
        ],
    }
    await backend.call("messengerSettings:updateHomeConfig", {**ws, "homeConfig": config}, as_=team.admin)
    stored = await backend.call("messengerSettings:getHomeConfig", ws, as_=team.admin)
    assert stored["launchDirectlyToConversation"] is False
    assert {tab["id"]: tab["enabled"] for tab in stored["tabs"]}["messages"] is True  # always on

    anonymous = await backend.call("messengerSettings:getPublicHomeConfig", ws)
    assert [card["id"] for card in anonymous["cards"]] == ["hello", "for-visitors"]
    assert [tab["id"] for tab in anonymous["tabs"]] == ["home", "messages", "tours", "tasks"]
    assert anonymous["defaultSpace"] == "messages"  # help is off
    identified = await backend.call("messengerSettings:getPublicHomeConfig", {**ws, "isIdentified": True})
    assert [card["id"] for card in identified["cards"]] == ["hello", "for-users"]
    assert "tickets" in [tab["id"] for tab in identified["tabs"]]

    await backend.call("messengerSettings:toggleHomeEnabled", {**ws, "enabled": False}, as_=team.admin)
    off = await backend.call("messengerSettings:getPublicHomeConfig", ws)
    assert (off["enabled"], off["cards"], "home" in [tab["id"] for tab in off["tabs"]]) == (False, [], False)


async def test_home_cards_are_added_moved_changed_and_removed(backend: Backend, team: Team):
    ws = {"workspaceId": team.workspace_id}
    await backend.refused("messengerSettings:removeHomeCard", {**ws, "cardId": "search-1"}, as_=team.admin,
                          code="NOT_FOUND")  # fmt: skip
    card = {"id": "news", "type": "announcements", "visibleTo": "all"}
    await backend.call("messengerSettings:addHomeCard", {**ws, "card": card, "position": 1.0}, as_=team.admin)
    duplicate = await backend.refused("messengerSettings:addHomeCard", {**ws, "card": card}, as_=team.admin,
                                      code="INVALID_INPUT")  # fmt: skip
    assert duplicate["message"] == "A card with this ID already exists"

    async def card_ids() -> list[str]:
        return [c["id"] for c in (await backend.call("messengerSettings:getHomeConfig", ws, as_=team.admin))["cards"]]

    assert await card_ids() == ["welcome-1", "news", "search-1", "conversations-1", "startConversation-1"]
    await backend.call("messengerSettings:reorderHomeCards", {**ws, "cardIds": ["news", "welcome-1"]}, as_=team.admin)
    assert await card_ids() == ["news", "welcome-1"]
    await backend.refused("messengerSettings:reorderHomeCards", {**ws, "cardIds": ["ghost"]}, as_=team.admin,
                          code="NOT_FOUND")  # fmt: skip
    updates = {"visibleTo": "users", "config": {"title": "Launch"}}
    await backend.call("messengerSettings:updateHomeCard", {**ws, "cardId": "news", "updates": updates}, as_=team.admin)
    news = (await backend.call("messengerSettings:getHomeConfig", ws, as_=team.admin))["cards"][0]
    assert news == {**card, **updates}
    await backend.call("messengerSettings:removeHomeCard", {**ws, "cardId": "news"}, as_=team.admin)
    assert await card_ids() == ["welcome-1"]
    not_unique = {"enabled": True, "defaultSpace": "home", "cards": [card, card]}
    refused = await backend.refused("messengerSettings:updateHomeConfig", {**ws, "homeConfig": not_unique},
                                    as_=team.admin, code="INVALID_INPUT")  # fmt: skip
    assert refused["message"] == "Card IDs must be unique"
