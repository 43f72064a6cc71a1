"""TEMPORARY widget placeholders until the engagement module exists (see lib/engagement_placeholders)."""

from .lib.engagement_placeholders import placeholder

getActiveSurveys = placeholder("surveys:getActiveSurveys")
recordImpression = placeholder("surveys:recordImpression")
submitResponse = placeholder("surveys:submitResponse")
