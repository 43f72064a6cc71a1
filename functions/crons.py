"""Opencom's recurring jobs (times in UTC)."""

from runtime import cron_jobs

crons = cron_jobs()
crons.hourly("cleanup expired widget sessions", {"minuteUTC": 7}, "widgetSessions:cleanupExpiredSessions")
crons.interval("expired support uploads", {"minutes": 15}, "supportAttachments:cleanupExpiredStagedUploads")
crons.daily("audit log retention", {"hourUTC": 3, "minuteUTC": 17}, "auditLogs:sweepRetention")
crons.daily("visitor census", {"hourUTC": 4, "minuteUTC": 23}, "segments:refreshVisitorCensuses")
crons.interval("stalled campaign sends", {"minutes": 5}, "emailCampaigns:resumeStalledSends")
crons.interval("stalled push campaign sends", {"minutes": 5}, "pushCampaigns:resumeStalledSends")
crons.interval("series waits backstop", {"minutes": 5}, "series:processWaitingProgress")
crons.interval("report snapshots", {"minutes": 10}, "reporting:refreshReportSnapshots")
