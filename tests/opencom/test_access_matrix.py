"""Every public function of the Opencom modules, called by four kinds of strangers, leaks and changes nothing.

The function list comes from the app's registry, so a new public function fails
``test_every_public_function_has_args`` until it gets an entry in ``ARGS`` (and, when it may
legitimately answer strangers, in ``ALLOWED``). For each (function, stranger) pair the call must
be refused with a coded authorisation error or answer an empty result (or a result ``ALLOWED``
says is public), must not mention any of the victim's ids or secrets, and must not write
anything — except the self-service calls in ``SELF_SERVICE``, which may only insert the caller's
own documents.

``TAKEOVERS`` are the ways strangers tried to become someone else (a boot naming the victim's
visitor id or email, an identify with the victim's email, a password sign-up on an email that
already has a user), each tried by the same four strangers with identity verification off,
optional and required: each must hand over none of the victim's data and change none of it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_asyncio
from opencom_backend import APP_ROOT, Backend, Person, Visitor, open_backend

from runtime import ConvexError
from runtime.functions.app_loader import load_app

pytestmark = pytest.mark.asyncio(loop_scope="module")

MODULES = (
    "workspaces", "widgetSessions", "visitors", "conversations", "messages", "tags", "snippets",
    "identityVerification", "auditLogs", "automationSettings", "discovery", "users", "emailChannel",
    "messengerSettings", "officeHours", "commonIssueButtons", "ticketForms", "tickets", "supportAttachments",
    "aiAgent", "reporting", "emailTemplates", "emailCampaigns",
    "pushCampaigns", "visitorPushTokens", "pushTokens", "series",
    "notificationSettings",
    "segments", "events", "tours", "tourSteps", "tourProgress", "tooltips", "authoringSessions",
    "tooltipAuthoringSessions", "surveys", "checklists", "outboundMessages",
    "articles", "collections", "suggestions", "knowledge", "workspaceMembers", "contentFolders", "aiAgentActions",
    "carousels", "embeddings", "helpCenterImports",
)  # fmt: skip
REFUSALS = {"NOT_AUTHENTICATED", "NOT_AUTHORIZED", "PERMISSION_DENIED", "NOT_WORKSPACE_MEMBER", "SESSION_EXPIRED"}
GUESSED_TOKEN = "wst_" + "0" * 64
GUESSED_AUTHORING_TOKEN = "A" * 32
GUESSED_CAMPAIGN_TOKEN = "ect_" + "0" * 48
EVERYONE = {"type": "group", "operator": "and", "conditions": []}


@dataclass(frozen=True)
class Stranger:
    """Someone who must not reach the victim's data: anonymous, a visitor, or another workspace's agent."""

    name: str
    agent: Person | None = None
    visitor: Visitor | None = None

    @property
    def token(self) -> str | None:
        return self.visitor.token if self.visitor else None

    def session(self) -> dict[str, str]:
        """The caller's own session token argument, when it has one."""
        return {"sessionToken": self.token} if self.token else {}


@dataclass
class World:
    """Workspace A holds the victim visitor's data; the strangers come from A and from workspace B."""

    backend: Backend
    workspace_id: str
    workspace_name: str
    owner: Person
    victim: Visitor
    conversation: str
    tag: str
    snippet: str
    shortcut: str
    article: str  # a draft: nobody outside the workspace may see it
    collection: str
    invitation: str
    membership: str
    folder: str
    strangers: dict[str, Stranger]
    markers: tuple[str, ...]  # victim ids and secrets no stranger may ever see
    ids: dict[str, str] = field(default_factory=dict)  # the victim's support and engagement records


STRANGERS = (
    "anonymous",
    "visitor of another workspace",
    "other visitor of the workspace",
    "agent of another workspace",
)
Args = Callable[[World, Stranger], dict[str, Any]]

ARGS: dict[str, Args] = {
    "workspaces:get": lambda w, s: {"id": w.workspace_id},
    "workspaces:getPublicWorkspaceContext": lambda w, s: {"workspaceId": w.workspace_id},
    "workspaces:getByName": lambda w, s: {"name": w.workspace_name},
    "workspaces:create": lambda w, s: {"name": w.workspace_name},
    "workspaces:getOrCreateDefault": lambda w, s: {},
    "workspaces:updateAllowedOrigins": lambda w, s: {
        "workspaceId": w.workspace_id,
        "allowedOrigins": ["https://evil.com"],
    },
    "workspaces:validateOrigin": lambda w, s: {"workspaceId": w.workspace_id, "origin": "https://evil.com"},
    "widgetSessions:boot": lambda w, s: {
        "workspaceId": w.workspace_id,
        "sessionId": f"matrix {s.name}",
        "email": "victim@example.com",
    },
    "widgetSessions:refresh": lambda w, s: {"sessionToken": GUESSED_TOKEN},
    "widgetSessions:revoke": lambda w, s: {"sessionToken": GUESSED_TOKEN},
    "widgetSessions:validateSessionToken": lambda w, s: {
        "workspaceId": w.workspace_id,
        "sessionToken": s.token or GUESSED_TOKEN,
    },
    "widgetSessions:getSettings": lambda w, s: {"workspaceId": w.workspace_id},
    "widgetSessions:updateSettings": lambda w, s: {"workspaceId": w.workspace_id, "sessionLifetimeMs": 3_600_000.0},
    "visitors:get": lambda w, s: {"id": w.victim.visitor_id},
    "visitors:getBySession": lambda w, s: {"sessionId": w.victim.session_id, **s.session()},
    "visitors:identify": lambda w, s: {"visitorId": w.victim.visitor_id, "name": "Mallory", **s.session()},
    "visitors:updateLocation": lambda w, s: {
        "visitorId": w.victim.visitor_id,
        "location": {"city": "Nowhere"},
        **s.session(),
    },
    "conversations:list": lambda w, s: {"workspaceId": w.workspace_id},
    "conversations:get": lambda w, s: {"id": w.conversation, "visitorId": w.victim.visitor_id, **s.session()},
    "conversations:create": lambda w, s: {"workspaceId": w.workspace_id, "visitorId": w.victim.visitor_id},
    "conversations:createForVisitor": lambda w, s: {"workspaceId": w.workspace_id, "sessionToken": s.token or ""},
    "conversations:getOrCreateForVisitor": lambda w, s: {"workspaceId": w.workspace_id, "sessionToken": s.token or ""},
    "conversations:updateStatus": lambda w, s: {"id": w.conversation, "status": "closed"},
    "conversations:assign": lambda w, s: {"id": w.conversation, "agentId": (s.agent or w.owner).user_id},
    "conversations:markAsRead": lambda w, s: {
        "id": w.conversation,
        "readerType": "agent" if s.agent else "visitor",
        "visitorId": w.victim.visitor_id,
        **s.session(),
    },
    "conversations:listByVisitor": lambda w, s: {"workspaceId": w.workspace_id, **s.session()},
    "conversations:getTotalUnreadForVisitor": lambda w, s: {"workspaceId": w.workspace_id, **s.session()},
    "messages:list": lambda w, s: {"conversationId": w.conversation, "visitorId": w.victim.visitor_id, **s.session()},
    "messages:send": lambda w, s: {
        "conversationId": w.conversation,
        "content": "injected",
        "senderType": "agent" if s.agent else "visitor",
        "senderId": s.agent.user_id if s.agent else w.victim.visitor_id,
        **({} if s.agent else {"visitorId": w.victim.visitor_id}),
        **s.session(),
    },
    "tags:list": lambda w, s: {"workspaceId": w.workspace_id},
    "tags:get": lambda w, s: {"id": w.tag},
    "tags:create": lambda w, s: {"workspaceId": w.workspace_id, "name": "matrix"},
    "tags:update": lambda w, s: {"id": w.tag, "name": "matrix"},
    "tags:remove": lambda w, s: {"id": w.tag},
    "tags:addToConversation": lambda w, s: {"conversationId": w.conversation, "tagId": w.tag},
    "tags:removeFromConversation": lambda w, s: {"conversationId": w.conversation, "tagId": w.tag},
    "tags:getConversationTags": lambda w, s: {"conversationId": w.conversation},
    "snippets:list": lambda w, s: {"workspaceId": w.workspace_id},
    "snippets:get": lambda w, s: {"id": w.snippet},
    "snippets:search": lambda w, s: {"workspaceId": w.workspace_id, "query": "e"},
    "snippets:getByShortcut": lambda w, s: {"workspaceId": w.workspace_id, "shortcut": w.shortcut},
    "snippets:create": lambda w, s: {"workspaceId": w.workspace_id, "name": "matrix", "content": "x"},
    "snippets:update": lambda w, s: {"id": w.snippet, "content": "x"},
    "snippets:remove": lambda w, s: {"id": w.snippet},
    "identityVerification:getSettings": lambda w, s: {"workspaceId": w.workspace_id},
    "identityVerification:enable": lambda w, s: {"workspaceId": w.workspace_id, "mode": "required"},
    "identityVerification:disable": lambda w, s: {"workspaceId": w.workspace_id},
    "identityVerification:updateMode": lambda w, s: {"workspaceId": w.workspace_id, "mode": "required"},
    "identityVerification:rotateSecret": lambda w, s: {"workspaceId": w.workspace_id},
    "identityVerification:getSecret": lambda w, s: {"workspaceId": w.workspace_id},
    "identityVerification:isRequired": lambda w, s: {"workspaceId": w.workspace_id},
    "identityVerification:getVisitorStatus": lambda w, s: {"visitorId": w.victim.visitor_id, **s.session()},
    "auditLogs:list": lambda w, s: {"workspaceId": w.workspace_id},
    "auditLogs:getActions": lambda w, s: {"workspaceId": w.workspace_id},
    "auditLogs:getSettings": lambda w, s: {"workspaceId": w.workspace_id},
    "auditLogs:updateSettings": lambda w, s: {"workspaceId": w.workspace_id, "retentionDays": 30.0},
    "auditLogs:getAccess": lambda w, s: {"workspaceId": w.workspace_id},
    "automationSettings:get": lambda w, s: {"workspaceId": w.workspace_id},
    "automationSettings:getOrCreate": lambda w, s: {"workspaceId": w.workspace_id},
    "automationSettings:upsert": lambda w, s: {"workspaceId": w.workspace_id, "askForRatingEnabled": False},
    "discovery:getMetadata": lambda w, s: {},
    "emailChannel:getEmailConfig": lambda w, s: {"workspaceId": w.workspace_id},
    "emailChannel:upsertEmailConfig": lambda w, s: {"workspaceId": w.workspace_id, "fromEmail": "evil@evil.com"},
    "emailChannel:listEmailThreads": lambda w, s: {"conversationId": w.conversation},
    "emailChannel:sendEmailReply": lambda w, s: {"conversationId": w.conversation, "content": "injected"},
    **{
        path: lambda w, s: {"workspaceId": w.workspace_id}
        for path in (
            "messengerSettings:get",
            "messengerSettings:getOrCreate",
            "messengerSettings:getPublicSettings",
            "messengerSettings:generateLogoUploadUrl",
            "messengerSettings:deleteLogo",
            "messengerSettings:getHomeConfig",
            "messengerSettings:getPublicHomeConfig",
            "officeHours:get",
            "officeHours:getOrDefault",
            "officeHours:isCurrentlyOpen",
            "officeHours:getExpectedReplyTime",
            "commonIssueButtons:list",
            "commonIssueButtons:listAll",
            "ticketForms:list",
            "ticketForms:getDefault",
            "ticketForms:getDefaultForVisitor",
            "aiAgent:getPublicSettings",
        )
    },  # fmt: skip
    "messengerSettings:upsert": lambda w, s: {"workspaceId": w.workspace_id, "primaryColor": "#000000"},
    "messengerSettings:saveLogo": lambda w, s: {"workspaceId": w.workspace_id, "storageId": w.ids["upload"]},
    "messengerSettings:updateHomeConfig": lambda w, s: {
        "workspaceId": w.workspace_id,
        "homeConfig": {"enabled": False, "cards": [], "defaultSpace": "messages"},
    },
    "messengerSettings:toggleHomeEnabled": lambda w, s: {"workspaceId": w.workspace_id, "enabled": False},
    "messengerSettings:addHomeCard": lambda w, s: {
        "workspaceId": w.workspace_id,
        "card": {"id": "evil", "type": "welcome", "visibleTo": "all"},
    },
    "messengerSettings:removeHomeCard": lambda w, s: {"workspaceId": w.workspace_id, "cardId": "welcome-1"},
    "messengerSettings:reorderHomeCards": lambda w, s: {"workspaceId": w.workspace_id, "cardIds": ["search-1"]},
    "messengerSettings:updateHomeCard": lambda w, s: {
        "workspaceId": w.workspace_id,
        "cardId": "welcome-1",
        "updates": {"visibleTo": "users"},
    },
    "officeHours:upsert": lambda w, s: {"workspaceId": w.workspace_id, "timezone": "UTC"},
    "commonIssueButtons:get": lambda w, s: {"id": w.ids["button"]},
    "commonIssueButtons:create": lambda w, s: {
        "workspaceId": w.workspace_id,
        "label": "evil",
        "action": "start_conversation",
        "conversationStarter": "x",
        "enabled": True,
    },
    "commonIssueButtons:update": lambda w, s: {"id": w.ids["button"], "label": "evil"},
    "commonIssueButtons:remove": lambda w, s: {"id": w.ids["button"]},
    "commonIssueButtons:reorder": lambda w, s: {"workspaceId": w.workspace_id, "buttonIds": [w.ids["button"]]},
    "ticketForms:get": lambda w, s: {"id": w.ids["form"]},
    "ticketForms:create": lambda w, s: {"workspaceId": w.workspace_id, "name": "evil", "fields": []},
    "ticketForms:update": lambda w, s: {"id": w.ids["form"], "name": "evil"},
    "ticketForms:remove": lambda w, s: {"id": w.ids["form"]},
    "tickets:create": lambda w, s: {
        "workspaceId": w.workspace_id,
        "visitorId": w.victim.visitor_id,
        "subject": "injected",
        "attachmentIds": [w.ids["staged"]],
        **s.session(),
    },
    "tickets:get": lambda w, s: {"id": w.ids["ticket"], "visitorId": w.victim.visitor_id, **s.session()},
    "tickets:list": lambda w, s: {"workspaceId": w.workspace_id},
    "tickets:update": lambda w, s: {"id": w.ids["ticket"], "status": "resolved"},
    "tickets:resolve": lambda w, s: {"id": w.ids["ticket"], "resolutionSummary": "injected"},
    "tickets:convertFromConversation": lambda w, s: {"conversationId": w.conversation},
    "tickets:addComment": lambda w, s: {
        "ticketId": w.ids["ticket"],
        "visitorId": w.victim.visitor_id,
        "content": "injected",
        "attachmentIds": [w.ids["staged"]],
        **s.session(),
    },
    "tickets:listByVisitor": lambda w, s: {
        "workspaceId": w.workspace_id,
        "visitorId": w.victim.visitor_id,
        **s.session(),
    },
    "tickets:getComments": lambda w, s: {
        "ticketId": w.ids["ticket"],
        "includeInternal": True,
        "visitorId": w.victim.visitor_id,
        **s.session(),
    },
    "supportAttachments:generateUploadUrl": lambda w, s: {"workspaceId": w.workspace_id, **s.session()},
    "supportAttachments:finalizeUpload": lambda w, s: {
        "workspaceId": w.workspace_id,
        "storageId": w.ids["stagedStorage"],
        "fileName": "x.png",
        **s.session(),
    },
    "aiAgent:getConversationResponses": lambda w, s: {"conversationId": w.conversation, **s.session()},
    "aiAgent:submitFeedback": lambda w, s: {"responseId": w.ids["aiResponse"], "feedback": "helpful", **s.session()},
    "aiAgent:handoffToHuman": lambda w, s: {"conversationId": w.conversation, **s.session()},
    "reporting:getCsatEligibility": lambda w, s: {"conversationId": w.conversation, **s.session()},
    "reporting:submitCsatResponse": lambda w, s: {"conversationId": w.conversation, "rating": 1.0, **s.session()},
    "visitors:heartbeat": lambda w, s: {"visitorId": w.victim.visitor_id, **s.session()},
    "visitors:isOnline": lambda w, s: {"visitorId": w.victim.visitor_id},
    "workspaces:recordHostedOnboardingVerificationEvent": lambda w, s: {
        "workspaceId": w.workspace_id,
        "token": GUESSED_TOKEN,
        "origin": "https://evil.com",
    },
    "workspaces:updateHelpCenterAccessPolicy": lambda w, s: {"workspaceId": w.workspace_id, "policy": "restricted"},
    "articles:create": lambda w, s: {"workspaceId": w.workspace_id, "title": "matrix", "content": "x"},
    "articles:update": lambda w, s: {"id": w.article, "title": "matrix"},
    "articles:remove": lambda w, s: {"id": w.article},
    "articles:publish": lambda w, s: {"id": w.article},
    "articles:unpublish": lambda w, s: {"id": w.article},
    "articles:archive": lambda w, s: {"id": w.article},
    "articles:get": lambda w, s: {"id": w.article},
    "articles:list": lambda w, s: {"workspaceId": w.workspace_id},
    "articles:search": lambda w, s: {"workspaceId": w.workspace_id, "query": "roadmap"},
    "articles:submitFeedback": lambda w, s: {"articleId": w.article, "helpful": True, **s.session()},
    "articles:getFeedbackStats": lambda w, s: {"articleId": w.article},
    "articles:listForVisitor": lambda w, s: {"workspaceId": w.workspace_id, **s.session()},
    "articles:searchForVisitor": lambda w, s: {"workspaceId": w.workspace_id, "query": "roadmap", **s.session()},
    "articles:getForVisitor": lambda w, s: {"workspaceId": w.workspace_id, "id": w.article, **s.session()},
    "collections:create": lambda w, s: {"workspaceId": w.workspace_id, "name": "matrix"},
    "collections:update": lambda w, s: {"id": w.collection, "name": "matrix"},
    "collections:remove": lambda w, s: {"id": w.collection},
    "collections:reorder": lambda w, s: {"id": w.collection, "newOrder": 9.0},
    "collections:get": lambda w, s: {"id": w.collection},
    "collections:list": lambda w, s: {"workspaceId": w.workspace_id},
    "collections:listHierarchy": lambda w, s: {"workspaceId": w.workspace_id},
    "collections:listHierarchyForVisitor": lambda w, s: {"workspaceId": w.workspace_id, **s.session()},
    "suggestions:searchForWidget": lambda w, s: {
        "workspaceId": w.workspace_id,
        "visitorId": w.victim.visitor_id,
        "sessionToken": s.token or GUESSED_TOKEN,
        "query": "roadmap",
    },
    "suggestions:getForConversation": lambda w, s: {"conversationId": w.conversation},
    "suggestions:trackUsage": lambda w, s: {
        "workspaceId": w.workspace_id,
        "conversationId": w.conversation,
        "contentType": "article",
        "contentId": w.article,
    },
    "suggestions:trackDismissal": lambda w, s: {
        "workspaceId": w.workspace_id,
        "conversationId": w.conversation,
        "contentType": "article",
        "contentId": w.article,
    },
    "knowledge:searchWithEmbeddings": lambda w, s: {"workspaceId": w.workspace_id, "query": "roadmap"},
    "knowledge:getRecentlyUsed": lambda w, s: {"userId": w.owner.user_id, "workspaceId": w.workspace_id},
    "knowledge:trackAccess": lambda w, s: {
        "userId": w.owner.user_id,
        "workspaceId": w.workspace_id,
        "contentType": "article",
        "contentId": w.article,
    },
    "conversations:listForInbox": lambda w, s: {"workspaceId": w.workspace_id},
    "visitors:list": lambda w, s: {"workspaceId": w.workspace_id},
    "aiAgent:getSettings": lambda w, s: {"workspaceId": w.workspace_id},
    "auditLogs:exportLogs": lambda w, s: {"workspaceId": w.workspace_id},
    "tickets:listForAdminView": lambda w, s: {"workspaceId": w.workspace_id},
    "tickets:getForAdminView": lambda w, s: {"id": w.ids["ticket"]},
    "auditLogs:logExport": lambda w, s: {"workspaceId": w.workspace_id, "exportType": "auditLogs", "recordCount": 1.0},
    "aiAgent:updateSettings": lambda w, s: {"workspaceId": w.workspace_id, "enabled": True},
    "aiAgent:listAvailableModels": lambda w, s: {"workspaceId": w.workspace_id},
    "aiAgentActions:generateResponse": lambda w, s: {
        "workspaceId": w.workspace_id,
        "conversationId": w.conversation,
        "visitorId": w.victim.visitor_id,
        "query": "what did I order?",
        **s.session(),
    },
    **{
        f"reporting:{name}": lambda w, s: {"workspaceId": w.workspace_id, "startDate": 0.0, "endDate": 1e13}
        for name in (
            "getConversationMetrics", "getResponseTimeMetrics", "getResolutionTimeMetrics", "getAgentMetrics",
            "getCsatMetrics", "getCsatScore", "getCsatByAgent", "getAiAgentMetrics", "getDashboardSummary",
            "getAiVsHumanComparison", "getKnowledgeGaps",
        )
    },  # fmt: skip
    "reporting:getAgentWorkloadDistribution": lambda w, s: {"workspaceId": w.workspace_id},
    "contentFolders:create": lambda w, s: {"workspaceId": w.workspace_id, "name": "matrix"},
    "contentFolders:update": lambda w, s: {"id": w.folder, "name": "matrix"},
    "contentFolders:remove": lambda w, s: {"id": w.folder},
    "contentFolders:list": lambda w, s: {"workspaceId": w.workspace_id},
    "visitors:search": lambda w, s: {"workspaceId": w.workspace_id, "query": "Victim"},
    "visitors:listDirectory": lambda w, s: {"workspaceId": w.workspace_id},
    "visitors:getDirectoryDetail": lambda w, s: {"workspaceId": w.workspace_id, "visitorId": w.victim.visitor_id},
    "visitors:getMergeHistory": lambda w, s: {"workspaceId": w.workspace_id, "visitorId": w.victim.visitor_id},
    "workspaces:getHostedOnboardingState": lambda w, s: {"workspaceId": w.workspace_id},
    "workspaces:getHostedOnboardingIntegrationSignals": lambda w, s: {"workspaceId": w.workspace_id},
    "workspaces:startHostedOnboarding": lambda w, s: {"workspaceId": w.workspace_id},
    "workspaces:issueHostedOnboardingVerificationToken": lambda w, s: {"workspaceId": w.workspace_id},
    "workspaces:completeHostedOnboardingWidgetStep": lambda w, s: {"workspaceId": w.workspace_id},
    "workspaces:updateSignupSettings": lambda w, s: {"workspaceId": w.workspace_id, "signupMode": "domain-allowlist"},
    "workspaceMembers:listByWorkspace": lambda w, s: {"workspaceId": w.workspace_id},
    "workspaceMembers:listByUser": lambda w, s: {},
    "workspaceMembers:getWorkspacePendingInvitations": lambda w, s: {"workspaceId": w.workspace_id},
    "workspaceMembers:getPendingInvitations": lambda w, s: {},
    "workspaceMembers:inviteToWorkspace": lambda w, s: {
        "workspaceId": w.workspace_id,
        "email": "mallory@example.com",
        "role": "admin",
    },
    "workspaceMembers:acceptInvitation": lambda w, s: {"invitationId": w.invitation},
    "workspaceMembers:cancelInvitation": lambda w, s: {"invitationId": w.invitation},
    "workspaceMembers:updateRole": lambda w, s: {"membershipId": w.membership, "role": "viewer"},
    "workspaceMembers:remove": lambda w, s: {"membershipId": w.membership},
    "workspaceMembers:transferOwnership": lambda w, s: {
        "workspaceId": w.workspace_id,
        "newOwnerId": (s.agent or w.owner).user_id,
    },
    "workspaceMembers:getMemberRole": lambda w, s: {"workspaceId": w.workspace_id},
    "segments:list": lambda w, s: {"workspaceId": w.workspace_id},
    "segments:get": lambda w, s: {"id": w.ids["segment"]},
    "segments:create": lambda w, s: {"workspaceId": w.workspace_id, "name": "matrix", "audienceRules": EVERYONE},
    "segments:update": lambda w, s: {"id": w.ids["segment"], "audienceRules": EVERYONE},
    "segments:remove": lambda w, s: {"id": w.ids["segment"]},
    "segments:preview": lambda w, s: {"workspaceId": w.workspace_id, "audienceRules": EVERYONE},
    "segments:getUsage": lambda w, s: {"id": w.ids["segment"]},
    "emailTemplates:create": lambda w, s: {"workspaceId": w.workspace_id, "name": "m", "html": "<p>m</p>"},
    "emailTemplates:update": lambda w, s: {"id": w.ids["emailTemplate"], "name": "m"},
    "emailTemplates:remove": lambda w, s: {"id": w.ids["emailTemplate"]},
    "emailTemplates:list": lambda w, s: {"workspaceId": w.workspace_id},
    "emailTemplates:get": lambda w, s: {"id": w.ids["emailTemplate"]},
    "emailTemplates:extractVariables": lambda w, s: {"html": "{{user.name}}"},
    "emailTemplates:duplicate": lambda w, s: {"id": w.ids["emailTemplate"]},
    "emailCampaigns:create": lambda w, s: {"workspaceId": w.workspace_id, "name": "m", "subject": "m", "content": "m"},
    "emailCampaigns:update": lambda w, s: {"id": w.ids["draftCampaign"], "name": "m"},
    "emailCampaigns:send": lambda w, s: {"id": w.ids["draftCampaign"]},
    "emailCampaigns:pause": lambda w, s: {"id": w.ids["emailCampaign"]},
    "emailCampaigns:resume": lambda w, s: {"id": w.ids["emailCampaign"]},
    "emailCampaigns:remove": lambda w, s: {"id": w.ids["emailCampaign"]},
    "emailCampaigns:list": lambda w, s: {"workspaceId": w.workspace_id},
    "emailCampaigns:get": lambda w, s: {"id": w.ids["emailCampaign"]},
    "emailCampaigns:getStats": lambda w, s: {"id": w.ids["emailCampaign"]},
    "emailCampaigns:previewRecipients": lambda w, s: {"campaignId": w.ids["draftCampaign"]},
    "emailCampaigns:trackOpen": lambda w, s: {"token": GUESSED_CAMPAIGN_TOKEN},
    "emailCampaigns:trackClick": lambda w, s: {"recipientId": w.ids["campaignRecipient"], "trackingToken": GUESSED_CAMPAIGN_TOKEN, "url": "https://example.com/"},
    "emailCampaigns:handleUnsubscribe": lambda w, s: {"token": GUESSED_CAMPAIGN_TOKEN},
    "notificationSettings:getMyPreferences": lambda w, s: {"workspaceId": w.workspace_id},
    "notificationSettings:updateMyPreferences": lambda w, s: {"workspaceId": w.workspace_id, "muted": True},
    "notificationSettings:getWorkspaceDefaults": lambda w, s: {"workspaceId": w.workspace_id},
    "notificationSettings:updateWorkspaceDefaults": lambda w, s: {"workspaceId": w.workspace_id, "newVisitorMessagePush": False},
    "series:create": lambda w, s: {"workspaceId": w.workspace_id, "name": "m"},
    "series:update": lambda w, s: {"id": w.ids["series"], "name": "m"},
    "series:remove": lambda w, s: {"id": w.ids["series"]},
    "series:activate": lambda w, s: {"id": w.ids["series"]},
    "series:deactivate": lambda w, s: {"id": w.ids["series"]},
    "series:pause": lambda w, s: {"id": w.ids["series"]},
    "series:archive": lambda w, s: {"id": w.ids["series"]},
    "series:duplicate": lambda w, s: {"id": w.ids["series"]},
    "series:list": lambda w, s: {"workspaceId": w.workspace_id},
    "series:get": lambda w, s: {"id": w.ids["series"]},
    "series:getWithBlocks": lambda w, s: {"id": w.ids["series"]},
    "series:readiness": lambda w, s: {"id": w.ids["series"]},
    "series:getReadiness": lambda w, s: {"id": w.ids["series"]},
    "series:addBlock": lambda w, s: {"seriesId": w.ids["series"], "type": "chat", "position": {"x": 0.0, "y": 0.0}, "config": {}},
    "series:updateBlock": lambda w, s: {"id": w.ids["seriesBlock"], "config": {}},
    "series:removeBlock": lambda w, s: {"id": w.ids["seriesBlock"]},
    "series:addConnection": lambda w, s: {"seriesId": w.ids["series"], "fromBlockId": w.ids["seriesBlock"], "toBlockId": w.ids["seriesBlock"]},
    "series:removeConnection": lambda w, s: {"id": w.ids["seriesConnection"]},
    "series:getProgress": lambda w, s: {"seriesId": w.ids["series"], "visitorId": w.victim.visitor_id},
    "series:listProgress": lambda w, s: {"seriesId": w.ids["series"]},
    "series:getStats": lambda w, s: {"id": w.ids["series"]},
    "series:getTelemetry": lambda w, s: {"id": w.ids["series"]},
    "pushCampaigns:create": lambda w, s: {"workspaceId": w.workspace_id, "name": "m", "title": "m", "body": "m"},
    "pushCampaigns:update": lambda w, s: {"id": w.ids["pushCampaign"], "name": "m"},
    "pushCampaigns:send": lambda w, s: {"id": w.ids["pushCampaign"]},
    "pushCampaigns:pause": lambda w, s: {"id": w.ids["pushCampaign"]},
    "pushCampaigns:remove": lambda w, s: {"id": w.ids["pushCampaign"]},
    "pushCampaigns:list": lambda w, s: {"workspaceId": w.workspace_id},
    "pushCampaigns:get": lambda w, s: {"id": w.ids["pushCampaign"]},
    "pushCampaigns:getStats": lambda w, s: {"id": w.ids["pushCampaign"]},
    "visitorPushTokens:register": lambda w, s: {"visitorId": w.victim.visitor_id, "token": "mallory-device", "platform": "ios", **s.session()},
    "visitorPushTokens:unregister": lambda w, s: {"token": w.ids["visitorDeviceToken"], **s.session()},
    "visitorPushTokens:setNotificationsEnabled": lambda w, s: {"token": w.ids["visitorDeviceToken"], "enabled": False, **s.session()},
    "visitorPushTokens:getByVisitor": lambda w, s: {"visitorId": w.victim.visitor_id, **s.session()},
    "visitorPushTokens:getByWorkspace": lambda w, s: {"workspaceId": w.workspace_id},
    "visitorPushTokens:listForTargeting": lambda w, s: {"workspaceId": w.workspace_id, "visitorIds": [w.victim.visitor_id]},
    "visitorPushTokens:listWithVisitorInfo": lambda w, s: {"workspaceId": w.workspace_id},
    "visitorPushTokens:getStats": lambda w, s: {"workspaceId": w.workspace_id},
    "pushTokens:register": lambda w, s: {"token": "mallory-agent-device", "userId": w.owner.user_id, "platform": "ios"},
    "pushTokens:unregister": lambda w, s: {"token": w.ids["agentDeviceToken"]},
    "pushTokens:unregisterAllForCurrentUser": lambda w, s: {},
    "pushTokens:getByUser": lambda w, s: {"userId": w.owner.user_id},
    "pushTokens:setNotificationsEnabled": lambda w, s: {"token": w.ids["agentDeviceToken"], "enabled": False},
    "events:track": lambda w, s: {"workspaceId": w.workspace_id, "name": "x", "visitorId": w.victim.visitor_id, **s.session()},
    "events:trackAutoEvent": lambda w, s: {
        "workspaceId": w.workspace_id,
        "eventType": "page_view",
        "visitorId": w.victim.visitor_id,
        **s.session(),
    },
    "events:list": lambda w, s: {"visitorId": w.victim.visitor_id, "workspaceId": w.workspace_id, **s.session()},
    "events:count": lambda w, s: {"visitorId": w.victim.visitor_id, "name": "visited", **s.session()},
    "events:getDistinctNames": lambda w, s: {"workspaceId": w.workspace_id},
    "events:cleanupOldAutoEvents": lambda w, s: {"workspaceId": w.workspace_id, "ttlDays": 0.0},
    "tours:list": lambda w, s: {"workspaceId": w.workspace_id},
    "tours:get": lambda w, s: {"id": w.ids["tour"]},
    "tours:create": lambda w, s: {"workspaceId": w.workspace_id, "name": "matrix"},
    "tours:update": lambda w, s: {"id": w.ids["tour"], "name": "matrix"},
    "tours:remove": lambda w, s: {"id": w.ids["tour"]},
    "tours:activate": lambda w, s: {"id": w.ids["tour"]},
    "tours:deactivate": lambda w, s: {"id": w.ids["tour"]},
    "tours:duplicate": lambda w, s: {"id": w.ids["tour"]},
    "tours:listAll": lambda w, s: {"workspaceId": w.workspace_id, "visitorId": w.victim.visitor_id, **s.session()},
    "tours:previewAudienceRules": lambda w, s: {"workspaceId": w.workspace_id, "audienceRules": EVERYONE},
    "tourSteps:list": lambda w, s: {"tourId": w.ids["tour"]},
    "tourSteps:create": lambda w, s: {"tourId": w.ids["tour"], "type": "post", "content": "x"},
    "tourSteps:update": lambda w, s: {"id": w.ids["step"], "content": "x"},
    "tourSteps:remove": lambda w, s: {"id": w.ids["step"]},
    "tourSteps:reorder": lambda w, s: {"tourId": w.ids["tour"], "stepIds": [w.ids["step"]]},
    **{
        f"tourProgress:{name}": (
            lambda w, s, extra=extra: {
                "workspaceId": w.workspace_id,
                "tourId": w.ids["tour"],
                "visitorId": w.victim.visitor_id,
                **extra,
                **s.session(),
            }
        )
        for name, extra in (
            ("start", {"force": True}),
            ("advance", {}),
            ("skipStep", {"reason": "selector_missing"}),
            ("checkpoint", {}),
            ("complete", {}),
            ("dismiss", {}),
            ("snooze", {}),
            ("restart", {}),
            ("dismissPermanently", {}),
            ("listDiagnostics", {}),
        )
    },
    "tooltips:create": lambda w, s: {
        "workspaceId": w.workspace_id,
        "name": "matrix",
        "elementSelector": "#x",
        "content": "x",
        "triggerType": "hover",
    },
    "tooltips:update": lambda w, s: {"id": w.ids["tooltip"], "content": "x"},
    "tooltips:remove": lambda w, s: {"id": w.ids["tooltip"]},
    "tooltips:list": lambda w, s: {"workspaceId": w.workspace_id},
    "tooltips:get": lambda w, s: {"id": w.ids["tooltip"]},
    "tooltips:getAvailableTooltips": lambda w, s: {
        "workspaceId": w.workspace_id,
        "visitorId": w.victim.visitor_id,
        **s.session(),
    },
    "authoringSessions:create": lambda w, s: {"tourId": w.ids["tour"], "targetUrl": "https://evil.com/"},
    "authoringSessions:validate": lambda w, s: {"token": GUESSED_AUTHORING_TOKEN},
    "authoringSessions:updateStep": lambda w, s: {"token": GUESSED_AUTHORING_TOKEN, "stepId": w.ids["step"], "elementSelector": "#x"},
    "authoringSessions:setCurrentStep": lambda w, s: {"token": GUESSED_AUTHORING_TOKEN, "stepId": w.ids["step"]},
    "authoringSessions:end": lambda w, s: {"token": GUESSED_AUTHORING_TOKEN},
    **{
        f"tooltipAuthoringSessions:{name}": (
            lambda w, s, extra=extra: {"workspaceId": w.workspace_id, "token": GUESSED_AUTHORING_TOKEN, **extra}
        )
        for name, extra in (("validate", {}), ("updateSelector", {"elementSelector": "#x"}), ("end", {}), ("getByToken", {}))
    },
    "tooltipAuthoringSessions:create": lambda w, s: {"workspaceId": w.workspace_id, "tooltipId": w.ids["tooltip"]},
    "surveys:list": lambda w, s: {"workspaceId": w.workspace_id},
    "surveys:get": lambda w, s: {"id": w.ids["survey"]},
    "surveys:create": lambda w, s: {"workspaceId": w.workspace_id, "name": "matrix", "format": "small"},
    "surveys:update": lambda w, s: {"id": w.ids["survey"], "name": "matrix"},
    "surveys:remove": lambda w, s: {"id": w.ids["survey"]},
    "surveys:activate": lambda w, s: {"id": w.ids["survey"]},
    "surveys:pause": lambda w, s: {"id": w.ids["survey"]},
    "surveys:archive": lambda w, s: {"id": w.ids["survey"]},
    "surveys:duplicate": lambda w, s: {"id": w.ids["survey"]},
    "surveys:previewAudienceRules": lambda w, s: {"workspaceId": w.workspace_id, "audienceRules": EVERYONE},
    "surveys:getActiveSurveys": lambda w, s: {"workspaceId": w.workspace_id, "visitorId": w.victim.visitor_id, **s.session()},
    "surveys:recordImpression": lambda w, s: {
        "surveyId": w.ids["survey"],
        "visitorId": w.victim.visitor_id,
        "action": "dismissed",
        **s.session(),
    },
    "surveys:submitResponse": lambda w, s: {
        "surveyId": w.ids["survey"],
        "visitorId": w.victim.visitor_id,
        "answers": [{"questionId": "q", "value": 0.0}],
        "isComplete": True,
        **s.session(),
    },
    "surveys:listResponses": lambda w, s: {"surveyId": w.ids["survey"]},
    "surveys:exportResponsesCsv": lambda w, s: {"surveyId": w.ids["survey"]},
    "surveys:getAnalytics": lambda w, s: {"surveyId": w.ids["survey"]},
    "checklists:create": lambda w, s: {"workspaceId": w.workspace_id, "name": "matrix", "tasks": []},
    "checklists:update": lambda w, s: {"id": w.ids["checklist"], "status": "archived"},
    "checklists:remove": lambda w, s: {"id": w.ids["checklist"]},
    "checklists:list": lambda w, s: {"workspaceId": w.workspace_id},
    "checklists:get": lambda w, s: {"id": w.ids["checklist"]},
    **{
        f"checklists:{name}": (
            lambda w, s, extra=extra: {
                "workspaceId": w.workspace_id,
                "visitorId": w.victim.visitor_id,
                **extra(w),
                **s.session(),
            }
        )
        for name, extra in (
            ("getProgress", lambda w: {"checklistId": w.ids["checklist"]}),
            ("getAllProgress", lambda w: {}),
            ("getEligible", lambda w: {}),
            ("completeTask", lambda w: {"checklistId": w.ids["checklist"], "taskId": "rest"}),
            ("uncompleteTask", lambda w: {"checklistId": w.ids["checklist"], "taskId": "done"}),
        )
    },
    "outboundMessages:create": lambda w, s: {
        "workspaceId": w.workspace_id,
        "type": "banner",
        "name": "matrix",
        "content": {"text": "x"},
    },
    "outboundMessages:update": lambda w, s: {"id": w.ids["outbound"], "name": "matrix"},
    "outboundMessages:remove": lambda w, s: {"id": w.ids["outbound"]},
    "outboundMessages:activate": lambda w, s: {"id": w.ids["outbound"]},
    "outboundMessages:pause": lambda w, s: {"id": w.ids["outbound"]},
    "outboundMessages:archive": lambda w, s: {"id": w.ids["outbound"]},
    "outboundMessages:list": lambda w, s: {"workspaceId": w.workspace_id},
    "outboundMessages:get": lambda w, s: {"id": w.ids["outbound"]},
    "outboundMessages:getStats": lambda w, s: {"id": w.ids["outbound"]},
    "outboundMessages:getEligible": lambda w, s: {
        "workspaceId": w.workspace_id,
        "currentUrl": "https://victim.test/",
        "visitorId": w.victim.visitor_id,
        **s.session(),
    },
    "outboundMessages:trackImpression": lambda w, s: {
        "messageId": w.ids["outbound"],
        "action": "dismissed",
        "visitorId": w.victim.visitor_id,
        **s.session(),
    },
    "tourProgress:getActive": lambda w, s: {"workspaceId": w.workspace_id, "visitorId": w.victim.visitor_id, **s.session()},
    "tourProgress:getAvailableTours": lambda w, s: {
        "workspaceId": w.workspace_id,
        "visitorId": w.victim.visitor_id,
        **s.session(),
    },
    "carousels:create": lambda w, s: {"workspaceId": w.workspace_id, "name": "matrix", "screens": [{"id": "a", "title": "x"}]},
    "carousels:update": lambda w, s: {"id": w.ids["carousel"], "name": "matrix"},
    **{
        f"carousels:{name}": lambda w, s: {"id": w.ids["carousel"]}
        for name in ("get", "getStats", "duplicate", "activate", "pause", "archive", "remove")
    },
    "carousels:list": lambda w, s: {"workspaceId": w.workspace_id},
    "carousels:listActive": lambda w, s: {"workspaceId": w.workspace_id, "visitorId": w.victim.visitor_id, **s.session()},
    "carousels:recordImpression": lambda w, s: {
        "carouselId": w.ids["carousel"],
        "action": "dismissed",
        "visitorId": w.victim.visitor_id,
        **s.session(),
    },
    "articles:generateAssetUploadUrl": lambda w, s: {"workspaceId": w.workspace_id},
    "articles:saveAsset": lambda w, s: {"workspaceId": w.workspace_id, "storageId": w.ids["spareUpload"], "fileName": "x.png"},
    "articles:listAssets": lambda w, s: {"workspaceId": w.workspace_id},
    "articles:deleteAsset": lambda w, s: {"workspaceId": w.workspace_id, "assetId": w.ids["asset"]},
    "embeddings:backfillExisting": lambda w, s: {"workspaceId": w.workspace_id},
    "helpCenterImports:listSources": lambda w, s: {"workspaceId": w.workspace_id},
    "helpCenterImports:listHistory": lambda w, s: {"workspaceId": w.workspace_id},
    "helpCenterImports:syncMarkdownFolder": lambda w, s: {
        "workspaceId": w.workspace_id,
        "sourceName": "Victim docs",
        "files": [{"relativePath": "hijack.md", "content": "# Hijacked"}],
    },
    "helpCenterImports:restoreRun": lambda w, s: {
        "workspaceId": w.workspace_id,
        "sourceId": w.ids["importSource"],
        "importRunId": w.ids["importRun"],
    },
    "helpCenterImports:exportMarkdown": lambda w, s: {"workspaceId": w.workspace_id},
}

Allowed = Callable[[Any, World, Stranger], bool]
PUBLIC_MESSENGER = {"primaryColor", "backgroundColor", "themeMode", "launcherPosition", "welcomeMessage", "logo"}
ALLOWED: dict[str, Allowed] = {
    "pushTokens:unregister": lambda r, w, s: r == {"success": True},  # Opencom's answer; nothing deleted
    "pushTokens:unregisterAllForCurrentUser": lambda r, w, s: r == {"success": True, "removed": 0},
    "visitorPushTokens:getStats": lambda r, w, s: r == {"total": 0, "ios": 0, "android": 0, "uniqueVisitors": 0},
    "emailTemplates:extractVariables": lambda r, w, s: r == ["user.name"],  # a pure function of its argument
    # Public by design: what anyone may learn about a workspace.
    "workspaces:get": lambda r, w, s: set(r) <= {"_id", "_creationTime", "name", "createdAt"},
    "workspaces:getPublicWorkspaceContext": lambda r, w, s: set(r) == {"_id", "name", "helpCenterAccessPolicy"},
    "workspaces:validateOrigin": lambda r, w, s: set(r) == {"valid", "reason"},
    "workspaces:create": lambda r, w, s: r == w.workspace_id,  # the existing id, nothing created
    "workspaces:getOrCreateDefault": lambda r, w, s: r["_id"] != w.workspace_id,  # the caller's own workspace
    "identityVerification:isRequired": lambda r, w, s: set(r) == {"enabled", "required"},
    "discovery:getMetadata": lambda r, w, s: set(r) <= {"version", "name", "features", "signupMode", "authMethods"},
    "auditLogs:getAccess": lambda r, w, s: not (r["canRead"] or r["canExport"] or r["canManageSecurity"]),
    "widgetSessions:revoke": lambda r, w, s: r == {"success": True},
    "automationSettings:getOrCreate": lambda r, w, s: (
        set(r)
        == {
            "suggestArticlesEnabled",
            "showReplyTimeEnabled",
            "collectEmailEnabled",
            "askForRatingEnabled",
        }
    ),  # fmt: skip
    "messengerSettings:getPublicSettings": lambda r, w, s: PUBLIC_MESSENGER <= set(r),
    "messengerSettings:getPublicHomeConfig": lambda r, w, s: set(r) >= {"enabled", "cards", "tabs", "defaultSpace"},
    "messengerSettings:getHomeConfig": lambda r, w, s: r["cards"][0]["id"] == "welcome-1",  # the default home
    "officeHours:get": lambda r, w, s: set(r) >= {"timezone", "schedule"},
    "officeHours:getOrDefault": lambda r, w, s: set(r) >= {"timezone", "schedule"},
    "officeHours:isCurrentlyOpen": lambda r, w, s: set(r) == {"isOpen", "offlineMessage", "expectedReplyTimeMinutes"},
    "officeHours:getExpectedReplyTime": lambda r, w, s: isinstance(r, str),
    "commonIssueButtons:list": lambda r, w, s: all(set(b) >= {"label", "action"} for b in r),
    "ticketForms:getDefaultForVisitor": lambda r, w, s: set(r) >= {"fields"},
    "aiAgent:getPublicSettings": lambda r, w, s: "enabled" in r,
    "workspaces:recordHostedOnboardingVerificationEvent": lambda r, w, s: r["accepted"] is False,
    "tours:previewAudienceRules": lambda r, w, s: r == {"total": 0.0, "matching": 0.0},
    "surveys:previewAudienceRules": lambda r, w, s: r == {"total": 0.0, "matching": 0.0},
    "authoringSessions:validate": lambda r, w, s: r == {"valid": False, "reason": "Session not found"},
    "tooltipAuthoringSessions:validate": lambda r, w, s: r == {"valid": False, "reason": "Session not found"},
    "authoringSessions:end": lambda r, w, s: r == {"success": True},
    # Self-service: the caller's own visitor, session and conversations.
    "widgetSessions:boot": lambda r, w, s: r["visitor"]["_id"] != w.victim.visitor_id,
    "widgetSessions:validateSessionToken": lambda r, w, s: not r["valid"] or r["visitorId"] == s.visitor.visitor_id,
    "conversations:createForVisitor": lambda r, w, s: r["visitorId"] == s.visitor.visitor_id,
    "conversations:getOrCreateForVisitor": lambda r, w, s: r["visitorId"] == s.visitor.visitor_id,
    "conversations:listByVisitor": lambda r, w, s: all(row["visitorId"] == s.visitor.visitor_id for row in r),
    "conversations:getTotalUnreadForVisitor": lambda r, w, s: isinstance(r, float),
    "tickets:listByVisitor": lambda r, w, s: all(row["visitorId"] == s.visitor.visitor_id for row in r),
    "supportAttachments:generateUploadUrl": lambda r, w, s: isinstance(r, str),  # an upload slot, no data
    # The public help center: collections are public while the policy is; drafts never are.
    "collections:get": lambda r, w, s: r["_id"] == w.collection,
    "articles:getFeedbackStats": lambda r, w, s: r == {"helpful": 0, "notHelpful": 0, "total": 0},
    # The caller's own workspaces (another workspace's agent sees only its own).
    "conversations:listForInbox": lambda r, w, s: r == {"conversations": [], "nextCursor": None},
    "aiAgent:getSettings": lambda r, w, s: "_id" not in r and r["enabled"] is False,  # the defaults only
    "tickets:listForAdminView": lambda r, w, s: r["status"] != "ok" and r["tickets"] == [],
    "tickets:getForAdminView": lambda r, w, s: r["status"] != "ok" and r["ticket"] is None,
    # The visitor directory says why it is empty.
    "visitors:listDirectory": lambda r, w, s: r["status"] != "ok" and r["visitors"] == [],
    "visitors:getDirectoryDetail": lambda r, w, s: r["status"] != "ok" and r["visitor"] is None,
    "visitors:getMergeHistory": lambda r, w, s: r["status"] != "ok" and r["entries"] == [],
    "workspaceMembers:listByUser": lambda r, w, s: all(row["_id"] != w.workspace_id for row in r),
}
SELF_SERVICE = {  # calls that legitimately insert the caller's own documents
    "widgetSessions:boot": set(STRANGERS),
    "conversations:createForVisitor": {"other visitor of the workspace"},
    "conversations:getOrCreateForVisitor": {"other visitor of the workspace"},
}


def _public_functions() -> list[str]:
    app = load_app(APP_ROOT)
    return sorted(path for path, fn in app.functions.items() if not fn.is_internal and path.split(":")[0] in MODULES)


PUBLIC_FUNCTIONS = _public_functions()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    backend = await open_backend(tmp_path_factory.mktemp("matrix") / "data")
    team = await backend.seed_team("Victim Co")
    ws = {"workspaceId": team.workspace_id}
    secret = (await backend.call("identityVerification:enable", ws, as_=team.admin))["secret"]
    snippet = await backend.call(
        "snippets:create", {**ws, "name": "Greeting", "content": "Hello there", "shortcut": "hi"}, as_=team.admin
    )
    tag = await backend.call("tags:create", {**ws, "name": "VIP"}, as_=team.admin)
    collection = await backend.call("collections:create", {**ws, "name": "Guides"}, as_=team.admin)
    article = await backend.call(
        "articles:create",
        {**ws, "title": "Secret roadmap", "content": "unannounced plans", "collectionId": collection},
        as_=team.admin,
    )
    victim = await backend.boot(
        team.workspace_id, sessionId="victim-browser", email="victim@example.com", name="Victim"
    )
    conversation = await backend.visitor_conversation(victim)
    sent = {
        "conversationId": conversation,
        "sessionToken": victim.token,
        "senderType": "visitor",
        "senderId": victim.visitor_id,
    }
    message = await backend.call("messages:send", {**sent, "content": "my secret order"})
    reply = {"conversationId": conversation, "content": "on it", "senderType": "agent", "senderId": team.admin.user_id}
    await backend.call("messages:send", reply, as_=team.admin)
    await backend.call("tags:addToConversation", {"conversationId": conversation, "tagId": tag}, as_=team.admin)
    automation = await backend.call("automationSettings:upsert", {**ws, "askForRatingEnabled": True}, as_=team.admin)
    await backend.call("auditLogs:updateSettings", {**ws, "retentionDays": 365.0}, as_=team.admin)
    invite = {**ws, "email": "pending@example.com", "role": "agent"}
    await backend.call("workspaceMembers:inviteToWorkspace", invite, as_=team.admin)
    [invitation] = [row["_id"] for row in (await backend.dump())["workspaceInvitations"]]
    teammate = await backend.add_member(team, "agent")
    membership = next(
        row["_id"] for row in (await backend.dump())["workspaceMembers"]
        if row["userId"] == teammate.user_id and row["workspaceId"] == team.workspace_id
    )
    ids = {
        **await _support_records(backend, team.workspace_id, team.admin, victim, conversation),
        **await _engagement_records(backend, team.workspace_id, team.admin, victim),
        **await _campaign_records(backend, team.workspace_id, team.admin, victim),
        **await _dashboard_records(backend, team.workspace_id, team.admin, victim),
    }
    folder = await backend.call("contentFolders:create", {**ws, "name": "Private"}, as_=team.admin)
    other_visitor = await backend.boot(team.workspace_id, sessionId="neighbour-browser")
    elsewhere = await backend.seed_team("Other Co")
    foreign_visitor = await backend.boot(elsewhere.workspace_id, sessionId="foreign-browser")
    strangers = {
        "anonymous": Stranger("anonymous"),
        "visitor of another workspace": Stranger("visitor of another workspace", visitor=foreign_visitor),
        "other visitor of the workspace": Stranger("other visitor of the workspace", visitor=other_visitor),
        "agent of another workspace": Stranger("agent of another workspace", agent=elsewhere.admin),
    }
    markers = (
        victim.visitor_id,
        victim.token,
        secret,
        conversation,
        message,
        tag,
        snippet,
        automation,
        "my secret order",
        *(ids[name] for name in PRIVATE_SUPPORT_RECORDS),
        *(ids[name] for name in PRIVATE_ENGAGEMENT_RECORDS),
        *(ids[name] for name in PRIVATE_CAMPAIGN_RECORDS),
        *(ids[name] for name in PRIVATE_DASHBOARD_RECORDS),
        "my secret ticket",
        article,
        "unannounced plans",
    )
    yield World(
        backend,
        team.workspace_id,
        "Victim Co",
        team.admin,
        victim,
        conversation,
        tag,
        snippet,
        "hi",
        article,
        collection,
        invitation,
        membership,
        folder,
        strangers,
        markers,
        ids,
    )
    await backend.close()


PRIVATE_SUPPORT_RECORDS = ("upload", "stagedStorage", "staged", "ticket", "aiResponse")  # the rest is public


async def _support_records(backend: Backend, workspace_id: str, owner: Person, victim: Visitor, conversation: str):
    """The victim's ticket (with a comment), a staged upload, an AI answer, and the workspace's settings rows."""
    ws = {"workspaceId": workspace_id}
    storage = backend.executor.file_storage
    staged_storage = await storage.store(b"victim file", "image/png")
    staged = await backend.call(
        "supportAttachments:finalizeUpload",
        {**ws, "sessionToken": victim.token, "storageId": staged_storage, "fileName": "victim.png"},
    )
    ticket = await backend.call("tickets:create", {**ws, "sessionToken": victim.token, "subject": "my secret ticket"})
    await backend.call("tickets:addComment", {"ticketId": ticket, "sessionToken": victim.token, "content": "more"})
    form = await backend.call("ticketForms:create", {**ws, "name": "Support", "fields": []}, as_=owner)
    button = await backend.call(
        "commonIssueButtons:create",
        {**ws, "label": "Billing", "action": "start_conversation", "conversationStarter": "Hi", "enabled": True},
        as_=owner,
    )
    await backend.call("messengerSettings:upsert", {**ws, "primaryColor": "#112233"}, as_=owner)
    await backend.call("officeHours:upsert", {**ws, "timezone": "Europe/Paris"}, as_=owner)
    ai_response = await backend.insert(
        "aiResponses",
        {
            "conversationId": conversation,
            "query": "q",
            "response": "a",
            "sources": [],
            "confidence": 0.9,
            "handedOff": False,
            "generationTimeMs": 1.0,
            "model": "m",
            "provider": "p",
            "createdAt": 1.0,
        },
    )
    return {
        "upload": await storage.store(b"unclaimed", "image/png"),
        "stagedStorage": staged_storage,
        "staged": staged["attachmentId"],
        "ticket": ticket,
        "form": form,
        "button": button,
        "aiResponse": ai_response,
    }


async def test_every_public_function_has_args():
    assert PUBLIC_FUNCTIONS, "no public functions found"
    missing = sorted(set(PUBLIC_FUNCTIONS) - ARGS.keys())
    assert not missing, f"add an args builder to ARGS for: {missing}"
    assert not ARGS.keys() - set(PUBLIC_FUNCTIONS), "ARGS names functions that no longer exist"


def _diff(before: dict[str, list[dict]], after: dict[str, list[dict]]) -> tuple[list[dict], list[str]]:
    """(inserted documents, ids of changed or deleted documents)."""
    old = {doc["_id"]: doc for docs in before.values() for doc in docs}
    new = {doc["_id"]: doc for docs in after.values() for doc in docs}
    inserted = [doc for doc_id, doc in new.items() if doc_id not in old]
    changed = [doc_id for doc_id, doc in old.items() if new.get(doc_id) != doc]
    return inserted, changed


def _mentions(value: Any, markers: tuple[str, ...]) -> list[str]:
    text = json.dumps(value, default=str)
    return [marker for marker in markers if marker in text]


def _is_empty(value: Any) -> bool:
    return value in (None, [], 0.0, False) or value == {}


@pytest.mark.parametrize("stranger", STRANGERS)
@pytest.mark.parametrize("path", [path for path in PUBLIC_FUNCTIONS if path in ARGS])
async def test_strangers_get_nothing(world: World, path: str, stranger: str):
    caller = world.strangers[stranger]
    before = await world.backend.dump()
    result = await world.backend.run(path, ARGS[path](world, caller), as_=caller.agent)
    inserted, changed = _diff(before, await world.backend.dump())

    assert not changed, f"{path} changed existing documents {changed}"
    if stranger not in SELF_SERVICE.get(path, ()):
        assert not inserted, f"{path} wrote {inserted}"
    assert not _mentions(inserted, world.markers), f"{path} copied victim data into {inserted}"
    if result.error is not None:
        assert isinstance(result.error, ConvexError), f"{path} failed instead of refusing: {result.error!r}"
        assert result.error.data["code"] in REFUSALS, result.error.data
        return
    assert not _mentions(result.value, world.markers), f"{path} leaked victim data: {result.value!r}"
    allowed = ALLOWED.get(path)
    assert _is_empty(result.value) or (allowed is not None and allowed(result.value, world, caller)), (
        f"{path} answered {result.value!r} to {stranger}"
    )


# --- takeover paths, in every identity-verification mode -------------------------------------------
MODES = ("off", "optional", "required")
VICTIM_EMAIL = "victim@example.com"
CODE_ONLY_EMAIL = "code-only@example.com"  # a user created by merely requesting an emailed code


@dataclass
class TakeoverWorld:
    """A victim visitor (with a conversation) and agent in one workspace, and the strangers trying to be them."""

    backend: Backend
    workspace_id: str
    owner: Person
    victim: Visitor
    strangers: dict[str, Stranger]
    markers: tuple[str, ...]


TAKEOVERS: dict[str, Callable[[TakeoverWorld, Stranger, str], tuple[str, dict[str, Any]]]] = {
    "boot with the victim's visitor id": lambda w, s, n: (
        "widgetSessions:boot",
        {"workspaceId": w.workspace_id, "sessionId": n, "existingVisitorId": w.victim.visitor_id},
    ),
    "boot with the victim's email": lambda w, s, n: (
        "widgetSessions:boot",
        {"workspaceId": w.workspace_id, "sessionId": n, "email": VICTIM_EMAIL},
    ),
    "identify with the victim's email": lambda w, s, n: (
        "visitors:identify",
        {"visitorId": (s.visitor or w.victim).visitor_id, "email": VICTIM_EMAIL, **s.session()},
    ),
    "sign up on the victim agent's email": lambda w, s, n: (
        "auth:signIn",
        {"provider": "password", "params": {"flow": "signUp", "email": w.owner.email, "password": "taken over"}},
    ),
    "sign up on an email that only requested a code": lambda w, s, n: (
        "auth:signIn",
        {"provider": "password", "params": {"flow": "signUp", "email": CODE_ONLY_EMAIL, "password": "taken over"}},
    ),
}
ACCOUNT_TAKEN = {"code": "AccountAlreadyExists", "message": "An account with this email already exists"}


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=MODES)
async def takeover_world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[TakeoverWorld]:
    """The victims in a workspace whose identity verification is ``request.param``."""
    backend = await open_backend(tmp_path_factory.mktemp(f"takeover-{request.param}") / "data")
    team = await backend.seed_team("Victim Co")
    if request.param != "off":
        mode = {"workspaceId": team.workspace_id, "mode": request.param}
        await backend.call("identityVerification:enable", mode, as_=team.admin)
    victim = await backend.boot(team.workspace_id, sessionId="victim-browser", email=VICTIM_EMAIL)
    conversation = await backend.visitor_conversation(victim)
    sent = {"conversationId": conversation, "sessionToken": victim.token, "senderType": "visitor"}
    await backend.call("messages:send", {**sent, "senderId": victim.visitor_id, "content": "my secret order"})
    code_request = {"provider": "resend-otp", "params": {"email": CODE_ONLY_EMAIL}}
    assert await backend.call("auth:signIn", code_request) == {"started": True}
    elsewhere = await backend.seed_team("Other Co")
    strangers = {
        "anonymous": Stranger("anonymous"),
        "visitor of another workspace": Stranger(
            "visitor of another workspace", visitor=await backend.boot(elsewhere.workspace_id)
        ),
        "other visitor of the workspace": Stranger(
            "other visitor of the workspace", visitor=await backend.boot(team.workspace_id)
        ),
        "agent of another workspace": Stranger("agent of another workspace", agent=elsewhere.admin),
    }
    markers = (victim.visitor_id, victim.token, conversation, "my secret order", team.admin.user_id)
    yield TakeoverWorld(backend, team.workspace_id, team.admin, victim, strangers, markers)
    await backend.close()


@pytest.mark.parametrize("stranger", STRANGERS)
@pytest.mark.parametrize("takeover", TAKEOVERS)
async def test_takeover_paths_hand_over_nothing(takeover_world: TakeoverWorld, takeover: str, stranger: str):
    world, caller = takeover_world, takeover_world.strangers[stranger]
    path, args = TAKEOVERS[takeover](world, caller, f"takeover {takeover} {stranger}")
    before = await world.backend.dump()
    result = await world.backend.run(path, args, as_=caller.agent)
    inserted, changed = _diff(before, await world.backend.dump())

    own = {caller.visitor.visitor_id} if caller.visitor else set()
    assert set(changed) <= own, f"{takeover} changed {set(changed) - own}"
    assert not _mentions(inserted, world.markers), f"{takeover} copied victim data into {inserted}"
    if path == "auth:signIn":
        assert isinstance(result.error, ConvexError) and result.error.data == ACCOUNT_TAKEN, result
        assert not inserted and not changed
        return
    if result.error is not None:
        assert isinstance(result.error, ConvexError), f"{takeover} failed instead of refusing: {result.error!r}"
        assert result.error.data["code"] in REFUSALS, result.error.data
        assert not inserted and not changed
        return
    assert not _mentions(result.value, world.markers), f"{takeover} leaked victim data: {result.value!r}"
    visitor = result.value["visitor"] if path == "widgetSessions:boot" else result.value
    assert visitor["_id"] != world.victim.visitor_id


PRIVATE_ENGAGEMENT_RECORDS = ("segment", "step", "progress", "tooltip", "response", "ticked", "impression")


async def _engagement_records(backend: Backend, workspace_id: str, owner: Person, victim: Visitor) -> dict[str, str]:
    """A segment targeting a tour, a tooltip; a survey, a checklist and an outbound message the victim used."""
    ws = {"workspaceId": workspace_id}
    segment = await backend.call("segments:create", {**ws, "name": "Victims", "audienceRules": EVERYONE}, as_=owner)
    audience = {"segmentId": segment}
    tour = await backend.call("tours:create", {**ws, "name": "Tour", "audienceRules": audience}, as_=owner)
    step = await backend.call("tourSteps:create", {"tourId": tour, "type": "post", "content": "hi"}, as_=owner)
    await backend.call("tours:activate", {"id": tour}, as_=owner)
    progress = await backend.call("tourProgress:start", {**ws, "tourId": tour, "sessionToken": victim.token})
    hint = {"name": "Hint", "elementSelector": "#buy", "content": "hint", "triggerType": "hover", "audienceRules": audience}
    tooltip = await backend.call("tooltips:create", {**ws, **hint}, as_=owner)
    question = {"id": "q", "type": "nps", "title": "Score?", "required": True}
    survey_args = {**ws, "name": "NPS", "format": "small", "questions": [question]}
    survey = await backend.call("surveys:create", survey_args, as_=owner)
    await backend.call("surveys:activate", {"id": survey}, as_=owner)
    answer = {"answers": [{"questionId": "q", "value": 3.0}], "isComplete": True}
    response = await backend.call("surveys:submitResponse", {"surveyId": survey, "sessionToken": victim.token, **answer})
    tasks = [{"id": task_id, "title": task_id, "completionType": "manual"} for task_id in ("done", "rest")]
    checklist = await backend.call("checklists:create", {**ws, "name": "Start", "tasks": tasks}, as_=owner)
    await backend.call("checklists:update", {"id": checklist, "status": "active"}, as_=owner)
    ticked = await backend.call(
        "checklists:completeTask", {**ws, "checklistId": checklist, "taskId": "done", "sessionToken": victim.token}
    )
    message_args = {**ws, "type": "post", "name": "Promo", "content": {"body": "Sale"}, "frequency": "once"}
    outbound = await backend.call("outboundMessages:create", message_args, as_=owner)
    await backend.call("outboundMessages:activate", {"id": outbound}, as_=owner)
    shown = {"messageId": outbound, "sessionToken": victim.token, "action": "shown"}
    impression = await backend.call("outboundMessages:trackImpression", shown)
    await backend.call("events:trackAutoEvent", {**ws, "sessionToken": victim.token, "eventType": "page_view"})
    await backend.call("events:track", {**ws, "sessionToken": victim.token, "name": "visited"})
    return {
        "segment": segment,
        "tour": tour,
        "step": step,
        "progress": progress,
        "tooltip": tooltip,
        "survey": survey,
        "response": response,
        "checklist": checklist,
        "ticked": ticked["_id"],
        "outbound": outbound,
        "impression": impression,
    }

PRIVATE_CAMPAIGN_RECORDS = (
    "emailTemplate", "emailCampaign", "draftCampaign", "campaignRecipient", "trackingToken",
    "pushCampaign", "visitorDeviceToken", "agentDeviceToken", "series", "seriesBlock", "seriesConnection", "seriesProgress",
)  # fmt: skip


async def _campaign_records(backend: Backend, workspace_id: str, owner: Person, victim: Visitor) -> dict[str, str]:
    """A template, a draft campaign and a campaign sent to the victim (its recipient row and tracking token)."""
    ws = {"workspaceId": workspace_id}
    await backend.patch(victim.visitor_id, {"email": "victim-campaign@example.com"})
    template = await backend.call("emailTemplates:create", {**ws, "name": "Base", "html": "{{content}}"}, as_=owner)
    draft = await backend.call("emailCampaigns:create", {**ws, "name": "Draft", "subject": "s", "content": "c"}, as_=owner)
    sent = await backend.call("emailCampaigns:create", {**ws, "name": "Sent", "subject": "s", "content": "c"}, as_=owner)
    await backend.call("emailCampaigns:send", {"id": sent}, as_=owner)
    for _ in range(10):
        campaign = await backend.get(sent)
        if campaign["status"] == "sent":
            break
        await backend.internal("emailCampaigns:sendStep", {"campaignId": sent, "run": campaign["sendRun"]})
    [recipient] = [r for r in (await backend.dump())["emailCampaignRecipients"] if r["campaignId"] == sent]
    push = await backend.call("pushCampaigns:create", {**ws, "name": "Push", "title": "t", "body": "b"}, as_=owner)
    device = {"visitorId": victim.visitor_id, "token": "victim-device-token", "platform": "ios", "sessionToken": victim.token}
    await backend.call("visitorPushTokens:register", device)
    agent_device = {"token": "owner-device-token", "userId": owner.user_id, "platform": "android"}
    await backend.call("pushTokens:register", agent_device, as_=owner)
    series = await backend.call("series:create", {**ws, "name": "Journey"}, as_=owner)
    block = {"seriesId": series, "type": "chat", "position": {"x": 0.0, "y": 0.0}, "config": {"body": "hi"}}
    first = await backend.call("series:addBlock", block, as_=owner)
    second = await backend.call("series:addBlock", block, as_=owner)
    connection = await backend.call("series:addConnection", {"seriesId": series, "fromBlockId": first, "toBlockId": second}, as_=owner)
    await backend.call("series:activate", {"id": series}, as_=owner)
    entered = await backend.internal("series:evaluateEntry", {"seriesId": series, "visitorId": victim.visitor_id})
    return {
        "series": series,
        "seriesBlock": first,
        "seriesConnection": connection,
        "seriesProgress": entered["progressId"],
        "pushCampaign": push,
        "visitorDeviceToken": "victim-device-token",
        "agentDeviceToken": "owner-device-token",
        "emailTemplate": template,
        "draftCampaign": draft,
        "emailCampaign": sent,
        "campaignRecipient": recipient["_id"],
        "trackingToken": recipient["trackingToken"],
    }


# The import source's id is not among them: published imported articles carry it, as collection ids.
PRIVATE_DASHBOARD_RECORDS = ("carousel", "carouselImpression", "asset", "importedSecret")


async def _dashboard_records(backend: Backend, workspace_id: str, owner: Person, victim: Visitor) -> dict[str, str]:
    """An active carousel the victim saw, an article image, and a Markdown import run that removed an article."""
    ws = {"workspaceId": workspace_id}
    carousel = await backend.call("carousels:create", {**ws, "name": "Tour", "screens": [{"id": "a", "title": "Hi"}]}, as_=owner)
    await backend.call("carousels:activate", {"id": carousel}, as_=owner)
    impression = await backend.call("carousels:recordImpression", {"carouselId": carousel, "sessionToken": victim.token, "action": "shown"})
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 16
    saved = await backend.call("articles:saveAsset", {**ws, "storageId": await backend.executor.file_storage.store(png, "image/png")}, as_=owner)
    spare = await backend.executor.file_storage.store(png, "image/png")
    files = [{"relativePath": "plans.md", "content": "# Internal plans"}, {"relativePath": "intro.md", "content": "# Intro"}]
    handbook = {**ws, "sourceName": "Handbook", "publishByDefault": False}  # drafts: nothing public to read
    imported = await backend.call("helpCenterImports:syncMarkdownFolder", {**handbook, "files": files}, as_=owner)
    secret = next(a["_id"] for a in (await backend.dump())["articles"] if a["title"] == "Internal plans")
    run = await backend.call("helpCenterImports:syncMarkdownFolder", {**handbook, "files": files[1:]}, as_=owner)
    return {
        "carousel": carousel,
        "carouselImpression": impression,
        "asset": saved["assetId"],
        "spareUpload": spare,
        "importSource": imported["sourceId"],
        "importedSecret": secret,
        "importRun": run["importRunId"],
    }
