// Opencom's agent dashboard, call for call, through the official npm Convex client, for
// tests/opencom/test_dashboard_e2e_npm.py.
//
// Usage: node opencom_dashboard_e2e.mjs <deployment url> <agent email> <agent password> <teammate email>
// The agent signs up with @convex-dev/auth's call, the shell's queries answer, the inbox (a live
// first page) pages through 1,000 conversations while visitors write, the agent replies, assigns,
// tags and closes; an invited teammate signs up and sees the same inbox; reports count it all.

import { authenticate, Clients, Live, report, runScenario, signIn } from "./e2e_support.mjs";

const [url, email, password, teammateEmail] = process.argv.slice(2);
const VISITORS = 10;
const PER_VISITOR = 100;
const BATCH = 50;
const clients = new Clients(url);
const first = (live) => live.until(() => true, "a first answer");

async function render(client, queries) {
  const answers = {};
  for (const [name, [path, args]] of Object.entries(queries)) answers[name] = await first(new Live(client, path, args));
  return answers;
}

async function inBatches(tasks) {
  const results = [];
  for (let i = 0; i < tasks.length; i += BATCH) results.push(...(await Promise.all(tasks.slice(i, i + BATCH).map((t) => t()))));
  return results;
}

async function main() {
  const discovery = await fetch(`${url}/.well-known/opencom.json`);
  report("discovery", await discovery.json());

  const agent = clients.open();
  const signedUp = await signIn(agent, "signUp", email, password);
  await authenticate(agent, signedUp.tokens.token);
  const me = await new Live(agent, "auth:currentUser", {}).until((value) => value !== null, "the signed-in user");
  const workspaceId = me.user.workspaceId;
  const userId = me.user._id;
  report("agent", { userId, workspaceId });

  // The global shell (AuthContext, AppSidebar, the suggestions panel) on every page.
  report("shell", await render(agent, {
    onboarding: ["workspaces:getHostedOnboardingState", { workspaceId }],
    signals: ["workspaces:getHostedOnboardingIntegrationSignals", { workspaceId }],
    sidebar: ["conversations:list", { workspaceId }],
    ai: ["aiAgent:getSettings", { workspaceId }],
    workspace: ["workspaces:get", { id: workspaceId }],
    members: ["workspaceMembers:listByWorkspace", { workspaceId }],
  }));

  // The articles screen (useArticlesAdminConvex) beside the help-center import history.
  report("articles_screen", await render(agent, {
    articles: ["articles:list", { workspaceId }],
    collections: ["collections:listHierarchy", { workspaceId }],
    sources: ["helpCenterImports:listSources", { workspaceId }],
    history: ["helpCenterImports:listHistory", { workspaceId }],
  }));

  // Visitors open 1,000 conversations.
  const visitors = await inBatches(Array.from({ length: VISITORS }, (_, n) => async () => {
    const client = clients.open();
    const booted = await client.mutation("widgetSessions:boot", { workspaceId, sessionId: `dashboard-e2e-${n}` });
    return { client, visitorId: booted.visitor._id, sessionToken: booted.sessionToken };
  }));
  const opened = await inBatches(Array.from({ length: VISITORS * PER_VISITOR }, (_, n) => async () => {
    const visitor = visitors[n % VISITORS];
    const conversation = await visitor.client.mutation("conversations:createForVisitor", {
      workspaceId, visitorId: visitor.visitorId, sessionToken: visitor.sessionToken,
    });
    return { visitor, conversationId: conversation._id };
  }));
  report("opened", opened.length);

  // The inbox: a live first page, then every page, while visitors keep writing.
  const inbox = new Live(agent, "conversations:listForInbox", { workspaceId });
  await first(inbox);
  const newest = opened.slice(-5);
  const writing = (async () => {
    for (const [n, { visitor, conversationId }] of newest.entries()) {
      await visitor.client.mutation("messages:send", {
        conversationId, senderId: visitor.visitorId, senderType: "visitor", content: `help ${n}`,
        attachmentIds: [], visitorId: visitor.visitorId, sessionToken: visitor.sessionToken,
      });
    }
  })();
  const seen = new Set();
  let cursor = null;
  let pages = 0;
  do {
    const page = await agent.query("conversations:listForInbox", { workspaceId, limit: 100, cursor });
    for (const row of page.conversations) seen.add(row._id);
    cursor = page.nextCursor;
    pages += 1;
  } while (cursor !== null && pages < 50);
  await writing;
  report("paged", { pages, distinct: seen.size, all: opened.every(({ conversationId }) => seen.has(conversationId)) });
  const target = newest[4];
  const live = await inbox.until(
    (value) => value.conversations[0]?._id === target.conversationId && value.conversations[0].lastMessage?.content === "help 4",
    "the latest visitor message on top",
  );
  report("live_top", { unread: live.conversations[0].unreadByAgent, visitor: live.conversations[0].visitor?._id });

  // The agent replies, assigns, tags and closes.
  const conversationId = target.conversationId;
  await agent.mutation("messages:send", {
    conversationId, senderId: userId, senderType: "agent", content: "On it!", attachmentIds: [],
  });
  await agent.mutation("conversations:markAsRead", { id: conversationId, readerType: "agent" });
  await agent.mutation("conversations:assign", { id: conversationId, agentId: userId });
  const tagId = await agent.mutation("tags:create", { workspaceId, name: "billing" });
  await agent.mutation("tags:addToConversation", { conversationId, tagId });
  await agent.mutation("conversations:updateStatus", { id: conversationId, status: "closed" });
  const thread = await first(new Live(target.visitor.client, "messages:list", {
    conversationId, visitorId: target.visitor.visitorId, sessionToken: target.visitor.sessionToken,
  }));
  const closed = await agent.query("conversations:listForInbox", { workspaceId, status: "closed" });
  report("handled", {
    lastMessage: thread[thread.length - 1].content,
    tags: (await agent.query("tags:getConversationTags", { conversationId })).map((tag) => tag.name),
    closed: closed.conversations.map((row) => [row._id, row.assignedAgentId]),
  });

  // An invited teammate signs up and sees the same inbox.
  report("invited", await agent.action("workspaceMembers:inviteToWorkspace", {
    workspaceId, email: teammateEmail, role: "agent", baseUrl: "https://app.example.com",
  }));
  const teammate = clients.open();
  const joined = await signIn(teammate, "signUp", teammateEmail, password);
  await authenticate(teammate, joined.tokens.token);
  const mine = await agent.query("conversations:listForInbox", { workspaceId });
  const theirs = await first(new Live(teammate, "conversations:listForInbox", { workspaceId }));
  report("teammate", {
    same: JSON.stringify(mine.conversations.map((row) => row._id)) === JSON.stringify(theirs.conversations.map((row) => row._id)),
    count: theirs.conversations.length,
    members: (await agent.query("workspaceMembers:listByWorkspace", { workspaceId })).map((m) => [m.email, m.role]),
  });

  // Reports reflect the conversations.
  const range = { workspaceId, startDate: 0, endDate: Date.now() + 60_000 };
  report("reports", {
    volume: await agent.query("reporting:getConversationMetrics", range),
    agents: await agent.query("reporting:getAgentMetrics", range),
    summary: await agent.query("reporting:getDashboardSummary", range),
    workload: await agent.query("reporting:getAgentWorkloadDistribution", { workspaceId }),
  });
}

runScenario(main, clients);
