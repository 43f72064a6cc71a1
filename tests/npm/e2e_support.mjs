// What the Opencom end-to-end scenarios (tests/npm/*_e2e.mjs) share: JSON-line reports, bounded
// waits, live subscriptions that can be awaited, and agent sign-in through auth:signIn.

import { ConvexClient } from "convex/browser";
import { convexToJson } from "convex/values";

export const WAIT_MS = 20_000;

export function report(step, value) {
  process.stdout.write(JSON.stringify({ step, value: convexToJson(value ?? null) }) + "\n");
}

export function withTimeout(promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${WAIT_MS} ms waiting for ${what}`)), WAIT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// A live subscription (client.onUpdate) whose values can be awaited until one satisfies a test.
export class Live {
  constructor(client, path, args) {
    this.path = path;
    this.values = [];
    this.waiters = [];
    this.lastSeen = undefined;
    this.unsubscribe = client.onUpdate(
      path,
      args,
      (value) => this.push({ value }),
      (error) => this.push({ error }),
    );
  }
  push(item) {
    if ("value" in item) this.lastSeen = item.value;
    this.values.push(item);
    for (const waiter of this.waiters.splice(0)) waiter();
  }
  // The first value (from now on, or already delivered and not yet taken) satisfying `accept`.
  async until(accept, what) {
    const found = (async () => {
      for (;;) {
        while (this.values.length > 0) {
          const item = this.values.shift();
          if (item.error) throw item.error;
          if (accept(item.value)) return item.value;
        }
        await new Promise((resolve) => this.waiters.push(resolve));
      }
    })();
    try {
      return await withTimeout(found, `${this.path}: ${what}`);
    } catch (error) {
      error.lastSeen = this.lastSeen;
      throw error;
    }
  }
}

// The clients of one scenario, closed together at the end.
export class Clients {
  constructor(url) {
    this.url = url;
    this.all = [];
  }
  open() {
    const client = new ConvexClient(this.url, { logger: false });
    this.all.push(client);
    return client;
  }
  close() {
    return withTimeout(Promise.all(this.all.map((client) => client.close())), "the clients to close").catch(() => {});
  }
}

export function signIn(client, flow, email, password) {
  const params = { flow, email, password };
  if (flow === "signUp") Object.assign(params, { name: "E2E Agent", workspaceName: "E2E Support" });
  return client.action("auth:signIn", { provider: "password", params });
}

// Signs a new agent up on the client and waits until the server sees them; returns their user
// (with `workspaceId`, the workspace sign-up created).
export async function signUpAgent(client, email, password) {
  const signedUp = await signIn(client, "signUp", email, password);
  await authenticate(client, signedUp.tokens.token);
  const me = await new Live(client, "auth:currentUser", {}).until((value) => value !== null, "the signed-in user");
  return me.user;
}

// Hands the client a token and resolves once the server has accepted (or refused) it.
export function authenticate(client, token) {
  const changed = new Promise((resolve) => client.setAuth(async () => token, resolve));
  return withTimeout(changed, "setAuth to report the authentication state");
}

// Runs a scenario: "done" after it, or an "error" line (exit code 1) when it throws.
export async function runScenario(main, clients) {
  let exitCode = 0;
  try {
    await main();
    report("done", null);
  } catch (error) {
    exitCode = 1;
    const failure = { step: "error", message: String(error?.message ?? error) };
    failure.data = error?.data === undefined ? null : convexToJson(error.data);
    failure.lastSeen = error?.lastSeen === undefined ? null : convexToJson(error.lastSeen);
    process.stdout.write(JSON.stringify(failure) + "\n");
  }
  await clients.close();
  process.exit(exitCode);
}
