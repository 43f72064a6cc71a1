// What the end-to-end scenarios (opencom_e2e.mjs, opencom_widget_e2e.mjs) share: one JSON line per
// observation, bounded waits, live subscriptions to wait on, and the run's ending.
//
// A scenario prints {"step": "<name>", "value": <Convex encoded JSON>} lines; a failure prints
// {"step": "error", "message", "data", "lastSeen"} and exits 1. Every wait is bounded by WAIT_MS.

import { ConvexClient } from "convex/browser";
import { convexToJson } from "convex/values";

export const WAIT_MS = 20_000;
const clients = [];

export function report(step, value) {
  process.stdout.write(JSON.stringify({ step, value: convexToJson(value ?? null) }) + "\n");
}

export function newClient(url) {
  const client = new ConvexClient(url, { logger: false });
  clients.push(client);
  return client;
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
  first() {
    return this.until(() => true, "a first answer");
  }
}

// Runs the scenario, reports "done" or the error, closes every client and exits.
export async function runScenario(main) {
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
  await withTimeout(Promise.all(clients.map((client) => client.close())), "the clients to close").catch(() => {});
  process.exit(exitCode);
}
