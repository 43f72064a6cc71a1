"""Opencom's recurring jobs (times in UTC)."""

from runtime import cron_jobs

crons = cron_jobs()
crons.hourly("cleanup expired widget sessions", {"minuteUTC": 7}, "widgetSessions:cleanupExpiredSessions")
crons.interval("expired support uploads", {"minutes": 15}, "supportAttachments:cleanupExpiredStagedUploads")
crons.daily("audit log retention", {"hourUTC": 3, "minuteUTC": 17}, "auditLogs:sweepRetention")
crons.daily("visitor census", {"hourUTC": 4, "minuteUTC": 23}, "segments:refreshVisitorCensuses")
