// Targeted engagement through the Opencom backend with the official npm Convex client, for
// tests/opencom/test_engagement_e2e_npm.py.
//
// Usage: node engagement_e2e.mjs <deployment url> <agent email> <agent password>
// An agent creates a segment, an active tour for a page and a survey targeted at it; two
// visitors watch the widget's live queries (tourProgress:getAvailableTours,
// surveys:getActiveSurveys): the matching one sees both, the other sees neither until it becomes
// a match. The first visitor completes the tour and answers the survey while the agent's live
// analytics follow. One JSON line per observation, as in opencom_e2e.mjs.

import { authenticate, Clients, Live, report, runScenario, signIn } from "./e2e_support.mjs";

const [url, email, password] = process.argv.slice(2);
const clients = new Clients(url);
const PAGE = "https://shop.test/app/home";
const PRO = { type: "condition", property: { source: "custom", key: "plan" }, operator: "equals", value: "pro" };

async function main() {
  const agent = clients.open();
  const signedUp = await signIn(agent, "signUp", email, password);
  await authenticate(agent, signedUp.tokens.token);
  const me = await new Live(agent, "auth:currentUser", {}).until((value) => value !== null, "the signed-in user");
  const workspaceId = me.user.workspaceId;

  // The agent's audience, tour and survey.
  const segmentId = await agent.mutation("segments:create", { workspaceId, name: "Pro plan", audienceRules: PRO });
  const audience = { segmentId };
  const tourId = await agent.mutation("tours:create", {
    workspaceId,
    name: "Welcome tour",
    audienceRules: audience,
    targetingRules: { pageUrl: "/app/*" },
  });
  for (const content of ["Welcome!", "Here is your dashboard"]) {
    await agent.mutation("tourSteps:create", { tourId, type: "post", content });
  }
  await agent.mutation("tours:activate", { id: tourId });
  const surveyId = await agent.mutation("surveys:create", {
    workspaceId,
    name: "How likely are you to recommend us?",
    format: "small",
    audienceRules: audience,
    questions: [{ id: "nps", type: "nps", title: "How likely?", required: true, storeAsAttribute: "npsScore" }],
  });
  await agent.mutation("surveys:activate", { id: surveyId });
  report("agent_created", { workspaceId, segmentId, tourId, surveyId });
  report("segment_usage", await agent.query("segments:getUsage", { id: segmentId }));
  const analytics = new Live(agent, "surveys:getAnalytics", { surveyId });
  report("analytics_before", await analytics.until(() => true, "the first analytics"));

  // Two visitors, as the widget boots them; only the first is on the pro plan.
  const visitors = {};
  for (const [name, customAttributes] of [["pro", { plan: "pro" }], ["free", { plan: "free" }]]) {
    const client = clients.open();
    const booted = await client.mutation("widgetSessions:boot", { workspaceId, sessionId: `e2e-${name}`, customAttributes });
    const session = { workspaceId, visitorId: booted.visitor._id, sessionToken: booted.sessionToken };
    visitors[name] = {
      client,
      session,
      tours: new Live(client, "tourProgress:getAvailableTours", { ...session, currentUrl: PAGE }),
      surveys: new Live(client, "surveys:getActiveSurveys", session),
    };
  }
  const pro = visitors.pro;
  const free = visitors.free;
  report("pro_tours", await pro.tours.until((rows) => rows.length > 0, "the targeted tour"));
  report("pro_surveys", await pro.surveys.until((rows) => rows.length > 0, "the targeted survey"));
  report("free_tours", await free.tours.until(() => true, "the free visitor's tours"));
  report("free_surveys", await free.surveys.until(() => true, "the free visitor's surveys"));

  // The pro visitor goes through the tour; it leaves the visitor's available tours.
  await pro.client.mutation("tourProgress:start", { ...pro.session, tourId, currentUrl: PAGE });
  const advances = [];
  for (let step = 0; step < 2; step++) {
    advances.push(await pro.client.mutation("tourProgress:advance", { ...pro.session, tourId, currentUrl: PAGE }));
  }
  report("pro_advances", advances);
  report("pro_tours_after", await pro.tours.until((rows) => rows.length === 0, "the completed tour to go"));
  report("pro_tour_list", await pro.client.query("tours:listAll", pro.session));

  // The pro visitor answers the survey; the agent's live analytics move.
  const impression = { surveyId, visitorId: pro.session.visitorId, sessionToken: pro.session.sessionToken, sessionId: "e2e-pro" };
  await pro.client.mutation("surveys:recordImpression", { ...impression, action: "shown" });
  report("analytics_shown", await analytics.until((value) => value.impressions.shown === 1, "the impression"));
  await pro.client.mutation("surveys:recordImpression", { ...impression, action: "started" });
  await pro.client.mutation("surveys:submitResponse", { ...impression, answers: [{ questionId: "nps", value: 10 }], isComplete: true });
  await pro.client.mutation("surveys:recordImpression", { ...impression, action: "completed" });
  report("analytics_answered", await analytics.until((value) => value.totalResponses === 1, "the answer"));
  report("pro_surveys_after", await pro.surveys.until((rows) => rows.length === 0, "the answered survey to go"));
  report("pro_visitor", await agent.query("visitors:get", { id: pro.session.visitorId }));

  // The free visitor upgrades: its live tours now show the tour.
  const { visitorId, sessionToken } = free.session;
  await free.client.mutation("visitors:identify", { visitorId, sessionToken, customAttributes: { plan: "pro" } });
  report("free_tours_after_upgrade", await free.tours.until((rows) => rows.length > 0, "the tour after the upgrade"));
}

await runScenario(main, clients);
