// A dashboard page load, played by the official npm client against the Opencom app: a fresh
// client whose socket is open subscribes to auth:currentUser, and only then (as the auth library
// does once it has read its stored token) calls setAuth with a token that arrives a little later.
// Reports, per reload, every value the subscription took ("user" or null).
//
// Usage: node dashboard_reload_e2e.mjs <deployment url> <agent email> <agent password>

import { Clients, report, runScenario, signIn, withTimeout } from "./e2e_support.mjs";

const [url, email, password] = process.argv.slice(2);
const RELOADS = 5;
const TOKEN_DELAY_MS = 20; // the token read after the subscription has left
const clients = new Clients(url);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function connected(client) {
  while (!client.connectionState().isWebSocketConnected) await sleep(2);
}

async function reload(token, round) {
  const client = clients.open();
  await withTimeout(connected(client), "the socket to open");
  const values = [];
  const signedIn = new Promise((resolve) => {
    client.onUpdate("auth:currentUser", {}, (value) => {
      values.push(value === null ? null : "user");
      if (value !== null) resolve();
    });
  });
  await sleep(1); // the subscription is on the wire before setAuth pauses the socket
  client.setAuth(async () => {
    await sleep(TOKEN_DELAY_MS);
    return token;
  });
  await withTimeout(signedIn, "auth:currentUser to show the user");
  await sleep(50); // anything still on its way would show up now
  report(`reload_${round}`, values);
  await client.close();
}

runScenario(async () => {
  const { tokens } = await signIn(clients.open(), "signUp", email, password);
  for (let round = 0; round < RELOADS; round++) await reload(tokens.token, round);
}, clients);
