"""Opencom's data model: the tables the backend modules read and write, as data-model.md describes them.

Field names, optionality and indexes follow Opencom's Convex schema so that documents look the same
to clients. Every timestamp is epoch milliseconds stored as a float64 (JavaScript's ``number``).
Only the tables the implemented modules touch are declared; later modules add theirs here. The
sign-in tables (``authSessions``, ``authAccounts``, ...) are the auth library's.
"""

from runtime import define_schema, define_table, v
from runtime.auth import auth_tables

number = v.number()
string = v.string()
opt = v.optional


def literals(*names: str):
    """A union of string literals, Convex's spelling of an enum."""
    return v.union(*(v.literal(name) for name in names))


# --- shared value shapes (data-model §0.1, §0.2) -----------------------------------------------
json_primitive = v.union(v.string(), v.number(), v.boolean(), v.null())
json_leaf = v.union(json_primitive, v.array(json_primitive))
json_value = v.union(json_leaf, v.record(v.string(), v.union(json_leaf, v.record(v.string(), json_leaf))))
json_record = v.record(v.string(), json_value)
event_properties = v.record(v.string(), v.union(json_primitive, v.array(v.union(v.string(), v.number()))))
location = v.object({"city": opt(string), "region": opt(string), "country": opt(string), "countryCode": opt(string)})
device = v.object({"browser": opt(string), "os": opt(string), "deviceType": opt(string), "platform": opt(string)})

audience_condition = v.object(
    {
        "type": v.literal("condition"),
        "property": v.object(
            {
                "source": literals("system", "custom", "event"),
                "key": string,
                "eventFilter": opt(
                    v.object(
                        {
                            "name": string,
                            "countOperator": opt(literals("at_least", "at_most", "exactly")),
                            "count": opt(number),
                            "withinDays": opt(number),
                        }
                    )
                ),
            }
        ),
        "operator": literals(
            "equals",
            "not_equals",
            "contains",
            "not_contains",
            "starts_with",
            "ends_with",
            "greater_than",
            "less_than",
            "greater_than_or_equals",
            "less_than_or_equals",
            "is_set",
            "is_not_set",
        ),
        "value": opt(v.union(v.string(), v.number(), v.boolean())),
    }
)
audience_group = v.object(
    {
        "type": v.literal("group"),
        "operator": literals("and", "or"),
        "conditions": v.array(
            v.union(
                audience_condition,
                v.object(
                    {
                        "type": v.literal("group"),
                        "operator": literals("and", "or"),
                        "conditions": v.array(audience_condition),
                    }
                ),
            )
        ),
    }
)
audience_rules = v.union(audience_condition, audience_group)

member_role = literals("owner", "admin", "agent", "viewer")
invited_role = literals("admin", "agent", "viewer")


# --- workspaces and identity (data-model §2); ``users`` replaces the auth library's own ---------
workspace_tables = {
    "users": define_table(
        {
            "email": opt(string),
            "name": opt(string),
            "image": opt(string),
            "emailVerificationTime": opt(number),
            "phone": opt(string),
            "phoneVerificationTime": opt(number),
            "isAnonymous": opt(v.boolean()),
            "avatarUrl": opt(string),
            "workspaceId": opt(v.id("workspaces")),
            "role": opt(literals("admin", "agent")),
            "createdAt": opt(number),
            "passwordHash": opt(string),
        }
    )
    .index("by_email", ["email"])
    .index("by_workspace", ["workspaceId"]),
    "workspaces": define_table(
        {
            "name": string,
            "createdAt": number,
            "allowedOrigins": opt(v.array(string)),
            "helpCenterAccessPolicy": opt(literals("public", "restricted")),
            "signupMode": opt(literals("invite-only", "domain-allowlist")),
            "allowedDomains": opt(v.array(string)),
            "authMethods": opt(v.array(literals("password", "otp"))),
            "identitySecret": opt(string),
            "identityVerificationEnabled": opt(v.boolean()),
            "identityVerificationMode": opt(literals("optional", "required")),
            "sessionLifetimeMs": opt(number),
            "hostedOnboardingStatus": opt(literals("not_started", "in_progress", "completed")),
            "hostedOnboardingCurrentStep": opt(number),
            "hostedOnboardingCompletedSteps": opt(v.array(string)),
            "hostedOnboardingVerificationToken": opt(string),
            "hostedOnboardingVerificationTokenIssuedAt": opt(number),
            "hostedOnboardingWidgetVerifiedAt": opt(number),
            "hostedOnboardingVerificationEvents": opt(
                v.array(
                    v.object({"token": string, "origin": opt(string), "currentUrl": opt(string), "createdAt": number})
                )
            ),
            "hostedOnboardingUpdatedAt": opt(number),
        }
    )
    .index("by_name", ["name"])
    .index("by_created_at", ["createdAt"]),
    "workspaceMembers": define_table(
        {
            "userId": v.id("users"),
            "workspaceId": v.id("workspaces"),
            "role": member_role,
            "permissions": opt(v.array(string)),
            "createdAt": number,
        }
    )
    .index("by_user", ["userId"])
    .index("by_workspace", ["workspaceId"])
    .index("by_user_workspace", ["userId", "workspaceId"]),
    "workspaceInvitations": define_table(
        {
            "workspaceId": v.id("workspaces"),
            "email": string,
            "role": invited_role,
            "invitedBy": v.id("users"),
            "status": literals("pending", "accepted", "declined"),
            "createdAt": number,
            "expiresAt": opt(number),
        }
    )
    .index("by_workspace", ["workspaceId"])
    .index("by_email", ["email"])
    .index("by_email_workspace", ["email", "workspaceId"]),
}


# --- visitors, sessions, events, visitor devices (data-model §3, §12.4) -------------------------
visitor_tables = {
    "visitors": define_table(
        {
            "sessionId": string,
            "userId": opt(v.id("users")),
            "workspaceId": v.id("workspaces"),
            "readableId": opt(string),
            "email": opt(string),
            "name": opt(string),
            "externalUserId": opt(string),
            "location": opt(location),
            "device": opt(device),
            "referrer": opt(string),
            "currentUrl": opt(string),
            "customAttributes": opt(json_record),
            "firstSeenAt": opt(number),
            "lastSeenAt": opt(number),
            "createdAt": number,
            "identityVerified": opt(v.boolean()),
            "identityVerifiedAt": opt(number),
        }
    )
    .index("by_session", ["sessionId"])
    .index("by_workspace", ["workspaceId"])
    .index("by_workspace_last_seen", ["workspaceId", "lastSeenAt"])
    .index("by_workspace_readable_id", ["workspaceId", "readableId"])
    .index("by_email", ["workspaceId", "email"])
    .index("by_external_user_id", ["workspaceId", "externalUserId"])
    .search_index("search_visitors", search_field="name", filter_fields=["workspaceId"]),
    "widgetSessions": define_table(
        {
            "token": string,
            "visitorId": v.id("visitors"),
            "workspaceId": v.id("workspaces"),
            "identityVerified": v.boolean(),
            "clientType": opt(string),
            "clientVersion": opt(string),
            "clientIdentifier": opt(string),
            "origin": opt(string),
            "currentUrl": opt(string),
            "devicePlatform": opt(string),
            "expiresAt": number,
            "createdAt": number,
        }
    )
    .index("by_token", ["token"])
    .index("by_visitor", ["visitorId"])
    .index("by_workspace", ["workspaceId"])
    .index("by_expires", ["expiresAt"]),
    "events": define_table(
        {
            "workspaceId": v.id("workspaces"),
            "visitorId": v.id("visitors"),
            "name": string,
            "properties": opt(event_properties),
            "timestamp": number,
            "url": opt(string),
            "sessionId": opt(string),
            "eventType": opt(literals("manual", "page_view", "screen_view", "session_start", "session_end")),
        }
    )
    .index("by_workspace", ["workspaceId"])
    .index("by_visitor", ["visitorId"])
    .index("by_visitor_name", ["visitorId", "name"])
    .index("by_workspace_type", ["workspaceId", "eventType"])
    # Audience counts find the visitors who did an event without scanning every visitor.
    .index("by_workspace_name_time", ["workspaceId", "name", "timestamp"]),
    "visitorPushTokens": define_table(
        {
            "visitorId": v.id("visitors"),
            "workspaceId": v.id("workspaces"),
            "token": string,
            "platform": literals("ios", "android"),
            "deviceId": opt(string),
            "notificationsEnabled": opt(v.boolean()),
            "failureCount": opt(number),
            "lastFailureAt": opt(number),
            "lastFailureReason": opt(string),
            "disabledAt": opt(number),
            "createdAt": number,
            "updatedAt": number,
        }
    )
    .index("by_visitor", ["visitorId"])
    .index("by_workspace", ["workspaceId"])
    .index("by_workspace_updated_at", ["workspaceId", "updatedAt"])
    .index("by_token", ["token"]),
}


# --- inbox (data-model §4) ---------------------------------------------------------------------
inbox_tables = {
    "conversations": define_table(
        {
            "workspaceId": v.id("workspaces"),
            "visitorId": opt(v.id("visitors")),
            "userId": opt(v.id("users")),
            "assignedAgentId": opt(v.id("users")),
            "status": literals("open", "closed", "snoozed"),
            "channel": opt(literals("chat", "email")),
            "subject": opt(string),
            "createdAt": number,
            "updatedAt": number,
            "lastMessageAt": opt(number),
            "unreadByAgent": opt(number),
            "unreadByVisitor": opt(number),
            "firstResponseAt": opt(number),
            "resolvedAt": opt(number),
            "csatCompletedAt": opt(number),
            "csatResponseId": opt(v.id("csatResponses")),
            "aiWorkflowState": opt(literals("none", "ai_handled", "handoff")),
            "aiTurnSequence": opt(number),
            "aiHandoffReason": opt(string),
            "aiLastConfidence": opt(number),
            "aiLastResponseAt": opt(number),
        }
    )
    .index("by_workspace", ["workspaceId"])
    .index("by_visitor", ["visitorId"])
    .index("by_status", ["workspaceId", "status"])
    .index("by_last_message", ["workspaceId", "lastMessageAt"])
    .index("by_channel", ["workspaceId", "channel"])
    .index("by_workspace_ai_state", ["workspaceId", "aiWorkflowState"])
    .index("by_workspace_ai_state_status", ["workspaceId", "aiWorkflowState", "status"])
    # The inbox's orders: newest activity first, within a status and/or AI state (conversations:listForInbox).
    .index("by_status_last_message", ["workspaceId", "status", "lastMessageAt"])
    .index("by_ai_state_last_message", ["workspaceId", "aiWorkflowState", "lastMessageAt"])
    .index("by_ai_state_status_last_message", ["workspaceId", "aiWorkflowState", "status", "lastMessageAt"])
    # Reporting reads conversations by creation time over a date range.
    .index("by_workspace_created", ["workspaceId", "createdAt"])
    .index("by_workspace_updated", ["workspaceId", "updatedAt"])  # what changed since a report snapshot
    .index("by_assignee", ["workspaceId", "assignedAgentId"]),
    "messages": define_table(
        {
            "conversationId": v.id("conversations"),
            "senderId": string,
            "senderType": literals("user", "visitor", "agent", "bot"),
            "content": string,
            "channel": opt(literals("chat", "email")),
            "emailMetadata": opt(
                v.object(
                    {
                        "subject": opt(string),
                        "from": opt(string),
                        "to": opt(v.array(string)),
                        "cc": opt(v.array(string)),
                        "bcc": opt(v.array(string)),
                        "messageId": opt(string),
                        "inReplyTo": opt(string),
                        "references": opt(v.array(string)),
                    }
                )
            ),
            "deliveryStatus": opt(literals("pending", "sent", "delivered", "bounced", "failed")),
            "attachmentIds": opt(v.array(v.id("supportAttachments"))),
            "createdAt": number,
        }
    )
    .index("by_conversation", ["conversationId"])
    .index("by_email_message_id", ["emailMetadata.messageId"]),
    "tags": define_table(
        {
            "workspaceId": v.id("workspaces"),
            "name": string,
            "color": opt(string),
            "createdAt": number,
            "updatedAt": number,
        }
    )
    .index("by_workspace", ["workspaceId"])
    .index("by_workspace_name", ["workspaceId", "name"]),
    "conversationTags": define_table(
        {
            "conversationId": v.id("conversations"),
            "tagId": v.id("tags"),
            "appliedBy": opt(literals("manual", "auto")),
            "appliedByUserId": opt(v.id("users")),
            "createdAt": number,
        }
    )
    .index("by_conversation", ["conversationId"])
    .index("by_tag", ["tagId"])
    .index("by_conversation_tag", ["conversationId", "tagId"]),
    "autoTagRules": define_table(
        {
            "workspaceId": v.id("workspaces"),
            "name": string,
            "enabled": v.boolean(),
            "conditions": v.array(
                v.object(
                    {
                        "field": literals(
                            "visitor.email",
                            "visitor.name",
                            "visitor.country",
                            "visitor.customAttributes",
                            "conversation.channel",
                            "message.content",
                        ),
                        "operator": literals(
                            "equals",
                            "not_equals",
                            "contains",
                            "not_contains",
                            "starts_with",
                            "ends_with",
                            "is_set",
                            "is_not_set",
                        ),
                        "value": opt(string),
                        "attributeKey": opt(string),
                    }
                )
            ),
            "tagId": v.id("tags"),
            "createdAt": number,
            "updatedAt": number,
        }
    ).index("by_workspace", ["workspaceId"]),
}


# --- help center and saved replies (data-model §6) ---------------------------------------------
content_tables = {
    "articles": define_table(
        {
            "workspaceId": v.id("workspaces"),
            "collectionId": opt(v.id("collections")),
            "title": string,
            "slug": string,
            "content": string,
            "widgetLargeScreen": opt(v.boolean()),
            "visibility": opt(literals("public", "internal")),
            "status": literals("draft", "published", "archived"),
            "order": number,
            "createdAt": number,
            "updatedAt": number,
            "publishedAt": opt(number),
            "authorId": opt(v.id("users")),
            "audienceRules": opt(audience_rules),
            "tags": opt(v.array(string)),
            "importSourceId": opt(v.id("helpCenterImportSources")),
            "importPath": opt(string),
        }
    )
    .index("by_workspace", ["workspaceId"])
    .index("by_workspace_import_source", ["workspaceId", "importSourceId"])
    .index("by_collection", ["collectionId"])
    .index("by_slug", ["workspaceId", "slug"])
    .index("by_slug_only", ["slug"])
    .index("by_status", ["workspaceId", "status"])
    .index("by_visibility", ["workspaceId", "visibility"])
    # Full-text search: a title hit ranks above a body hit (see functions/lib/article_search.py).
    .search_index("search_title", search_field="title", filter_fields=["workspaceId", "status"])
    .search_index("search_content", search_field="content", filter_fields=["workspaceId", "status"]),
    "snippets": define_table(
        {
            "workspaceId": v.id("workspaces"),
            "name": string,
            "content": string,
            "shortcut": opt(string),
            "createdAt": number,
            "updatedAt": number,
            "createdBy": opt(v.id("users")),
            "folderId": opt(v.id("contentFolders")),
        }
    )
    .index("by_workspace", ["workspaceId"])
    .index("by_shortcut", ["workspaceId", "shortcut"])
    .index("by_folder", ["folderId"]),
    "contentFolders": define_table(
        {
            "workspaceId": v.id("workspaces"),
            "name": string,
            "parentId": opt(v.id("contentFolders")),
            "order": number,
            "createdAt": number,
            "updatedAt": number,
        }
    )
    .index("by_workspace", ["workspaceId"])
    .index("by_parent", ["workspaceId", "parentId"]),
}


# --- help-center structure, feedback and semantic search (data-model §6, §14.1, §14.8) ---------
# The vector index's width: the width every embeddings provider returns (lib/embedding_provider.py).
EMBEDDING_DIMENSIONS = 256
knowledge_content_type = literals("article", "internalArticle", "snippet")
help_center_tables = {
    "collections": define_table(
        {
            "workspaceId": v.id("workspaces"),
            "name": string,
            "slug": string,
            "description": opt(string),
            "icon": opt(string),
            "parentId": opt(v.id("collections")),
            "order": number,
            "importSourceId": opt(v.id("helpCenterImportSources")),
            "importPath": opt(string),
            "createdAt": number,
            "updatedAt": number,
        }
    )
    .index("by_workspace", ["workspaceId"])
    .index("by_workspace_import_source", ["workspaceId", "importSourceId"])
    .index("by_slug", ["workspaceId", "slug"])
    .index("by_parent", ["workspaceId", "parentId"]),
    "helpCenterImportSources": define_table(
        {
            "workspaceId": v.id("workspaces"),
            "sourceKey": string,
            "sourceName": string,
            "rootCollectionId": opt(v.id("collections")),
            "createdAt": number,
            "updatedAt": number,
            "lastImportedAt": opt(number),
            "lastImportRunId": opt(string),
            "lastImportedFileCount": opt(number),
            "lastImportedCollectionCount": opt(number),
        }
    )
    .index("by_workspace", ["workspaceId"])
    .index("by_workspace_source_key", ["workspaceId", "sourceKey"])
    .index("by_workspace_updated_at", ["workspaceId", "updatedAt"]),
    "helpCenterImportArchives": define_table(
        {
            "workspaceId": v.id("workspaces"),
            "sourceId": v.id("helpCenterImportSources"),
            "importRunId": string,
            "entityType": literals("article", "collection"),
            "importPath": string,
            "parentPath": opt(string),
            "name": string,
            "content": opt(string),
            "status": opt(literals("draft", "published", "archived")),
            "description": opt(string),
            "icon": opt(string),
            "deletedAt": number,
            "restoredAt": opt(number),
        }
    )
    .index("by_workspace_deleted_at", ["workspaceId", "deletedAt"])
    .index("by_workspace_source", ["workspaceId", "sourceId"])
    .index("by_workspace_source_run", ["workspaceId", "sourceId", "importRunId"]),
    "articleFeedback": define_table(
        {
            "articleId": v.id("articles"),
            "helpful": v.boolean(),
            "visitorId": opt(v.id("visitors")),
            "createdAt": number,
        }
    ).index("by_article", ["articleId"]),
    # One row per chunk of a published article (or snippet); ``embedding`` feeds the vector index.
    "contentEmbeddings": define_table(
        {
            "workspaceId": v.id("workspaces"),
            "contentType": knowledge_content_type,
            "contentId": string,
            "embedding": v.array(v.float64()),
            "textHash": string,
            "title": string,
            "snippet": string,
            "createdAt": number,
            "updatedAt": number,
        }
    )
    .index("by_content", ["contentType", "contentId"])
    .index("by_workspace", ["workspaceId"])
    .vector_index(
        "by_embedding",
        vector_field="embedding",
        dimensions=EMBEDDING_DIMENSIONS,
        filter_fields=["workspaceId", "contentType"],
    ),
    "suggestionFeedback": define_table(
        {
            "workspaceId": v.id("workspaces"),
            "userId": v.id("users"),
            "conversationId": v.id("conversations"),
            "contentType": knowledge_content_type,
            "contentId": string,
            "embeddingModel": opt(string),
            "action": literals("used", "dismissed"),
            "createdAt": number,
        }
    )
    .index("by_workspace", ["workspaceId"])
    .index("by_workspace_created_at", ["workspaceId", "createdAt"])
    .index("by_user", ["userId"])
    .index("by_conversation", ["conversationId"])
    .index("by_content", ["contentType", "contentId"]),
    "recentContentAccess": define_table(
        {
            "userId": v.id("users"),
            "workspaceId": v.id("workspaces"),
            "contentType": knowledge_content_type,
            "contentId": string,
            "accessedAt": number,
        }
    )
    .index("by_user_workspace", ["userId", "workspaceId"])
    .index("by_user_content", ["userId", "contentType", "contentId"]),
    "aiAgentSettings": define_table(
        {
            "workspaceId": v.id("workspaces"),
            "enabled": v.boolean(),
            "knowledgeSources": v.array(literals("articles", "internalArticles", "snippets")),
            "confidenceThreshold": number,
            "personality": opt(string),
            "handoffMessage": opt(string),
            "workingHours": opt(v.object({"start": string, "end": string, "timezone": string})),
            "model": string,
            "suggestionsEnabled": opt(v.boolean()),
            "embeddingModel": opt(string),
            "lastConfigError": opt(
                v.object(
                    {
                        "code": string,
                        "message": string,
                        "provider": opt(string),
                        "model": opt(string),
                        "detectedAt": number,
                    }
                )
            ),
            "createdAt": number,
            "updatedAt": number,
        }
    ).index("by_workspace", ["workspaceId"]),
}


# --- audit and settings (data-model §14.4 to §14.7) ---------------------------------------------
audit_fields = {
    "workspaceId": v.id("workspaces"),
    "actorId": opt(v.id("users")),
    "actorType": literals("user", "system", "api"),
    "action": string,
    "resourceType": string,
    "resourceId": opt(string),
    "metadata": opt(json_record),
}
notification_events = v.object(
    {"newVisitorMessage": opt(v.object({"email": opt(v.boolean()), "push": opt(v.boolean())}))}
)
settings_tables = {
    "notificationPreferences": define_table(
        {
            "userId": v.id("users"),
            "workspaceId": v.id("workspaces"),
            "muted": v.boolean(),
            "events": opt(notification_events),
            "createdAt": number,
            "updatedAt": number,
        }
    )
    .index("by_user", ["userId"])
    .index("by_user_workspace", ["userId", "workspaceId"]),
    "workspaceNotificationDefaults": define_table(
        {"workspaceId": v.id("workspaces"), "events": opt(notification_events), "createdAt": number, "updatedAt": number}
    ).index("by_workspace", ["workspaceId"]),
    "auditLogs": define_table({**audit_fields, "ipAddress": opt(string), "userAgent": opt(string), "timestamp": number})
    .index("by_workspace", ["workspaceId"])
    .index("by_workspace_action", ["workspaceId", "action"])
    .index("by_workspace_timestamp", ["workspaceId", "timestamp"])
    .index("by_actor", ["actorId"]),
    "auditLogWriteFailures": define_table({**audit_fields, "error": string, "createdAt": number})
    .index("by_workspace", ["workspaceId"])
    .index("by_workspace_created", ["workspaceId", "createdAt"]),
    "auditLogSettings": define_table(
        {"workspaceId": v.id("workspaces"), "retentionDays": number, "createdAt": number, "updatedAt": number}
    ).index("by_workspace", ["workspaceId"]),
    "automationSettings": define_table(
        {
            "workspaceId": v.id("workspaces"),
            "suggestArticlesEnabled": v.boolean(),
            "showReplyTimeEnabled": v.boolean(),
            "collectEmailEnabled": v.boolean(),
            "askForRatingEnabled": v.boolean(),
            "createdAt": number,
            "updatedAt": number,
        }
    ).index("by_workspace", ["workspaceId"]),
}


# --- email channel and outgoing mail (data-model §11.4; ``outbox`` is this backend's own) -------
email_tables = {
    "emailConfigs": define_table(
        {
            "workspaceId": v.id("workspaces"),
            "forwardingAddress": string,
            "fromName": opt(string),
            "fromEmail": opt(string),
            "fromEmailVerified": opt(v.boolean()),
            "signature": opt(string),
            "provider": opt(literals("resend", "sendgrid", "postmark")),
            "apiKeyEncrypted": opt(string),
            "webhookSecret": opt(string),
            "enabled": v.boolean(),
            "createdAt": number,
            "updatedAt": number,
        }
    )
    .index("by_workspace", ["workspaceId"])
    .index("by_forwarding_address", ["forwardingAddress"]),
    "emailThreads": define_table(
        {
            "workspaceId": v.id("workspaces"),
            "conversationId": v.id("conversations"),
            "messageId": string,
            "inReplyTo": opt(string),
            "references": opt(v.array(string)),
            "subject": string,
            "normalizedSubject": string,
            "senderEmail": string,
            "createdAt": number,
        }
    )
    .index("by_conversation", ["conversationId"])
    .index("by_message_id", ["messageId"])
    .index("by_subject_sender", ["workspaceId", "normalizedSubject", "senderEmail"]),
    # Every email the backend wants to send, as the local provider leaves it (see lib/email_provider).
    "outbox": define_table(
        {
            "workspaceId": opt(v.id("workspaces")),
            "conversationId": opt(v.id("conversations")),
            "campaignId": opt(v.id("emailCampaigns")),
            "recipientId": opt(v.id("emailCampaignRecipients")),
            "purpose": literals(
                "verification-code", "conversation-reply", "workspace-invitation",
                "campaign", "series", "notification",
            ),
            "from": string,
            "to": v.array(string),
            "replyTo": opt(string),
            "subject": string,
            "text": string,
            "html": string,
            "messageId": string,
            "inReplyTo": opt(string),
            "references": opt(v.array(string)),
            "provider": literals("outbox"),
            "status": literals("written-to-outbox"),
            "createdAt": number,
        }
    )
    .index("by_workspace", ["workspaceId"])
    .index("by_message_id", ["messageId"])
    .index("by_campaign", ["campaignId"]),
    # The email-code sign-in's pending codes (Convex Auth's table; ``code`` holds a SHA-256, never the code).
    "authVerificationCodes": define_table(
        {
            "accountId": v.id("authAccounts"),
            "provider": string,
            "code": string,
            "expirationTime": number,
            "verifier": opt(string),
            "emailVerified": opt(string),
            "phoneVerified": opt(string),
        }
    )
    .index("accountId", ["accountId"])
    .index("code", ["code"]),
}


# --- tickets and support attachments (data-model §4.3, §4.8, §5) -------------------------------
ticket_form_field = v.object(
    {
        "id": string,
        "type": literals("text", "textarea", "select", "multi-select", "number", "date"),
        "label": string,
        "placeholder": opt(string),
        "required": v.boolean(),
        "options": opt(v.array(string)),
    }
)
form_data = v.record(v.string(), v.union(v.string(), v.number(), v.boolean(), v.null(), v.array(v.string())))
support_tables = {
    "tickets": define_table(
        {
            "workspaceId": v.id("workspaces"),
            "conversationId": opt(v.id("conversations")),
            "visitorId": opt(v.id("visitors")),
            "subject": string,
            "description": opt(string),
            "status": literals("submitted", "in_progress", "waiting_on_customer", "resolved"),
            "priority": literals("low", "normal", "high", "urgent"),
            "assigneeId": opt(v.id("users")),
            "teamId": opt(string),
            "formId": opt(v.id("ticketForms")),
            "formData": opt(form_data),
            "resolutionSummary": opt(string),
            "attachmentIds": opt(v.array(v.id("supportAttachments"))),
            "createdAt": number,
            "updatedAt": number,
            "resolvedAt": opt(number),
        }
    )
    .index("by_workspace", ["workspaceId"])
    .index("by_visitor", ["visitorId"])
    .index("by_status", ["workspaceId", "status"])
    .index("by_assignee", ["workspaceId", "assigneeId"])
    .index("by_conversation", ["conversationId"]),
    "ticketComments": define_table(
        {
            "ticketId": v.id("tickets"),
            "authorId": string,
            "authorType": literals("agent", "visitor", "system"),
            "content": string,
            "isInternal": v.boolean(),
            "attachmentIds": opt(v.array(v.id("supportAttachments"))),
            "createdAt": number,
        }
    ).index("by_ticket", ["ticketId"]),
    "ticketForms": define_table(
        {
            "workspaceId": v.id("workspaces"),
            "name": string,
            "description": opt(string),
            "fields": v.array(ticket_form_field),
            "isDefault": v.boolean(),
            "createdAt": number,
            "updatedAt": number,
        }
    )
    .index("by_workspace", ["workspaceId"])
    .index("by_workspace_default", ["workspaceId", "isDefault"]),
    "supportAttachments": define_table(
        {
            "workspaceId": v.id("workspaces"),
            "storageId": v.id("_storage"),
            "fileName": string,
            "mimeType": string,
            "size": number,
            "status": literals("staged", "attached"),
            "messageId": opt(v.id("messages")),
            "ticketId": opt(v.id("tickets")),
            "ticketCommentId": opt(v.id("ticketComments")),
            "uploadedByType": literals("agent", "visitor"),
            "uploadedById": string,
            "createdAt": number,
            "attachedAt": opt(number),
            "expiresAt": opt(number),
        }
    )
    .index("by_workspace", ["workspaceId"])
    .index("by_storage", ["storageId"])
    .index("by_message", ["messageId"])
    .index("by_ticket", ["ticketId"])
    .index("by_ticket_comment", ["ticketCommentId"])
    .index("by_status_expires", ["status", "expiresAt"])
    .index("by_workspace_status_expires", ["workspaceId", "status", "expiresAt"]),
    "csatResponses": define_table(
        {
            "workspaceId": v.id("workspaces"),
            "conversationId": v.id("conversations"),
            "visitorId": opt(v.id("visitors")),
            "agentId": opt(v.id("users")),
            "rating": number,
            "feedback": opt(string),
            "createdAt": number,
        }
    )
    .index("by_workspace", ["workspaceId"])
    .index("by_conversation", ["conversationId"])
    .index("by_agent", ["workspaceId", "agentId"])
    .index("by_created", ["workspaceId", "createdAt"]),
}


# --- messenger, office hours, AI answers (data-model §14.2, §14.9) -----------------------------
home_visibility = literals("all", "visitors", "users")
home_card = v.object(
    {
        "id": string,
        "type": literals(
            "welcome", "search", "conversations", "startConversation", "featuredArticles", "announcements"
        ),
        "config": opt(json_record),
        "visibleTo": home_visibility,
    }
)
home_tab = v.object(
    {
        "id": literals("home", "messages", "help", "tours", "tasks", "tickets"),
        "enabled": v.boolean(),
        "visibleTo": home_visibility,
    }
)
home_config = v.object(
    {
        "enabled": v.boolean(),
        "cards": v.array(home_card),
        "defaultSpace": literals("home", "messages", "help"),
        "launchDirectlyToConversation": opt(v.boolean()),
        "tabs": opt(v.array(home_tab)),
    }
)
office_day = literals("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
office_schedule_item = v.object({"day": office_day, "enabled": v.boolean(), "startTime": string, "endTime": string})
ai_source = v.object({"type": string, "id": string, "title": string, "articleId": opt(string)})
messenger_tables = {
    "messengerSettings": define_table(
        {
            "workspaceId": v.id("workspaces"),
            "logo": opt(string),
            "logoStorageId": opt(v.id("_storage")),
            "primaryColor": string,
            "backgroundColor": string,
            "themeMode": literals("light", "dark", "system"),
            "launcherPosition": literals("right", "left"),
            "launcherSideSpacing": number,
            "launcherBottomSpacing": number,
            "launcherIconUrl": opt(string),
            "showLauncher": v.boolean(),
            "launcherAudienceRules": opt(v.union(audience_rules, v.object({"segmentId": string}))),
            "welcomeMessage": string,
            "teamIntroduction": opt(string),
            "showTeammateAvatars": v.boolean(),
            "supportedLanguages": v.array(string),
            "defaultLanguage": string,
            "privacyPolicyUrl": opt(string),
            "mobileEnabled": v.boolean(),
            "homeConfig": opt(home_config),
            "createdAt": number,
            "updatedAt": number,
        }
    )
    .index("by_workspace", ["workspaceId"])
    .index("by_logo_storage", ["logoStorageId"]),  # which file is a logo (lib/article_assets refuses it)
    "commonIssueButtons": define_table(
        {
            "workspaceId": v.id("workspaces"),
            "label": string,
            "action": literals("article", "start_conversation"),
            "articleId": opt(v.id("articles")),
            "conversationStarter": opt(string),
            "order": number,
            "enabled": v.boolean(),
            "createdAt": number,
            "updatedAt": number,
        }
    )
    .index("by_workspace", ["workspaceId"])
    .index("by_workspace_order", ["workspaceId", "order"]),
    "officeHours": define_table(
        {
            "workspaceId": v.id("workspaces"),
            "timezone": string,
            "schedule": v.array(office_schedule_item),
            "offlineMessage": opt(string),
            "expectedReplyTimeMinutes": opt(number),
            "createdAt": number,
            "updatedAt": number,
        }
    ).index("by_workspace", ["workspaceId"]),
    "aiResponses": define_table(
        {
            "conversationId": v.id("conversations"),
            "messageId": opt(v.id("messages")),
            "query": string,
            "response": string,
            "generatedCandidateResponse": opt(string),
            "generatedCandidateSources": opt(v.array(ai_source)),
            "generatedCandidateConfidence": opt(number),
            "sources": v.array(ai_source),
            "confidence": number,
            "feedback": opt(literals("helpful", "not_helpful")),
            "handedOff": v.boolean(),
            "handoffReason": opt(string),
            "generationTimeMs": number,
            "tokensUsed": opt(number),
            "model": string,
            "provider": string,
            "workspaceId": opt(v.id("workspaces")),
            "createdAt": number,
        }
    )
    .index("by_conversation", ["conversationId"])
    .index("by_message", ["messageId"])
    .index("by_feedback", ["feedback"])
    # AI-agent reports read a workspace's answers by time (answers written by aiAgentActions carry it).
    .index("by_workspace_created", ["workspaceId", "createdAt"]),
}



# --- engagement: segments, tours, tooltips, surveys, outbound messages, checklists (§7-§10) -----
audience_rules_or_segment = v.union(audience_rules, v.object({"segmentId": v.id("segments")}))
page_url_match = literals("exact", "contains", "regex")
advance_mode = literals("click", "elementClick", "fieldFill")
tour_advance_mode = literals("click", "elementClick", "fieldFill", "system")
tour_diagnostic_reason = literals(
    "mode_mismatch",
    "element_click_required",
    "field_fill_required",
    "field_fill_invalid",
    "route_mismatch",
    "checkpoint_invalid_route",
    "selector_missing",
)
selector_quality = v.object(
    {
        "score": number,
        "grade": literals("good", "fair", "poor"),
        "warnings": v.array(string),
        "signals": v.object(
            {
                "matchCount": opt(number),
                "depth": number,
                "usesNth": v.boolean(),
                "hasId": v.boolean(),
                "hasDataAttribute": v.boolean(),
                "classCount": number,
                "usesWildcard": v.boolean(),
            }
        ),
    }
)
scheduling = v.object({"startDate": opt(number), "endDate": opt(number)})
step_text = v.object({"title": string, "description": opt(string), "buttonText": opt(string)})
survey_question = v.object(
    {
        "id": string,
        "type": literals(
            "nps", "numeric_scale", "star_rating", "emoji_rating", "dropdown", "short_text", "long_text",
            "multiple_choice",
        ),  # fmt: skip
        "title": string,
        "description": opt(string),
        "required": v.boolean(),
        "storeAsAttribute": opt(string),
        "options": opt(
            v.object(
                {
                    "scaleStart": opt(number),
                    "scaleEnd": opt(number),
                    "startLabel": opt(string),
                    "endLabel": opt(string),
                    "starLabels": opt(v.object({"low": opt(string), "high": opt(string)})),
                    "emojiCount": opt(v.union(v.literal(3.0), v.literal(5.0))),
                    "emojiLabels": opt(v.object({"low": opt(string), "high": opt(string)})),
                    "choices": opt(v.array(string)),
                    "allowMultiple": opt(v.boolean()),
                }
            )
        ),
    }
)
survey_answer_value = v.union(string, number, v.boolean(), v.null(), v.array(string), v.array(number))
outbound_button = v.object(
    {
        "text": string,
        "action": literals("url", "dismiss", "tour", "open_new_conversation", "open_help_article", "open_widget_tab"),
        "url": opt(string),
        "tourId": opt(v.id("tours")),
        "articleId": opt(v.id("articles")),
        "tabId": opt(string),
        "prefillMessage": opt(string),
    }
)
outbound_content = v.object(
    {
        "text": opt(string),
        "senderId": opt(v.id("users")),
        "title": opt(string),
        "body": opt(string),
        "imageUrl": opt(string),
        "videoUrl": opt(string),
        "style": opt(literals("inline", "floating")),
        "dismissible": opt(v.boolean()),
        "buttons": opt(v.array(outbound_button)),
        "clickAction": opt(
            v.object(
                {
                    "type": literals(
                        "open_messenger", "open_new_conversation", "open_widget_tab", "open_help_article",
                        "open_url", "dismiss",
                    ),  # fmt: skip
                    "tabId": opt(string),
                    "articleId": opt(v.id("articles")),
                    "url": opt(string),
                    "prefillMessage": opt(string),
                }
            )
        ),
    }
)
checklist_task = v.object(
    {
        "id": string,
        "title": string,
        "description": opt(string),
        "action": opt(
            v.object(
                {
                    "type": literals("tour", "url", "event"),
                    "tourId": opt(v.id("tours")),
                    "url": opt(string),
                    "eventName": opt(string),
                }
            )
        ),
        "completionType": literals("manual", "auto_event", "auto_attribute"),
        "completionEvent": opt(string),
        "completionAttribute": opt(v.object({"key": string, "operator": string, "value": opt(json_value)})),
    }
)


def trigger(*types: str, **extra):
    """A delivery trigger (when the client shows an item), with the trigger types one item kind allows."""
    return v.object(
        {
            "type": literals(*types),
            "pageUrl": opt(string),
            "pageUrlMatch": opt(page_url_match),
            "delaySeconds": opt(number),
            "eventName": opt(string),
            **extra,
        }
    )


engagement_tables = {
    "segments": define_table(
        {
            "workspaceId": v.id("workspaces"),
            "name": string,
            "description": opt(string),
            "audienceRules": audience_rules,
            "createdAt": number,
            "updatedAt": number,
            "createdBy": opt(v.id("users")),
        }
    )
    .index("by_workspace", ["workspaceId"])
    .index("by_workspace_name", ["workspaceId", "name"]),
    # A workspace's visitor count as of its last census (visitors created later are counted live).
    "audienceStats": define_table(
        {
            "workspaceId": v.id("workspaces"),
            "visitorCount": number,
            "countedThrough": opt(number),
            "takenAt": opt(number),
            "pendingSince": opt(number),
        }
    ).index("by_workspace", ["workspaceId"]),
    "tours": define_table(
        {
            "workspaceId": v.id("workspaces"),
            "name": string,
            "description": opt(string),
            "status": literals("draft", "active", "archived"),
            "targetingRules": opt(v.object({"pageUrl": opt(string), "userAttributes": opt(json_record)})),
            "audienceRules": opt(audience_rules_or_segment),
            "displayMode": opt(literals("first_time_only", "until_dismissed")),
            "priority": opt(number),
            "buttonColor": opt(string),
            "senderId": opt(v.id("users")),
            "showConfetti": opt(v.boolean()),
            "allowSnooze": opt(v.boolean()),
            "allowRestart": opt(v.boolean()),
            "createdAt": number,
            "updatedAt": number,
        }
    )
    .index("by_workspace", ["workspaceId"])
    .index("by_workspace_status", ["workspaceId", "status"]),
    "tourSteps": define_table(
        {
            "workspaceId": opt(v.id("workspaces")),
            "tourId": v.id("tours"),
            "type": literals("pointer", "post", "video"),
            "order": number,
            "title": opt(string),
            "content": string,
            "elementSelector": opt(string),
            "position": opt(literals("auto", "left", "right", "above", "below")),
            "size": opt(literals("small", "large")),
            "advanceOn": opt(advance_mode),
            "routePath": opt(string),
            "selectorQuality": opt(selector_quality),
            "customButtonText": opt(string),
            "mediaUrl": opt(string),
            "mediaType": opt(literals("image", "video")),
            "createdAt": number,
            "updatedAt": number,
        }
    )
    .index("by_workspace", ["workspaceId"])
    .index("by_tour", ["tourId"])
    .index("by_tour_order", ["tourId", "order"]),
    "tourProgress": define_table(
        {
            "visitorId": v.id("visitors"),
            "tourId": v.id("tours"),
            "currentStep": number,
            "checkpointStep": opt(number),
            "checkpointRoute": opt(string),
            "checkpointSelector": opt(string),
            "lastSeenUrl": opt(string),
            "status": literals("in_progress", "completed", "dismissed", "snoozed"),
            "lastBlockedReason": opt(tour_diagnostic_reason),
            "lastBlockedMode": opt(tour_advance_mode),
            "lastBlockedAt": opt(number),
            "completedAt": opt(number),
            "snoozedUntil": opt(number),
            "createdAt": number,
            "updatedAt": number,
        }
    )
    .index("by_visitor", ["visitorId"])
    .index("by_tour", ["tourId"])
    .index("by_visitor_tour", ["visitorId", "tourId"]),
    "tourProgressDiagnostics": define_table(
        {
            "progressId": v.id("tourProgress"),
            "tourId": v.id("tours"),
            "visitorId": v.id("visitors"),
            "stepOrder": number,
            "reason": tour_diagnostic_reason,
            "mode": tour_advance_mode,
            "selector": opt(string),
            "currentUrl": opt(string),
            "metadata": opt(json_record),
            "createdAt": number,
        }
    )
    .index("by_progress", ["progressId"])
    .index("by_tour", ["tourId"])
    .index("by_visitor", ["visitorId"]),
    "authoringSessions": define_table(
        {
            "token": string,
            "tourId": v.id("tours"),
            "stepId": opt(v.id("tourSteps")),
            "userId": v.id("users"),
            "workspaceId": v.id("workspaces"),
            "targetUrl": string,
            "expiresAt": number,
            "createdAt": number,
        }
    )
    .index("by_token", ["token"])
    .index("by_tour", ["tourId"]),
    "tooltips": define_table(
        {
            "workspaceId": v.id("workspaces"),
            "name": string,
            "elementSelector": string,
            "selectorQuality": opt(selector_quality),
            "content": string,
            "triggerType": literals("hover", "click", "auto"),
            "audienceRules": opt(audience_rules_or_segment),
            "triggers": opt(
                trigger(
                    "immediate", "page_visit", "time_on_page", "scroll_depth", "event", "exit_intent",
                    scrollPercent=opt(number), eventProperties=opt(event_properties),
                )  # fmt: skip
            ),
            "createdAt": number,
            "updatedAt": number,
        }
    )
    .index("by_workspace", ["workspaceId"])
    .index("by_workspace_updated_at", ["workspaceId", "updatedAt"]),
    "tooltipAuthoringSessions": define_table(
        {
            "token": string,
            "tooltipId": opt(v.id("tooltips")),
            "workspaceId": v.id("workspaces"),
            "userId": v.id("users"),
            "status": literals("active", "completed", "expired"),
            "selectedSelector": opt(string),
            "selectedSelectorQuality": opt(selector_quality),
            "createdAt": number,
            "expiresAt": number,
        }
    )
    .index("by_token", ["token"])
    .index("by_tooltip", ["tooltipId"])
    .index("by_workspace", ["workspaceId"]),
    "surveys": define_table(
        {
            "workspaceId": v.id("workspaces"),
            "name": string,
            "description": opt(string),
            "format": literals("small", "large"),
            "status": literals("draft", "active", "paused", "archived"),
            "questions": v.array(survey_question),
            "introStep": opt(step_text),
            "thankYouStep": opt(step_text),
            "showProgressBar": opt(v.boolean()),
            "showDismissButton": opt(v.boolean()),
            "audienceRules": opt(audience_rules_or_segment),
            "triggers": opt(trigger("immediate", "page_visit", "time_on_page", "event")),
            "frequency": opt(literals("once", "until_completed")),
            "scheduling": opt(scheduling),
            "createdAt": number,
            "updatedAt": number,
        }
    )
    .index("by_workspace", ["workspaceId"])
    .index("by_workspace_status", ["workspaceId", "status"]),
    "surveyResponses": define_table(
        {
            "surveyId": v.id("surveys"),
            "workspaceId": v.id("workspaces"),
            "visitorId": opt(v.id("visitors")),
            "userId": opt(v.id("users")),
            "sessionId": opt(string),
            "answers": v.array(v.object({"questionId": string, "value": survey_answer_value})),
            "status": literals("partial", "completed"),
            "startedAt": number,
            "completedAt": opt(number),
        }
    )
    .index("by_survey", ["surveyId"])
    .index("by_workspace", ["workspaceId"])
    .index("by_visitor", ["visitorId"])
    .index("by_visitor_survey", ["visitorId", "surveyId"]),
    "surveyImpressions": define_table(
        {
            "surveyId": v.id("surveys"),
            "visitorId": v.id("visitors"),
            "sessionId": opt(string),
            "action": literals("shown", "started", "completed", "dismissed"),
            "createdAt": number,
        }
    )
    .index("by_survey", ["surveyId"])
    .index("by_visitor", ["visitorId"])
    .index("by_visitor_survey", ["visitorId", "surveyId"]),
    "outboundMessages": define_table(
        {
            "workspaceId": v.id("workspaces"),
            "type": literals("chat", "post", "banner"),
            "name": string,
            "content": outbound_content,
            "audienceRules": opt(audience_rules_or_segment),
            "targeting": opt(audience_rules_or_segment),
            "triggers": opt(
                trigger("immediate", "page_visit", "time_on_page", "scroll_depth", "event", scrollPercent=opt(number))
            ),
            "frequency": opt(literals("once", "once_per_session", "always")),
            "scheduling": opt(scheduling),
            "status": literals("draft", "active", "paused", "archived"),
            "priority": opt(number),
            "createdAt": number,
            "updatedAt": number,
        }
    )
    .index("by_workspace", ["workspaceId"])
    .index("by_workspace_status", ["workspaceId", "status"])
    .index("by_workspace_type", ["workspaceId", "type"]),
    "outboundMessageImpressions": define_table(
        {
            "messageId": v.id("outboundMessages"),
            "visitorId": v.id("visitors"),
            "sessionId": opt(string),
            "action": literals("shown", "clicked", "dismissed"),
            "buttonIndex": opt(number),
            "createdAt": number,
        }
    )
    .index("by_message", ["messageId"])
    .index("by_visitor", ["visitorId"])
    .index("by_visitor_message", ["visitorId", "messageId"]),
    "checklists": define_table(
        {
            "workspaceId": v.id("workspaces"),
            "name": string,
            "description": opt(string),
            "tasks": v.array(checklist_task),
            "audienceRules": opt(audience_rules_or_segment),
            "targeting": opt(audience_rules_or_segment),
            "status": literals("draft", "active", "archived"),
            "createdAt": number,
            "updatedAt": number,
        }
    )
    .index("by_workspace", ["workspaceId"])
    .index("by_workspace_status", ["workspaceId", "status"]),
    "checklistProgress": define_table(
        {
            "visitorId": v.id("visitors"),
            "checklistId": v.id("checklists"),
            "completedTaskIds": v.array(string),
            "startedAt": number,
            "completedAt": opt(number),
        }
    )
    .index("by_visitor", ["visitorId"])
    .index("by_checklist", ["checklistId"])
    .index("by_visitor_checklist", ["visitorId", "checklistId"]),
}


# --- email campaigns (data-model §11.1-11.3) -----------------------------------------------------
campaign_schedule = v.object(
    {"type": literals("immediate", "scheduled"), "scheduledAt": opt(number), "timezone": opt(string)}
)
email_campaign_stats = v.object(
    {
        "pending": number,
        "sent": number,
        "delivered": number,
        "opened": number,
        "clicked": number,
        "bounced": number,
        "unsubscribed": number,
        "unconfirmed": opt(number),
    }
)
series_trigger = v.object(
    {
        "source": literals("event", "auto_event", "visitor_attribute_changed", "visitor_state_changed"),
        "eventName": opt(string),
        "attributeKey": opt(string),
        "fromValue": opt(string),
        "toValue": opt(string),
    }
)
series_block_config = v.object(
    {
        "rules": opt(audience_rules),
        "waitType": opt(literals("duration", "until_date", "until_event")),
        "waitDuration": opt(number),
        "waitUnit": opt(literals("minutes", "hours", "days")),
        "waitUntilDate": opt(number),
        "waitUntilEvent": opt(string),
        "contentId": opt(string),
        "subject": opt(string),
        "body": opt(string),
        "title": opt(string),
        "tagAction": opt(literals("add", "remove")),
        "tagName": opt(string),
    }
)


def campaign_table(own_fields: dict, stats):
    """An email or push campaign: its own content fields, then the audience, schedule and
    send-progress fields both kinds share, so the sweeper and senders read one shape."""
    return (
        define_table(
            {
                **own_fields,
                "audienceRules": opt(audience_rules_or_segment),
                "targeting": opt(audience_rules_or_segment),
                "schedule": opt(campaign_schedule),
                "status": literals("draft", "scheduled", "sending", "sent", "paused"),
                "stats": opt(stats),
                "recipientCount": opt(number),
                "sentAt": opt(number),
                # This backend's own: where the send stands (see lib/campaign_send).
                "sendRun": opt(number),
                "sendCursor": opt(number),
                "sendPhase": opt(literals("resolving", "delivering", "done")),
                "lastStepAt": opt(number),
                "createdAt": number,
                "updatedAt": number,
            }
        )
        .index("by_workspace", ["workspaceId"])
        .index("by_workspace_status", ["workspaceId", "status"])
        .index("by_status_step", ["status", "lastStepAt"])
    )


campaign_tables = {
    "emailTemplates": define_table(
        {
            "workspaceId": v.id("workspaces"),
            "name": string,
            "subject": opt(string),
            "html": string,
            "variables": opt(v.array(string)),
            "category": opt(string),
            "createdAt": number,
            "updatedAt": number,
        }
    ).index("by_workspace", ["workspaceId"]),
    "emailCampaigns": campaign_table(
        {
            "workspaceId": v.id("workspaces"),
            "name": string,
            "subject": string,
            "previewText": opt(string),
            "content": string,
            "templateId": opt(v.id("emailTemplates")),
            "senderId": opt(v.id("users")),
        },
        email_campaign_stats,
    ),
    "emailCampaignRecipients": define_table(
        {
            "campaignId": v.id("emailCampaigns"),
            "visitorId": v.id("visitors"),
            "email": string,
            "trackingToken": string,
            # "sending" (this backend's own): handed to a remote provider, not yet confirmed.
            "status": literals("pending", "sending", "sent", "delivered", "opened", "clicked", "bounced", "unsubscribed"),
            "sentAt": opt(number),
            "openedAt": opt(number),
            "clickedAt": opt(number),
            "trackingEventCount": opt(number),
            "lastTrackingEventAt": opt(number),
            "attempts": opt(number),
            "error": opt(string),
            "createdAt": number,
        }
    )
    .index("by_campaign", ["campaignId"])
    .index("by_visitor", ["visitorId"])
    .index("by_campaign_status", ["campaignId", "status"])
    .index("by_tracking_token", ["trackingToken"]),
    # Addresses that asked for no more campaign email from a workspace (this backend's own).
    "emailUnsubscribes": define_table(
        {"workspaceId": v.id("workspaces"), "email": string, "campaignId": opt(v.id("emailCampaigns")), "createdAt": number}
    ).index("by_workspace_email", ["workspaceId", "email"]),
    # Agents' devices (data-model §12.3).
    "pushTokens": define_table(
        {
            "userId": v.id("users"),
            "token": string,
            "platform": literals("ios", "android"),
            "notificationsEnabled": opt(v.boolean()),
            "failureCount": opt(number),
            "lastFailureAt": opt(number),
            "lastFailureReason": opt(string),
            "disabledAt": opt(number),
            "updatedAt": opt(number),
            "createdAt": number,
        }
    )
    .index("by_user", ["userId"])
    .index("by_token", ["token"]),
    "pushCampaigns": campaign_table(
        {
            "workspaceId": v.id("workspaces"),
            "name": string,
            "title": string,
            "body": string,
            "imageUrl": opt(string),
            "data": opt(json_record),
            "deepLink": opt(string),
        },
        v.object({"sent": number, "delivered": number, "opened": number, "failed": number, "pending": opt(number)}),
    ),
    "pushCampaignRecipients": define_table(
        {
            "campaignId": v.id("pushCampaigns"),
            "recipientType": opt(literals("agent", "visitor")),
            "userId": opt(v.id("users")),
            "visitorId": opt(v.id("visitors")),
            "tokenId": v.union(v.id("pushTokens"), v.id("visitorPushTokens")),
            # "sending" (this backend's own): handed to the transport, its answer not yet recorded.
            "status": literals("pending", "sending", "sent", "delivered", "opened", "failed"),
            "sentAt": opt(number),
            "deliveredAt": opt(number),
            "openedAt": opt(number),
            "error": opt(string),
            "attempts": opt(number),
            "createdAt": number,
        }
    )
    .index("by_campaign", ["campaignId"])
    .index("by_user", ["userId"])
    .index("by_visitor", ["visitorId"])
    .index("by_campaign_status", ["campaignId", "status"]),
    # Push payloads and what became of them (data-model §14.8); with no transport configured every
    # payload is recorded here as undelivered.
    "notificationDeliveries": define_table(
        {
            "workspaceId": v.id("workspaces"),
            "eventId": opt(string),
            "eventKey": string,
            "dedupeKey": string,
            "channel": literals("push", "email", "web", "widget"),
            "recipientType": literals("agent", "visitor"),
            "userId": opt(v.id("users")),
            "visitorId": opt(v.id("visitors")),
            "tokenCount": opt(number),
            # "pending"/"sending": a push waiting for, or handed to, the transport (lib/push_dispatch).
            "status": literals("delivered", "suppressed", "failed", "pending", "sending"),
            "tokenIds": opt(v.array(string)),
            "reason": opt(string),
            "error": opt(string),
            "metadata": opt(json_record),
            "createdAt": number,
        }
    )
    .index("by_workspace", ["workspaceId"])
    .index("by_workspace_created_at", ["workspaceId", "createdAt"])
    .index("by_event", ["eventId"])
    .index("by_dedupe_key", ["dedupeKey"]),
    # Series (data-model §13).
    "series": define_table(
        {
            "workspaceId": v.id("workspaces"),
            "name": string,
            "description": opt(string),
            "entryTriggers": opt(v.array(series_trigger)),
            "entryRules": opt(audience_rules_or_segment),
            "exitRules": opt(audience_rules_or_segment),
            "goalRules": opt(audience_rules_or_segment),
            "status": literals("draft", "active", "paused", "archived"),
            "stats": opt(
                v.object(
                    {
                        "entered": number, "active": opt(number), "waiting": opt(number), "completed": number,
                        "exited": number, "goalReached": number, "failed": opt(number),
                    }
                )
            ),  # fmt: skip
            "createdAt": number,
            "updatedAt": number,
        }
    )
    .index("by_workspace", ["workspaceId"])
    .index("by_workspace_status", ["workspaceId", "status"]),
    "seriesBlocks": define_table(
        {
            "seriesId": v.id("series"),
            "type": literals("rule", "wait", "email", "push", "chat", "post", "carousel", "tag"),
            "position": v.object({"x": number, "y": number}),
            "config": series_block_config,
            "createdAt": number,
            "updatedAt": number,
        }
    ).index("by_series", ["seriesId"]),
    "seriesConnections": define_table(
        {
            "seriesId": v.id("series"),
            "fromBlockId": v.id("seriesBlocks"),
            "toBlockId": v.id("seriesBlocks"),
            "condition": opt(literals("yes", "no", "default")),
            "createdAt": number,
        }
    )
    .index("by_series", ["seriesId"])
    .index("by_from_block", ["fromBlockId"])
    .index("by_to_block", ["toBlockId"]),
    "seriesProgress": define_table(
        {
            "visitorId": v.id("visitors"),
            "seriesId": v.id("series"),
            "currentBlockId": opt(v.id("seriesBlocks")),
            "status": literals("active", "waiting", "completed", "exited", "goal_reached", "failed"),
            "waitUntil": opt(number),
            "waitEventName": opt(string),
            "attemptCount": opt(number),
            "lastExecutionError": opt(string),
            "lastBlockExecutedAt": opt(number),
            "idempotencyKeyContext": opt(string),
            "lastTriggerSource": opt(string),
            "lastTriggerEventName": opt(string),
            "enteredAt": number,
            "completedAt": opt(number),
            "exitedAt": opt(number),
            "goalReachedAt": opt(number),
            "failedAt": opt(number),
        }
    )
    .index("by_visitor", ["visitorId"])
    .index("by_series", ["seriesId"])
    .index("by_visitor_series", ["visitorId", "seriesId"])
    .index("by_status", ["seriesId", "status"])
    .index("by_visitor_status", ["visitorId", "status"])
    .index("by_series_wait_until", ["seriesId", "waitUntil"])
    # The backstop finds due waits across all series without scanning each one.
    .index("by_status_wait_until", ["status", "waitUntil"]),
    "seriesProgressHistory": define_table(
        {
            "progressId": v.id("seriesProgress"),
            "blockId": v.id("seriesBlocks"),
            "action": literals("entered", "completed", "skipped", "failed"),
            "result": opt(json_record),
            "createdAt": number,
        }
    )
    .index("by_progress", ["progressId"])
    .index("by_block", ["blockId"]),
    "seriesBlockTelemetry": define_table(
        {
            "seriesId": v.id("series"),
            "blockId": v.id("seriesBlocks"),
            "entered": number,
            "completed": number,
            "skipped": number,
            "failed": number,
            "deliveryAttempts": number,
            "deliveryFailures": number,
            "yesBranchCount": opt(number),
            "noBranchCount": opt(number),
            "defaultBranchCount": opt(number),
            "lastResult": opt(json_record),
            "updatedAt": number,
        }
    )
    .index("by_series", ["seriesId"])
    .index("by_series_block", ["seriesId", "blockId"]),
    "notificationEvents": define_table(
        {
            "workspaceId": v.id("workspaces"),
            "eventKey": string,
            "eventType": literals(
                "chat_message", "new_conversation", "assignment", "ticket_created", "ticket_status_changed", "ticket_assigned",
                "ticket_comment", "ticket_customer_reply", "ticket_resolved", "outbound_message", "carousel_trigger", "push_campaign",
            ),  # fmt: skip
            "domain": literals("chat", "ticket", "outbound", "campaign"),
            "audience": literals("agent", "visitor", "both"),
            "actorType": literals("agent", "visitor", "bot", "system"),
            "actorUserId": opt(v.id("users")),
            "actorVisitorId": opt(v.id("visitors")),
            "conversationId": opt(v.id("conversations")),
            "ticketId": opt(v.id("tickets")),
            "title": opt(string),
            "bodyPreview": opt(string),
            "createdAt": number,
        }
    )
    .index("by_workspace", ["workspaceId"])
    .index("by_workspace_created_at", ["workspaceId", "createdAt"])
    .index("by_event_key", ["eventKey"]),
    "notificationDedupeKeys": define_table(
        {
            "dedupeKey": string,
            "eventId": v.id("notificationEvents"),
            "eventKey": string,
            "workspaceId": v.id("workspaces"),
            "channel": literals("push", "email", "web", "widget"),
            "recipientType": literals("agent", "visitor"),
            "userId": opt(v.id("users")),
            "visitorId": opt(v.id("visitors")),
            "agents": opt(v.union(v.literal("all"), v.array(v.id("users")))),  # whom an agents' window covers
            "createdAt": number,
        }
    )
    .index("by_dedupe_key", ["dedupeKey"])
    .index("by_event", ["eventId"])
    .index("by_workspace", ["workspaceId"]),
}

# --- carousels, article assets, report snapshots (dashboard screens) ---------------------------
carousel_button = v.object(
    {"text": string, "action": literals("url", "dismiss", "next", "deeplink"), "url": opt(string), "deepLink": opt(string)}
)
carousel_screen = v.object(
    {"id": string, "title": opt(string), "body": opt(string), "imageUrl": opt(string), "buttons": opt(v.array(carousel_button))}
)
dashboard_content_tables = {
    "carousels": define_table(
        {
            "workspaceId": v.id("workspaces"),
            "name": string,
            "screens": v.array(carousel_screen),
            "audienceRules": opt(audience_rules_or_segment),
            "targeting": opt(audience_rules_or_segment),
            "status": literals("draft", "active", "paused", "archived"),
            "priority": opt(number),
            "createdAt": number,
            "updatedAt": number,
        }
    )
    .index("by_workspace", ["workspaceId"])
    .index("by_workspace_status", ["workspaceId", "status"]),
    "carouselImpressions": define_table(
        {
            "carouselId": v.id("carousels"),
            "visitorId": v.id("visitors"),
            "action": literals("shown", "completed", "dismissed"),
            "screenIndex": opt(number),
            "createdAt": number,
        }
    )
    .index("by_carousel", ["carouselId"])
    .index("by_visitor", ["visitorId"])
    .index("by_visitor_carousel", ["visitorId", "carouselId"]),
    "articleAssets": define_table(
        {
            "workspaceId": v.id("workspaces"),
            "articleId": opt(v.id("articles")),
            "importSourceId": opt(v.id("helpCenterImportSources")),
            "importPath": opt(string),
            "storageId": v.id("_storage"),
            "fileName": string,
            "mimeType": string,
            "size": number,
            "createdBy": opt(v.id("users")),
            "createdAt": number,
            "updatedAt": number,
        }
    )
    .index("by_workspace", ["workspaceId"])
    .index("by_workspace_article", ["workspaceId", "articleId"])
    .index("by_storage", ["storageId"])
    .index("by_import_source_path", ["importSourceId", "importPath"]),
    # One workspace's conversations of one local day, pre-aggregated (functions/lib/report_snapshots.py).
    "reportSnapshots": define_table(
        {
            "workspaceId": v.id("workspaces"),
            "dayStart": number,
            "dayEnd": number,
            "timezone": string,
            "computedAt": number,
            "total": number,
            "byStatus": v.record(string, number),
            "email": number,
            "responseDurations": v.array(number),
            "resolutionDurations": v.array(number),
            "responseSum": number,
            "responses": number,
            "resolutionSum": number,
            "resolutions": number,
            "agents": v.array(
                v.object(
                    {
                        "agentId": v.id("users"),
                        "handled": number,
                        "responseSum": number,
                        "responses": number,
                        "resolutionSum": number,
                        "resolutions": number,
                    }
                )
            ),
            # AI-handled conversations and the others, with the CSAT ratings they have had so far.
            "groups": v.record(
                string,
                v.object({"count": number, "responseSum": number, "responses": number, "ratingSum": number, "ratings": number}),
            ),
        }
    ).index("by_workspace_day", ["workspaceId", "dayStart"]),
}


schema = define_schema(
    {
        **auth_tables(),
        **workspace_tables,
        **visitor_tables,
        **inbox_tables,
        **content_tables,
        **help_center_tables,
        **settings_tables,
        **email_tables,
        **support_tables,
        **messenger_tables,
        **engagement_tables,
        **campaign_tables,
        **dashboard_content_tables,
    }
)
