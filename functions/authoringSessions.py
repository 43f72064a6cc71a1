"""TEMPORARY widget placeholders until the engagement module exists (see lib/engagement_placeholders)."""

from .lib.engagement_placeholders import placeholder

validate = placeholder("authoringSessions:validate")
updateStep = placeholder("authoringSessions:updateStep")
setCurrentStep = placeholder("authoringSessions:setCurrentStep")
end = placeholder("authoringSessions:end")
