"""TEMPORARY widget placeholders until the engagement module exists (see lib/engagement_placeholders)."""

from .lib.engagement_placeholders import placeholder

getEligible = placeholder("outboundMessages:getEligible")
trackImpression = placeholder("outboundMessages:trackImpression")
