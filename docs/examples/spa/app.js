// A single-page app on C42: OAuth 2.0 authorization code flow with PKCE (RFC 7636), then the
// API with the Bearer token, from the browser. Register it as a public app with its origin:
//   c42 app create --service SERVICE_ID --name Planner --public \
//     --redirect-uri https://planner.example/callback --origin https://planner.example
// Tokens live in memory only (a reload means connecting again); the PKCE verifier and the
// state survive the redirect in sessionStorage.
"use strict";

const config = window.C42_CONFIG; // {server, issuer?, clientId, redirectUri, scope}
const issuer = config.issuer || config.server; // C42_ISSUER, if C42 runs behind another name
let tokens = null; // {access_token, refresh_token, expires_in, scope, token_type}

function base64url(bytes) {
  return btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString() {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

async function connect() {
  const verifier = randomString();
  const state = randomString();
  const challenge = base64url(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  sessionStorage.setItem("c42-pkce", JSON.stringify({verifier, state}));
  const url = new URL("/oauth2/authorize/", config.server);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: config.clientId,
    redirect_uri: config.redirectUri,
    scope: config.scope,
    state: state,
    code_challenge: challenge,
    code_challenge_method: "S256",
  });
  location.assign(url);
}

async function tokenRequest(form) {
  const answer = await fetch(new URL("/oauth2/token/", config.server), {
    method: "POST",
    body: new URLSearchParams({client_id: config.clientId, ...form}),
  });
  const body = await answer.json();
  if (!answer.ok) throw new Error(`${body.error}: ${body.error_description || ""}`);
  tokens = body;
  return body;
}

async function finishLogin() {
  const params = new URLSearchParams(location.search);
  const saved = JSON.parse(sessionStorage.getItem("c42-pkce") || "null");
  sessionStorage.removeItem("c42-pkce");
  if (params.get("error")) throw new Error(`authorization refused: ${params.get("error")}`);
  if (!saved || params.get("state") !== saved.state) throw new Error("state mismatch");
  if (params.get("iss") !== issuer) throw new Error("unexpected issuer"); // RFC 9207
  await tokenRequest({
    grant_type: "authorization_code",
    code: params.get("code"),
    redirect_uri: config.redirectUri,
    code_verifier: saved.verifier,
  });
  history.replaceState(null, "", "/"); // the code is used: drop it from the address bar
}

// Every API call: the Bearer token, and what the page needs from the answer (the status,
// the body, the WWW-Authenticate challenge of a 401).
async function api(path, {method = "GET", body} = {}) {
  const headers = {Authorization: `Bearer ${tokens.access_token}`};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const answer = await fetch(new URL(path, config.server), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return {
    status: answer.status,
    body: answer.status === 204 ? null : await answer.json(),
    challenge: answer.headers.get("WWW-Authenticate"),
  };
}

function refresh() {
  return tokenRequest({grant_type: "refresh_token", refresh_token: tokens.refresh_token});
}

async function disconnect() {
  // RFC 7009: revoking the refresh token ends the grant; its access tokens stop too.
  for (const token of [tokens.refresh_token, tokens.access_token]) {
    await fetch(new URL("/oauth2/revoke/", config.server), {
      method: "POST",
      body: new URLSearchParams({client_id: config.clientId, token}),
    });
  }
}

async function showCalendars() {
  const answer = await api("/api/v2/calendars/");
  const list = document.getElementById("calendars");
  list.replaceChildren(...answer.body.data.map((calendar) => {
    const item = document.createElement("li");
    item.textContent = calendar.name;
    return item;
  }));
}

window.planner = {api, refresh, disconnect, tokens: () => tokens};

document.getElementById("connect").addEventListener("click", connect);
if (location.pathname === "/callback") {
  const status = document.getElementById("status");
  finishLogin()
    .then(showCalendars)
    .then(() => { status.textContent = "Connected."; })
    .catch((error) => { status.textContent = `Failed: ${error.message}`; });
}
