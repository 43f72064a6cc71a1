"""A cron the harness clock drives."""

from runtime import cron_jobs

crons = cron_jobs()
crons.interval("bump every ten minutes", {"minutes": 10}, "counters:bump", {"name": "cron"})
