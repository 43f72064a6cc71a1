"""TEMPORARY widget placeholders until the engagement module exists (see lib/engagement_placeholders)."""

from .lib.engagement_placeholders import placeholder

getEligible = placeholder("checklists:getEligible")
completeTask = placeholder("checklists:completeTask")
uncompleteTask = placeholder("checklists:uncompleteTask")
