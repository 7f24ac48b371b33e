// A relying party written with Node's `openid-client` (v6, a certified strict RP library),
// driven one step at a time by the test over stdin/stdout, one JSON object per line:
//   {"op": "discover", "issuer", "client_id", "client_secret"}  -> {"issuer"}
//   {"op": "authorize", "redirect_uri", "scope", ...extra}      -> {"url"}
//   {"op": "callback", "url"}       -> {"claims", "scope"}  (code + PKCE + nonce + state,
//                                      id_token signature and claims checked by the library)
//   {"op": "userinfo"}              -> the UserInfo response (its sub checked)
//   {"op": "refresh"}               -> {"claims"}  (the refreshed id_token, checked)
//   {"op": "logout", "post_logout_redirect_uri"} -> {"url", "state"}
// An error answers {"error": message}. The library comes from var/node_modules
// (`make node-deps`), named by C42_NODE_MODULES.
import { createInterface } from "node:readline";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const modules = process.env.C42_NODE_MODULES;
const client = await import(pathToFileURL(join(modules, "openid-client", "build", "index.js")));

let config;
let pending;
let tokens;
let claims;

async function handle(command) {
  switch (command.op) {
    case "discover": {
      // The test server is plain http on loopback: allowed explicitly, as the library asks.
      config = await client.discovery(
        new URL(command.issuer),
        command.client_id,
        command.client_secret,
        undefined,
        { execute: [client.allowInsecureRequests] },
      );
      return { issuer: config.serverMetadata().issuer };
    }
    case "authorize": {
      const { op, redirect_uri, scope, ...extra } = command;
      const verifier = client.randomPKCECodeVerifier();
      pending = {
        verifier,
        nonce: client.randomNonce(),
        state: client.randomState(),
        redirect_uri,
      };
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri,
        scope,
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: "S256",
        nonce: pending.nonce,
        state: pending.state,
        ...extra,
      });
      return { url: url.href };
    }
    case "callback": {
      tokens = await client.authorizationCodeGrant(
        config,
        new URL(command.url),
        {
          pkceCodeVerifier: pending.verifier,
          expectedNonce: pending.nonce,
          expectedState: pending.state,
          idTokenExpected: true,
        },
        { redirect_uri: pending.redirect_uri },
      );
      claims = tokens.claims();
      return { claims, scope: tokens.scope };
    }
    case "userinfo": {
      return await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    }
    case "refresh": {
      const previous = claims;
      tokens = await client.refreshTokenGrant(config, tokens.refresh_token);
      claims = tokens.claims();
      if (claims.sub !== previous.sub) throw new Error("refreshed id_token: another sub");
      return { claims };
    }
    case "logout": {
      const state = client.randomState();
      const url = client.buildEndSessionUrl(config, {
        post_logout_redirect_uri: command.post_logout_redirect_uri,
        id_token_hint: tokens.id_token,
        state,
      });
      return { url: url.href, state };
    }
    default:
      throw new Error(`unknown op ${command.op}`);
  }
}

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  let answer;
  try {
    answer = await handle(JSON.parse(line));
  } catch (error) {
    answer = { error: `${error.name}: ${error.message}${error.code ? ` (${error.code})` : ""}` };
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
}
