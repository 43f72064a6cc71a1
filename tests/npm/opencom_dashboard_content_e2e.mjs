// The dashboard's campaigns screen (carousels) and articles screen (images, Markdown import/export,
// embeddings backfill), call for call with apps/web's argument shapes, through the official npm
// Convex client, for tests/opencom/test_dashboard_content_e2e_npm.py.
//
// Usage: node opencom_dashboard_content_e2e.mjs <deployment url> <agent email> <agent password>

import { Clients, Live, report, runScenario, signUpAgent } from "./e2e_support.mjs";

const [url, email, password] = process.argv.slice(2);
const clients = new Clients(url);
const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]);

async function refusal(promise) {
  try {
    await promise;
    return null;
  } catch (error) {
    return error.data ?? { message: String(error.message) };
  }
}

async function upload(agent, workspaceId) {
  const uploadUrl = await agent.mutation("articles:generateAssetUploadUrl", { workspaceId });
  const response = await fetch(uploadUrl, { method: "POST", headers: { "Content-Type": "image/png" }, body: PNG });
  const again = await fetch(uploadUrl, { method: "POST", headers: { "Content-Type": "image/png" }, body: PNG });
  return { storageId: (await response.json()).storageId, reuseStatus: again.status };
}

async function main() {
  const agent = clients.open();
  const { workspaceId } = await signUpAgent(agent, email, password);

  // Campaigns screen (useCampaignsPageConvex) and the carousel editor (useCarouselEditorConvex).
  const list = new Live(agent, "carousels:list", { workspaceId });
  const empty = await list.until(() => true, "the first carousel list");
  const carouselId = await agent.mutation("carousels:create", {
    workspaceId, name: "New Carousel", screens: [{ id: "screen-1", title: "Welcome", body: "Swipe to learn more" }],
  });
  const listed = await list.until((rows) => rows.length === 1, "the new carousel listed live");
  await agent.mutation("carousels:update", {
    id: carouselId, name: "Onboarding", priority: 2,
    screens: [{ id: "screen-1", title: "Welcome", body: "", buttons: [{ text: "Docs", action: "url", url: "https://opencom.dev" }] }],
  });
  await agent.mutation("carousels:activate", { id: carouselId });
  const editor = await agent.query("carousels:get", { id: carouselId });
  const stats = await agent.query("carousels:getStats", { id: carouselId });
  const copyId = await agent.mutation("carousels:duplicate", { id: carouselId });
  await agent.mutation("carousels:pause", { id: carouselId });
  const badUrl = await refusal(agent.mutation("carousels:update", {
    id: carouselId, screens: [{ id: "s", title: "t", buttons: [{ text: "x", action: "url", url: "ftp://nope" }] }],
  }));
  await agent.mutation("carousels:remove", { id: copyId });
  const after = await list.until((rows) => rows.length === 1 && rows[0].status === "paused", "the removed copy gone live");
  report("carousels", {
    empty, listedName: listed[0].name, editor, stats, badUrl,
    after: after.map((row) => [row._id === carouselId, row.name, row.status]),
  });

  // Article editor (useArticleEditorConvex): an image uploaded, saved, referenced, rendered, deleted.
  const articleId = await agent.mutation("articles:create", { workspaceId, title: "Screenshots", content: "draft" });
  const assets = new Live(agent, "articles:listAssets", { workspaceId, articleId });
  await assets.until((rows) => rows.length === 0, "no images yet");
  const { storageId, reuseStatus } = await upload(agent, workspaceId);
  const saved = await agent.mutation("articles:saveAsset", { workspaceId, articleId, storageId, fileName: "Screen Shot.png" });
  const listedAssets = await assets.until((rows) => rows.length === 1, "the saved image listed live");
  await agent.mutation("articles:update", { id: articleId, content: `![shot](${saved.reference})` });
  const article = await agent.query("articles:get", { id: articleId });
  const image = await fetch(article.renderedContent.slice("![shot](".length, -1));
  const stillUsed = await refusal(agent.mutation("articles:deleteAsset", { workspaceId, assetId: saved.assetId }));
  await agent.mutation("articles:update", { id: articleId, content: "no image" });
  const deleted = await agent.mutation("articles:deleteAsset", { workspaceId, assetId: saved.assetId });
  await assets.until((rows) => rows.length === 0, "the deleted image gone live");
  report("assets", {
    reuseStatus, saved: { fileName: saved.fileName, mimeType: saved.mimeType, size: saved.size, reference: saved.reference.startsWith("oc-asset://") },
    listed: listedAssets.map((row) => row.reference === saved.reference && row.url === saved.url),
    imageStatus: image.status, imageBytes: (await image.arrayBuffer()).byteLength, stillUsed, deleted,
  });

  // Articles screen (useArticlesAdminConvex): a Markdown folder previewed, imported, exported,
  // re-imported without one file, restored; then the embeddings backfill.
  const sources = new Live(agent, "helpCenterImports:listSources", { workspaceId });
  await sources.until((rows) => rows.length === 0, "no import sources yet");
  const images = await upload(agent, workspaceId);
  const files = [
    { relativePath: "handbook/start/intro.md", content: "# Introduction\n\n![logo](../img/logo.png)" },
    { relativePath: "handbook/start/setup.md", content: "# Setup\n\nInstall it." },
  ];
  const assetsArg = [{ relativePath: "handbook/img/logo.png", storageId: images.storageId, mimeType: "image/png", size: PNG.length }];
  const preview = await agent.mutation("helpCenterImports:syncMarkdownFolder", {
    workspaceId, sourceName: "Handbook", files, assets: assetsArg.map(({ storageId, ...rest }) => rest), publishByDefault: true, dryRun: true,
  });
  const applied = await agent.mutation("helpCenterImports:syncMarkdownFolder", {
    workspaceId, sourceName: "Handbook", files, assets: assetsArg, publishByDefault: true, dryRun: false,
  });
  const listedSources = await sources.until((rows) => rows.length === 1, "the import source listed live");
  const exported = await agent.query("helpCenterImports:exportMarkdown", { workspaceId, sourceId: applied.sourceId, includeDrafts: true });
  const reimported = await agent.mutation("helpCenterImports:syncMarkdownFolder", {
    workspaceId, sourceName: "Handbook", files: files.slice(0, 1), assets: assetsArg, publishByDefault: true,
  });
  const history = await agent.query("helpCenterImports:listHistory", { workspaceId, sourceId: applied.sourceId });
  const restored = await agent.mutation("helpCenterImports:restoreRun", {
    workspaceId, sourceId: applied.sourceId, importRunId: reimported.importRunId,
  });
  const backfill = await agent.action("embeddings:backfillExisting", { workspaceId, contentTypes: ["article", "internalArticle"] });
  report("imports", {
    preview: preview.preview, dryRun: preview.dryRun, created: applied.createdArticles, stripped: applied.strippedRootFolder,
    source: listedSources[0].sourceName, exported: exported.files.map((file) => [file.path, file.type]),
    deleted: reimported.deletedArticles, history: history.map((run) => [run.importRunId === reimported.importRunId, run.restorableEntries]),
    restored, backfill,
  });
}

await runScenario(main, clients);
