"""TEMPORARY widget placeholders until the engagement module exists (see lib/engagement_placeholders)."""

from .lib.engagement_placeholders import placeholder

validate = placeholder("tooltipAuthoringSessions:validate")
updateSelector = placeholder("tooltipAuthoringSessions:updateSelector")
end = placeholder("tooltipAuthoringSessions:end")
