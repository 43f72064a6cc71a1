"""The fixture's cron jobs: a mutation, a sometimes-failing mutation and an action."""

from runtime import cron_jobs

crons = cron_jobs()
crons.interval("record hourly", {"hours": 1}, "ticks:record", {"tag": "hourly"})
crons.interval("flaky", {"minutes": 30}, "ticks:flaky")
crons.daily("ping daily", {"hourUTC": 3, "minuteUTC": 15}, "ticks:ping")
