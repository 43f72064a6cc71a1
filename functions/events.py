"""TEMPORARY widget placeholders until the engagement module exists (see lib/engagement_placeholders)."""

from .lib.engagement_placeholders import placeholder

track = placeholder("events:track")
trackAutoEvent = placeholder("events:trackAutoEvent")
