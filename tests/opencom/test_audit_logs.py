"""Audit logs: filtered reads, access levels, retention settings and the retention sweep."""

from opencom_backend import Backend, Team

DAY = 86_400_000.0


async def _log(backend: Backend, team: Team, action: str, timestamp: float, **fields) -> str:
    entry = {
        "workspaceId": team.workspace_id,
        "actorType": "user",
        "action": action,
        "resourceType": "workspace",
        "timestamp": timestamp,
    }
    return await backend.insert("auditLogs", {**entry, **fields})


async def test_list_filters_and_names_the_actor(backend: Backend, team: Team):
    metadata = {"setting": "allowedOrigins", "valueCount": 2.0}
    seeded = await _log(
        backend,
        team,
        "workspace.security.changed",
        1000.0,
        actorId=team.admin.user_id,
        resourceId="r1",
        metadata=metadata,
    )
    await _log(backend, team, "workspace.security.changed", 5000.0, resourceId="r2")
    await _log(backend, team, "user.invited", 2000.0)
    ws = {"workspaceId": team.workspace_id}
    filtered = await backend.call(
        "auditLogs:list",
        {
            **ws,
            "action": "workspace.security.changed",
            "resourceType": "workspace",
            "startTime": 500.0,
            "endTime": 3000.0,
        },
        as_=team.admin,
    )
    assert [log["_id"] for log in filtered] == [seeded]
    assert filtered[0]["metadata"] == metadata
    assert (filtered[0]["actorName"], filtered[0]["actorEmail"]) == ("Test Admin", team.admin.email)
    by_actor = await backend.call("auditLogs:list", {**ws, "actorId": team.admin.user_id}, as_=team.admin)
    assert seeded in [log["_id"] for log in by_actor]
    newest_first = await backend.call("auditLogs:list", {**ws, "limit": 2.0}, as_=team.admin)
    assert [log["timestamp"] for log in newest_first] == [5000.0, 2000.0]
    assert await backend.call("auditLogs:getActions", ws, as_=team.admin) == [
        "user.invited",
        "workspace.security.changed",
    ]


async def test_who_may_read_audit_logs(backend: Backend, team: Team):
    ws = {"workspaceId": team.workspace_id}
    viewer = await backend.add_member(team, "viewer")
    agent = await backend.add_member(team, "agent")
    custom = await backend.add_member(team, "admin", permissions=["settings.workspace"])
    await _log(backend, team, "user.invited", 1.0)
    assert await backend.call("auditLogs:list", ws) == [] and await backend.call("auditLogs:getActions", ws) == []
    assert await backend.call("auditLogs:getActions", ws, as_=viewer) == ["user.invited"]
    denied = await backend.refused("auditLogs:list", ws, as_=agent)
    assert denied["message"] == "Permission denied: audit.read"
    await backend.refused("auditLogs:list", ws, as_=custom, code="PERMISSION_DENIED")

    assert await backend.call("auditLogs:getAccess", ws) == {
        "status": "unauthenticated",
        "canRead": False,
        "canExport": False,
        "canManageSecurity": False,
    }
    assert await backend.call("auditLogs:getAccess", ws, as_=viewer) == {
        "status": "ok",
        "canRead": True,
        "canExport": False,
        "canManageSecurity": False,
    }
    assert await backend.call("auditLogs:getAccess", ws, as_=team.admin) == {
        "status": "ok",
        "canRead": True,
        "canExport": True,
        "canManageSecurity": True,
    }
    outsider = (await backend.seed_team()).admin
    assert (await backend.call("auditLogs:getAccess", ws, as_=outsider))["canRead"] is False


async def test_retention_settings(backend: Backend, team: Team):
    ws = {"workspaceId": team.workspace_id}
    assert await backend.call("auditLogs:getSettings", ws) is None
    assert (await backend.call("auditLogs:getSettings", ws, as_=team.admin))["retentionDays"] == 90.0
    assert (await backend.refused("auditLogs:updateSettings", {**ws, "retentionDays": 30.0}, code="NOT_AUTHENTICATED"))[
        "message"
    ] == "Unauthorized"
    invalid = await backend.refused(
        "auditLogs:updateSettings", {**ws, "retentionDays": 45.0}, as_=team.admin, code="INVALID_INPUT"
    )
    assert invalid["message"] == "Retention days must be 30, 90, or 365"
    viewer = await backend.add_member(team, "viewer")
    await backend.refused(
        "auditLogs:updateSettings", {**ws, "retentionDays": 30.0}, as_=viewer, code="PERMISSION_DENIED"
    )

    assert await backend.call("auditLogs:updateSettings", {**ws, "retentionDays": 30.0}, as_=team.admin) == {
        "success": True
    }
    await backend.call("auditLogs:updateSettings", {**ws, "retentionDays": 365.0}, as_=team.admin)
    assert (await backend.call("auditLogs:getSettings", ws, as_=team.admin))["retentionDays"] == 365.0
    changes = await backend.call("auditLogs:list", {**ws, "resourceType": "auditLogSettings"}, as_=team.admin)
    assert [(c["metadata"]["oldValue"], c["metadata"]["newValue"]) for c in changes] == [(30.0, 365.0), (90.0, 30.0)]


async def test_retention_cleanup_deletes_expired_entries_and_continues_while_more_remain(backend: Backend, team: Team):
    now = (await backend.get(team.workspace_id))["createdAt"]
    await backend.call(
        "auditLogs:updateSettings", {"workspaceId": team.workspace_id, "retentionDays": 30.0}, as_=team.admin
    )
    old = [await _log(backend, team, "old.entry", now - 40 * DAY) for _ in range(3)]
    recent = await _log(backend, team, "recent.entry", now - 20 * DAY)
    sweep = {"workspaceId": team.workspace_id, "batchSize": 2.0}

    assert await backend.internal("auditLogs:cleanupOldLogs", sweep) == {"deleted": 2.0, "hasMore": True}
    assert await backend.internal("auditLogs:cleanupOldLogs", sweep) == {"deleted": 1.0, "hasMore": False}
    remaining = {log["_id"] for log in (await backend.dump())["auditLogs"]}
    assert recent in remaining and not remaining & set(old)
    pending = [job for job in (await backend.dump())["_scheduled_functions"] if job["state"]["kind"] == "pending"]
    assert [job["args"] for job in pending] == [[sweep]]  # only the first call left more behind


async def test_audit_writes_never_fail_the_audited_operation(backend: Backend, team: Team):
    record_audit = backend.lib("audit").record_audit

    async def audit_bad_metadata(ctx):
        too_deep = {"a": {"b": {"c": {"d": 1.0}}}}
        await record_audit(ctx, workspace_id=team.workspace_id, action="x.y", resource_type="t", metadata=too_deep)
        return "done"

    assert await backend.t.run(audit_bad_metadata) == "done"
    [failure] = (await backend.dump())["auditLogWriteFailures"]
    assert failure["action"] == "x.y" and "does not match the schema" in failure["error"]


async def test_the_daily_retention_cron_cleans_every_workspace(backend: Backend, team: Team):
    other = await backend.seed_team()
    jobs = backend.executor.app.crons.jobs
    assert jobs["audit log retention"].schedule == {"type": "daily", "hourUTC": 3.0, "minuteUTC": 17.0}
    now = backend.t.now_ms()
    old = [await _log(backend, seeded, "old.entry", now - 100 * DAY) for seeded in (team, other)]
    recent = await _log(backend, team, "recent.entry", now - DAY)

    await backend.t.advance_time(24 * 3600)  # the 03:17 UTC tick falls somewhere in the next day
    await backend.t.finish_all_scheduled_functions()  # the per-workspace cleanups it started
    remaining = {log["_id"] for log in (await backend.dump())["auditLogs"]}
    assert recent in remaining and not remaining & set(old)


async def test_export_in_json_and_csv_needs_data_export_and_is_recorded(backend: Backend, team: Team):
    ws = {"workspaceId": team.workspace_id}
    await backend.call("auditLogs:updateSettings", {**ws, "retentionDays": 30.0}, as_=team.admin)
    exported = await backend.call("auditLogs:exportLogs", ws, as_=team.admin)
    assert exported["format"] == "json" and exported["count"] == len(exported["data"]) >= 1
    row = next(r for r in exported["data"] if r["action"] == "workspace.security.changed")
    assert row["actorEmail"] == team.admin.email and row["timestamp"].endswith("Z")
    csv = await backend.call("auditLogs:exportLogs", {**ws, "format": "csv", "action": row["action"]}, as_=team.admin)
    header, *lines = csv["data"].split("\n")
    assert header.startswith("timestamp,action,actorType") and len(lines) == csv["count"] == 1
    assert f'"{row["action"]}"' in lines[0]
    empty = await backend.call("auditLogs:exportLogs", {**ws, "startTime": 0.0, "endTime": 1.0}, as_=team.admin)
    assert empty["data"] == [] and empty["truncated"] is False

    agent = await backend.add_member(team, "agent")
    await backend.refused("auditLogs:exportLogs", ws, as_=agent, code="PERMISSION_DENIED")
    await backend.refused("auditLogs:logExport", {**ws, "exportType": "auditLogs", "recordCount": 1.0}, as_=agent,
                          code="PERMISSION_DENIED")  # fmt: skip
    await backend.call("auditLogs:logExport", {**ws, "exportType": "auditLogs", "recordCount": 3.0}, as_=team.admin)
    logs = await backend.call("auditLogs:list", {**ws, "action": "data.exported"}, as_=team.admin)
    assert [(log["resourceType"], log["metadata"]["recordCount"]) for log in logs] == [("auditLogs", 3)]
