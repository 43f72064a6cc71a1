// Opencom's widget, call for call, through the official npm Convex client, for
// tests/opencom/test_widget_e2e_npm.py.
//
// Usage: node opencom_widget_e2e.mjs <deployment url> <agent email> <agent password>
// Makes the calls apps/widget makes, in its order and with its argument shapes: boot, every query
// the messenger home renders, the help center (browse, search, read), a conversation started with
// an attachment, the agent's live inbox and reply, the visitor's live thread, a ticket filed and
// listed. Reports and waits as e2e_support.mjs describes.

import { authenticate, Clients, Live, report, runScenario, signIn } from "./e2e_support.mjs";

const [url, email, password] = process.argv.slice(2);
const ORIGIN = "https://shop.example.com";
const PAGE = `${ORIGIN}/pricing`;
const clients = new Clients(url);
const newClient = () => clients.open();
const first = (live) => live.until(() => true, "a first answer");

// Subscribes to every query, as one render does, and waits for each one's first answer.
async function render(client, queries) {
  const lives = Object.entries(queries).map(([name, [path, args]]) => [name, new Live(client, path, args)]);
  const answers = {};
  for (const [name, live] of lives) answers[name] = await first(live);
  return { answers, lives: Object.fromEntries(lives) };
}

async function main() {
  // The agent signs up; its client is authenticated for the inbox.
  const agent = newClient();
  const signedUp = await signIn(agent, "signUp", email, password);
  await authenticate(agent, signedUp.tokens.token);
  const me = await new Live(agent, "auth:currentUser", {}).until((value) => value !== null, "the signed-in user");
  const workspaceId = me.user.workspaceId;
  report("agent", { userId: me.user._id, workspaceId });
  const guides = await agent.mutation("collections:create", { workspaceId, name: "Guides" });
  const refund = await agent.mutation("articles:create", {
    workspaceId, collectionId: guides, title: "How refunds work", content: "Refunds reach your card within 5 days.",
  });
  await agent.mutation("articles:publish", { id: refund });

  // Boot, as useWidgetShellValidation, useWidgetSettings and useWidgetSession do it.
  const widget = newClient();
  const sessionId = "widget-e2e-session";
  const shell = await render(widget, {
    workspace: ["workspaces:get", { id: workspaceId }],
    origin: ["workspaces:validateOrigin", { workspaceId, origin: ORIGIN }],
    settings: ["messengerSettings:getPublicSettings", { workspaceId }],
  });
  report("shell", shell.answers);
  const booted = await widget.mutation("widgetSessions:boot", {
    workspaceId,
    sessionId,
    device: { browser: "Chrome", os: "Linux", deviceType: "desktop" },
    currentUrl: PAGE,
    customAttributes: {},
    origin: ORIGIN,
    clientType: "web_widget",
  });
  const sessionToken = booted.sessionToken;
  const visitorId = booted.visitor._id;
  report("booted", { visitorId, hasToken: sessionToken.startsWith("wst_") });
  const geolocation = await fetch(`${url}/geolocation`, { headers: { Origin: ORIGIN, "X-Workspace-Id": workspaceId } });
  report("geolocation", { status: geolocation.status, body: await geolocation.json() });
  await widget.mutation("events:trackAutoEvent", {
    workspaceId, visitorId, sessionToken, eventType: "session_start", url: PAGE, sessionId,
  });
  await widget.mutation("visitors:heartbeat", { visitorId, sessionToken, origin: ORIGIN });

  // Every query the messenger home renders (Widget.tsx, Home.tsx, the overlays), each with its shape.
  const visitorArgs = { workspaceId, visitorId, sessionToken };
  const home = await render(widget, {
    conversations: ["conversations:listByVisitor", { visitorId, sessionToken, workspaceId }],
    unread: ["conversations:getTotalUnreadForVisitor", { visitorId, sessionToken, workspaceId }],
    automation: ["automationSettings:getOrCreate", { workspaceId }],
    commonIssues: ["commonIssueButtons:list", { workspaceId }],
    officeHours: ["officeHours:isCurrentlyOpen", { workspaceId }],
    replyTime: ["officeHours:getExpectedReplyTime", { workspaceId }],
    availableTours: ["tourProgress:getAvailableTours", { ...visitorArgs, currentUrl: PAGE }],
    allTours: ["tours:listAll", visitorArgs],
    checklists: ["checklists:getEligible", visitorArgs],
    surveys: ["surveys:getActiveSurveys", visitorArgs],
    tooltips: ["tooltips:getAvailableTooltips", { ...visitorArgs, triggerContext: { currentUrl: PAGE } }],
    outbound: ["outboundMessages:getEligible", { ...visitorArgs, currentUrl: PAGE, sessionId }],
    homeConfig: ["messengerSettings:getPublicHomeConfig", { workspaceId, isIdentified: false }],
    articles: ["articles:listForVisitor", visitorArgs],
    collections: ["collections:listHierarchyForVisitor", visitorArgs],
    ticketForm: ["ticketForms:getDefaultForVisitor", { workspaceId }],
    tickets: ["tickets:listByVisitor", { visitorId, sessionToken, workspaceId }],
  });
  report("home", home.answers);

  // The help center: browse (already subscribed above), search, read an article (Widget.tsx, HelpCenter.tsx).
  const found = await first(new Live(widget, "articles:searchForVisitor", { ...visitorArgs, query: "refunds" }));
  report("help_search", found);
  report("help_article", await first(new Live(widget, "articles:getForVisitor", { id: found[0]._id, ...visitorArgs })));

  // A conversation started with an attachment (useWidgetConversationFlow, uploadSupportAttachments).
  const conversation = await widget.mutation("conversations:createForVisitor", visitorArgs);
  const conversationId = conversation._id;
  const view = await render(widget, {
    messages: ["messages:list", { conversationId, visitorId, sessionToken }],
    visitor: ["visitors:getBySession", { sessionId }],
    ai: ["aiAgent:getPublicSettings", { workspaceId }],
    aiResponses: ["aiAgent:getConversationResponses", { conversationId, visitorId, sessionToken }],
    conversation: ["conversations:get", { id: conversationId, visitorId }],
  });
  report("conversation_view", view.answers);
  const uploadUrl = await widget.mutation("supportAttachments:generateUploadUrl", visitorArgs);
  const uploaded = await fetch(uploadUrl, { method: "POST", headers: { "Content-Type": "image/png" }, body: "PNG-BYTES" });
  const { storageId } = await uploaded.json();
  const staged = await widget.mutation("supportAttachments:finalizeUpload", {
    ...visitorArgs, storageId, fileName: "screenshot.png",
  });
  report("staged", staged);
  await widget.mutation("messages:send", {
    conversationId,
    senderId: visitorId,
    senderType: "visitor",
    content: "The checkout button is broken",
    attachmentIds: [staged.attachmentId],
    visitorId,
    sessionToken,
  });

  // The agent's live inbox shows it; the agent reads the thread, the file, and replies.
  const inbox = new Live(agent, "conversations:list", { workspaceId });
  report("inbox", await inbox.until((rows) => rows.some((row) => row._id === conversationId && row.unreadByAgent === 1),
    "the visitor's conversation"));  // prettier-ignore
  const agentThread = await new Live(agent, "messages:list", { conversationId }).until(
    (messages) => messages.some((message) => message.attachments.length > 0), "the message with its attachment");
  report("agent_thread", agentThread);
  const file = agentThread.find((message) => message.attachments.length > 0).attachments[0];
  report("attachment_download", await (await fetch(file.url)).text());
  await agent.mutation("messages:send", {
    conversationId, senderType: "agent", senderId: me.user._id, content: "Fixed, try again!", attachmentIds: [],
  });

  // The visitor's live thread shows the reply.
  report("visitor_thread", await view.lives.messages.until(
    (messages) => messages.some((message) => message.senderType === "agent"), "the agent's reply"));  // prettier-ignore

  // The visitor files a ticket (useWidgetTicketFlow) and sees it listed.
  const ticketId = await widget.mutation("tickets:create", {
    workspaceId, visitorId, sessionToken, subject: "Refund", description: "Charged twice", attachmentIds: [],
    formData: {},
  });
  report("ticket_list", await home.lives.tickets.until((rows) => rows.some((row) => row._id === ticketId),
    "the new ticket"));  // prettier-ignore
  report("ticket", await widget.query("tickets:get", { id: ticketId, visitorId, sessionToken }));
}

await runScenario(main, clients);
