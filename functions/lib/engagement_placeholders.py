"""TEMPORARY answers for the engagement functions the widget calls, until those modules exist.

The widget calls tours, checklists, surveys, tooltips, outbound messages, event tracking and the
authoring overlays on every page, and any query that fails unmounts the whole widget. Until the
engagement modules are written, each of these paths answers what the widget reads as "nothing
here": an empty list for lists, null for single records and for every mutation. They read no
argument and write nothing, so they show no data and change no state.

The thin module files (``functions/tours.py``, ...) export these by name; the engagement modules
replace those files, and this module is then deleted.
"""

from typing import Any

from runtime import mutation, query
from runtime.functions import FunctionDefinition

# Every placeholder path and the empty value it answers ([] for lists, None otherwise).
PLACEHOLDERS: dict[str, Any] = {
    "tours:listAll": [],
    "tourProgress:getAvailableTours": [],
    "tooltips:getAvailableTooltips": [],
    "checklists:getEligible": [],
    "surveys:getActiveSurveys": [],
    "outboundMessages:getEligible": [],
    "authoringSessions:validate": None,
    "tooltipAuthoringSessions:validate": None,
}
MUTATIONS = (
    "tourProgress:start", "tourProgress:advance", "tourProgress:checkpoint", "tourProgress:dismiss",
    "tourProgress:dismissPermanently", "tourProgress:restart", "tourProgress:skipStep", "tourProgress:snooze",
    "checklists:completeTask", "checklists:uncompleteTask", "surveys:recordImpression", "surveys:submitResponse",
    "outboundMessages:trackImpression", "events:track", "events:trackAutoEvent", "authoringSessions:updateStep",
    "authoringSessions:setCurrentStep", "authoringSessions:end", "tooltipAuthoringSessions:updateSelector",
    "tooltipAuthoringSessions:end",
)  # fmt: skip


def placeholder(path: str) -> FunctionDefinition:
    """The placeholder function for ``module:function``: a query answering its empty value, or a no-op mutation."""
    if path in PLACEHOLDERS:
        empty = PLACEHOLDERS[path]

        async def answer_empty(ctx, args):
            return list(empty) if isinstance(empty, list) else empty

        answer_empty.__doc__ = f"Placeholder for {path}: answers {empty!r} until the engagement module exists."
        return query(answer_empty)
    if path in MUTATIONS:

        async def do_nothing(ctx, args):
            return None

        do_nothing.__doc__ = f"Placeholder for {path}: does nothing until the engagement module exists."
        return mutation(do_nothing)
    raise KeyError(f"{path} is not an engagement placeholder")
