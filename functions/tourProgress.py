"""TEMPORARY widget placeholders until the engagement module exists (see lib/engagement_placeholders)."""

from .lib.engagement_placeholders import placeholder

getAvailableTours = placeholder("tourProgress:getAvailableTours")
start = placeholder("tourProgress:start")
advance = placeholder("tourProgress:advance")
checkpoint = placeholder("tourProgress:checkpoint")
dismiss = placeholder("tourProgress:dismiss")
dismissPermanently = placeholder("tourProgress:dismissPermanently")
restart = placeholder("tourProgress:restart")
skipStep = placeholder("tourProgress:skipStep")
snooze = placeholder("tourProgress:snooze")
