// provider.mjs runs oidc-provider (https://github.com/panva/node-oidc-provider, OpenID Certified) for the
// interop tests in auth/interop. It is a test fixture, not a production configuration: the accounts are
// fixed, the dev interactions accept any password, keys are generated at start-up and nothing persists.
//
//   node provider.mjs --client-id app --client-secret s3cret \
//     --redirect-uri http://127.0.0.1:3000/auth/callback \
//     --post-logout-redirect-uri http://127.0.0.1:3000/ \
//     --backchannel-logout-uri http://127.0.0.1:3000/auth/backchannel-logout [--port 0]
//
// Every flag may instead come from the environment (OP_PORT, OP_CLIENT_ID, OP_CLIENT_SECRET,
// OP_REDIRECT_URIS, OP_POST_LOGOUT_REDIRECT_URIS, OP_BACKCHANNEL_LOGOUT_URI; lists space-separated).
// The server listens on 127.0.0.1 only. Its first line on stdout is "READY <issuer>"; everything else goes
// to stderr. It exits when stdin closes, so it cannot outlive the test process that started it.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

const env = (name) => (process.env[name] ?? '').trim();
const list = (name) => env(name).split(/\s+/).filter(Boolean);

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: env('OP_PORT') || '0' },
    'client-id': { type: 'string', default: env('OP_CLIENT_ID') },
    'client-secret': { type: 'string', default: env('OP_CLIENT_SECRET') },
    'redirect-uri': { type: 'string', multiple: true, default: list('OP_REDIRECT_URIS') },
    'post-logout-redirect-uri': { type: 'string', multiple: true, default: list('OP_POST_LOGOUT_REDIRECT_URIS') },
    'backchannel-logout-uri': { type: 'string', default: env('OP_BACKCHANNEL_LOGOUT_URI') },
  },
  strict: true,
});

function fail(msg) {
  process.stderr.write(`provider.mjs: ${msg}\n`);
  process.exit(2);
}
if (!args['client-id']) fail('--client-id (or OP_CLIENT_ID) is required');
if (!args['client-secret']) fail('--client-secret (or OP_CLIENT_SECRET) is required');
if (args['redirect-uri'].length === 0) fail('at least one --redirect-uri (or OP_REDIRECT_URIS) is required');
const port = Number(args.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port: expected 0..65535, got ${JSON.stringify(args.port)}`);

// The people who can sign in. The dev interactions' login form takes the account id as "login" and
// accepts any password.
const accounts = {
  ada: {
    sub: 'ada',
    name: 'Ada Lovelace',
    given_name: 'Ada',
    family_name: 'Lovelace',
    preferred_username: 'ada',
    email: 'ada@example.test',
    email_verified: true,
  },
  grace: {
    sub: 'grace',
    name: 'Grace Hopper',
    given_name: 'Grace',
    family_name: 'Hopper',
    preferred_username: 'grace',
    email: 'grace@example.test',
    email_verified: true,
  },
};

// A fresh RS256 signing key for this run.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), alg: 'RS256', use: 'sig', kid: randomBytes(8).toString('hex') };

const minutes = (n) => () => n * 60;

const client = {
  client_id: args['client-id'],
  client_secret: args['client-secret'],
  redirect_uris: args['redirect-uri'],
  post_logout_redirect_uris: args['post-logout-redirect-uri'],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_basic',
};
if (args['backchannel-logout-uri']) {
  client.backchannel_logout_uri = args['backchannel-logout-uri'];
  // sid in ID tokens and logout tokens, so the relying party ends exactly this session.
  client.backchannel_logout_session_required = true;
}

const configuration = {
  clients: [client],
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  claims: {
    openid: ['sub'],
    profile: ['name', 'given_name', 'family_name', 'preferred_username'],
    email: ['email', 'email_verified'],
  },
  scopes: ['openid', 'offline_access', 'profile', 'email'],
  clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
  // PKCE (S256, the only method oidc-provider 9 supports) for every client, not only public ones.
  pkce: { required: () => true },
  // A refresh token is good for one use; its reuse is refused (invalid_grant) and revokes the grant.
  rotateRefreshToken: true,
  // The app cannot send prompt=consent, without which oidc-provider drops offline_access (Core §11):
  // issue refresh tokens to every client allowed the refresh_token grant instead.
  issueRefreshToken: async (ctx, c) => c.grantTypeAllowed('refresh_token'),
  ttl: {
    AccessToken: minutes(10),
    AuthorizationCode: minutes(1),
    IdToken: minutes(10),
    Interaction: minutes(10),
    RefreshToken: minutes(60),
    Session: minutes(60),
    Grant: minutes(60),
  },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    backchannelLogout: { enabled: true },
    userinfo: { enabled: true },
    revocation: { enabled: true },
  },
  async findAccount(ctx, id) {
    const account = accounts[id];
    if (!account) return undefined;
    return { accountId: id, async claims() { return { ...account }; } };
  },
  // oidc-provider refuses outgoing requests to special-use addresses (SSRF protection), loopback
  // included; the relying party of these tests is on 127.0.0.1, so back-channel logout goes out with the
  // plain fetch. Only the one registered backchannel_logout_uri is ever requested.
  fetch: (url, { dispatcher, ...options }) => globalThis.fetch(url, options),
  async renderError(ctx, out, error) {
    process.stderr.write(`provider.mjs: error page: ${JSON.stringify(out)} ${error?.stack ?? ''}\n`);
    ctx.type = 'html';
    ctx.body = `<!DOCTYPE html><html><head><title>error</title></head><body><pre id="error">${
      Object.entries(out).map(([k, v]) => `${k}: ${String(v).replace(/[<>&"']/g, (ch) => `&#${ch.charCodeAt(0)};`)}`).join('\n')
    }</pre></body></html>`;
  },
};

const server = createServer();
server.listen(port, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  let provider;
  try {
    provider = new Provider(issuer, configuration);
  } catch (err) {
    fail(`configuration: ${err.stack ?? err}`);
  }
  for (const event of ['server_error', 'backchannel.error', 'grant.error', 'end_session.error', 'authorization.error', 'userinfo.error']) {
    provider.on(event, (ctx, err) => process.stderr.write(`provider.mjs: ${event}: ${err?.stack ?? err}\n`));
  }
  provider.on('backchannel.success', (ctx, c, sub, sid) => {
    process.stderr.write(`provider.mjs: back-channel logout delivered to ${c.clientId} sub=${sub} sid=${sid}\n`);
  });
  server.on('request', provider.callback());
  process.stdout.write(`READY ${issuer}\n`);
});
server.on('error', (err) => fail(`listen: ${err.message}`));

// Stop with the parent: when stdin closes (the test ended or was killed) and on the usual signals.
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
