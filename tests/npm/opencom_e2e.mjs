// A visitor and an agent talking through the Opencom backend with the official npm Convex client,
// for tests/opencom/test_e2e_npm.py.
//
// Usage: node opencom_e2e.mjs <deployment url> <agent email> <agent password>
// Plays one support conversation from both sides and prints one JSON line per observation:
// {"step": "<name>", "value": <Convex encoded JSON>}. The Python test asserts on those values;
// this script only decides when an expected change has arrived. Every wait is bounded: a
// subscription that never shows what the scenario waits for ends the run with
// {"step": "error", "message": ..., "lastSeen": ...} and exit code 1.

import { authenticate, Clients, Live, report, runScenario, signIn } from "./e2e_support.mjs";

const [url, email, password] = process.argv.slice(2);
const clients = new Clients(url);
const newClient = () => clients.open();

async function main() {
  // The agent signs up over the websocket, then authenticates that same connection.
  const agent = newClient();
  const signedUp = await signIn(agent, "signUp", email, password);
  report("agent_signed_up", { hasToken: typeof signedUp.tokens.token === "string" });
  report("agent_authenticated", await authenticate(agent, signedUp.tokens.token));
  const me = await new Live(agent, "auth:currentUser", {}).until((value) => value !== null, "the signed-in user");
  report("agent_current_user", me);
  const workspaceId = me.user.workspaceId;
  const userId = me.user._id;

  const inbox = new Live(agent, "conversations:list", { workspaceId });
  report("agent_inbox_before", await inbox.until(() => true, "the first inbox"));

  // The visitor: a widget session, a conversation, a first message.
  const visitor = newClient();
  const booted = await visitor.mutation("widgetSessions:boot", { workspaceId, sessionId: "e2e-browser-1" });
  const sessionToken = booted.sessionToken;
  const visitorId = booted.visitor._id;
  report("visitor_booted", { visitorId, tokenPrefix: sessionToken.slice(0, 4), tokenLength: sessionToken.length });
  const unread = new Live(visitor, "conversations:getTotalUnreadForVisitor", { workspaceId, sessionToken });
  report("visitor_unread_before", await unread.until(() => true, "the first unread count"));
  const conversation = await visitor.mutation("conversations:createForVisitor", { workspaceId, sessionToken });
  report("visitor_conversation", conversation);
  const conversationId = conversation._id;
  const thread = new Live(visitor, "messages:list", { conversationId, sessionToken });
  await visitor.mutation("messages:send", {
    conversationId,
    sessionToken,
    senderType: "visitor",
    senderId: visitorId,
    content: "Hello, is anyone there?",
  });

  // The agent's live inbox shows the conversation, waiting for them.
  const waiting = await inbox.until(
    (rows) => rows.some((row) => row._id === conversationId && row.unreadByAgent === 1),
    "the visitor's conversation with one unread message",
  );
  report("agent_inbox_with_visitor", waiting);
  await agent.mutation("conversations:markAsRead", { id: conversationId, readerType: "agent" });
  report(
    "agent_inbox_after_read",
    await inbox.until(
      (rows) => rows.some((row) => row._id === conversationId && row.unreadByAgent === 0),
      "the conversation read by the agent",
    ),
  );

  // The agent replies; the visitor's live thread and unread count follow.
  await agent.mutation("messages:send", {
    conversationId,
    senderType: "agent",
    senderId: userId,
    content: "Hi! How can I help?",
  });
  report(
    "visitor_thread",
    await thread.until(
      (messages) => messages.some((message) => message.senderType === "agent"),
      "the agent's reply",
    ),
  );
  report("visitor_unread_after_reply", await unread.until((count) => count === 1, "one unread reply"));
  await visitor.mutation("conversations:markAsRead", { id: conversationId, readerType: "visitor", sessionToken });
  report("visitor_unread_after_read", await unread.until((count) => count === 0, "the reply read"));
  report(
    "agent_inbox_after_reply",
    await inbox.until(
      (rows) => rows.some((row) => row._id === conversationId && row.unreadByVisitor === 0),
      "the visitor's read reaching the inbox",
    ),
  );

  // Without a token the inbox is closed; signing in again on a new connection opens it.
  report("anonymous_inbox", await visitor.query("conversations:list", { workspaceId }));
  const again = newClient();
  const signedIn = await signIn(again, "signIn", email, password);
  report("agent_signed_in_again", await authenticate(again, signedIn.tokens.token));
  report("agent_inbox_signed_in_again", await again.query("conversations:list", { workspaceId }));
}

await runScenario(main, clients);
