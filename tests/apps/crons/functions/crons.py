"""The fixture's cron jobs: a mutation, a sometimes-failing mutation and two actions."""

from runtime import cron_jobs

crons = cron_jobs()
crons.interval("waits for the hourly tick", {"hours": 1}, "ticks:wait_for_hourly")  # first: starts first
crons.interval("record hourly", {"hours": 1}, "ticks:record", {"tag": "hourly"})
crons.interval("flaky", {"minutes": 30}, "ticks:flaky")
crons.daily("ping daily", {"hourUTC": 3, "minuteUTC": 15}, "ticks:ping")
