// Drives the official npm Convex clients for tests/test_official_npm_client.py.
//
// Usage: node driver.mjs <deployment url>
// Reads one JSON command per stdin line and answers each with one JSON line on stdout carrying
// the same "id". Values cross the pipe in Convex's encoded JSON, so int64 and bytes stay exact.
// Commands run concurrently: a pending "next" does not hold up later commands.
//
//   {"id":1,"op":"query"|"mutation"|"action","client":"a","path":"messages:list","args":{}}
//   {"id":2,"op":"http_query"|"http_mutation"|"http_action","path":...,"args":...}
//   {"id":3,"op":"subscribe","client":"a","sub":"s1","path":...,"args":...}
//   {"id":4,"op":"next","sub":"s1"}          -> the subscription's next update (value or error)
//   {"id":5,"op":"close"}                     -> closes every client, then the process exits
//
// Answers: {"id":1,"ok":true,"value":<json>} or {"id":1,"ok":false,"name":"ConvexError",
// "message":"...","data":<json>} ("data" only for ConvexError).

import { createInterface } from "node:readline";
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { convexToJson, jsonToConvex } from "convex/values";

const url = process.argv[2];
const clients = new Map();
const subscriptions = new Map();
const http = new ConvexHttpClient(url, { logger: false });

function client(name) {
  if (!clients.has(name)) {
    clients.set(name, new ConvexClient(url, { logger: false }));
  }
  return clients.get(name);
}

function reply(message) {
  process.stdout.write(JSON.stringify(message) + "\n");
}

function failure(id, error) {
  const answer = { id, ok: false, name: error.name ?? "Error", message: String(error.message ?? error) };
  if (error.name === "ConvexError" && error.data !== undefined) {
    answer.data = convexToJson(error.data);
  }
  return answer;
}

// One subscription: updates queue up until a "next" takes them, so none is missed.
class Updates {
  constructor() {
    this.queue = [];
    this.waiters = [];
  }
  push(item) {
    const waiter = this.waiters.shift();
    if (waiter) waiter(item);
    else this.queue.push(item);
  }
  next() {
    if (this.queue.length > 0) return Promise.resolve(this.queue.shift());
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

async function run(command) {
  const args = command.args === undefined ? {} : jsonToConvex(command.args);
  switch (command.op) {
    case "query":
    case "mutation":
    case "action":
      return client(command.client ?? "a")[command.op](command.path, args);
    case "http_query":
      return http.query(command.path, args);
    case "http_mutation":
      return http.mutation(command.path, args);
    case "http_action":
      return http.action(command.path, args);
    case "subscribe": {
      const updates = new Updates();
      const unsubscribe = client(command.client ?? "a").onUpdate(
        command.path,
        args,
        (value) => updates.push({ ok: true, value }),
        (error) => updates.push({ ok: false, error }),
      );
      subscriptions.set(command.sub, { updates, unsubscribe });
      return null;
    }
    case "next": {
      const item = await subscriptions.get(command.sub).updates.next();
      if (!item.ok) throw item.error;
      return item.value;
    }
    case "close":
      for (const each of clients.values()) await each.close();
      return null;
    default:
      throw new Error(`unknown op ${command.op}`);
  }
}

const lines = createInterface({ input: process.stdin });
lines.on("line", (line) => {
  const command = JSON.parse(line);
  run(command).then(
    (value) => {
      reply({ id: command.id, ok: true, value: convexToJson(value === undefined ? null : value) });
      if (command.op === "close") process.exit(0);
    },
    (error) => reply(failure(command.id, error)),
  );
});
lines.on("close", () => process.exit(0));
