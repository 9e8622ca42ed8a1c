// The tests' authorization server: oidc-provider (a certified OpenID
// provider, from the npm registry through .ci/npm-tools), configured for
// MCP: resource indicators whose access tokens are JWTs, dynamic client
// registration, PKCE S256 required, refresh tokens, the client credentials
// grant. Run with Node 22:
//
//   node tests/oidc/provider.mjs '<json config>'    (or a path to a JSON file)
//
// The config (every key optional; unknown keys are refused, so a typo fails
// loudly):
//   port                  0 (any free port on 127.0.0.1) or a port number
//   resources             [{ uri, scopes: [..], accessTokenTtl: s, alg }]:
//                         resource indicators (RFC 8707) whose access tokens
//                         are JWTs (RFC 9068, typ at+jwt, aud = uri, signed
//                         with alg, ES256 by default, or RS256)
//   clients               pre-registered clients, in RFC 7591 metadata:
//                         { client_id, client_secret, grant_types,
//                           redirect_uris, token_endpoint_auth_method, ... }
//   registration          dynamic client registration (RFC 7591): true
//   refreshTokens         "offline_access" (issued when that scope is
//                         granted, the default; as OpenID Connect says, the
//                         provider grants it only with prompt=consent),
//                         "always" (to every client allowed the grant) or
//                         "never"
//   rotateRefreshTokens   a refresh gives a new refresh token: true
//   refreshTokenTtl       seconds: 86400
//   clientCredentials     the client credentials grant: true
//   dpop                  DPoP (RFC 9449), ES256 proofs: false
//   tokenExchange         RFC 8693 token exchange, kept small: false. A
//                         client allowed the grant type
//                         urn:ietf:params:oauth:grant-type:token-exchange
//                         trades an access token of ours (a JWT, for any
//                         of our resources; subject_token_type access_token)
//                         for one for `resource`: the same subject, the
//                         scopes of both the subject token and the resource
//                         (or those asked of them), and client_id naming the
//                         client that asked.
//   extraScopes           scope values the provider itself knows besides
//                         openid and offline_access: [] (a client that
//                         registers with a resource's scopes, as the Python
//                         SDK's does, is refused unless they are listed)
//
// When listening it prints exactly one line of JSON on stdout:
//   {"issuer":"http://127.0.0.1:PORT","discovery":..,"jwks_uri":..,
//    "authorization_endpoint":..,"token_endpoint":..,"registration_endpoint":..}
// and from then on logs to stderr only. It exits on SIGTERM, or when its
// stdin is a pipe that closes (so a test that dies takes it along).
//
// Users: the provider's own development pages (login, then consent) at
// /interaction/<uid>; any login name, password "pw" (the pages take any
// password; tests/browser/oidc_login.mjs types "pw").
//
// Test-only control endpoints on the same port (loopback only, as the
// whole server):
//   POST /test/rotate-keys  {"retire": false}  a new signing key of each
//                           type signs from now on; the JWKS lists it first,
//                           and the old ones too unless "retire" is true.
//                           Answers {"kids": [...]} (the JWKS's key ids).
//   POST /test/ttl          {"resource": uri, "accessTokenTtl": s} the
//                           lifetime of access tokens issued from now on.
//   GET  /test/config       the resources and their current settings.

import { createRequire } from 'node:module';
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import * as fs from 'node:fs';

// stdout carries the one line of JSON; everything else goes to stderr.
console.log = console.error;
console.info = console.error;

const require = createRequire(new URL('../../.conformance/package.json', import.meta.url));
const oidcEntry = require.resolve('oidc-provider');
const { default: Provider, errors } = await import(oidcEntry);

const KNOWN = new Set([
  'port', 'resources', 'clients', 'registration', 'refreshTokens', 'rotateRefreshTokens',
  'refreshTokenTtl', 'clientCredentials', 'dpop', 'extraScopes',
  'tokenExchange',
]);

function fail(message) {
  console.error(`provider.mjs: ${message}`);
  process.exit(2);
}

function readConfig() {
  const arg = process.argv[2];
  if (!arg) fail("usage: node tests/oidc/provider.mjs '<json config>' | <config.json>");
  let text = arg;
  if (!arg.trimStart().startsWith('{')) {
    try {
      text = fs.readFileSync(arg, 'utf8');
    } catch (error) {
      fail(`cannot read the config file ${arg}: ${error.message}`);
    }
  }
  let config;
  try {
    config = JSON.parse(text);
  } catch (error) {
    fail(`the config is not JSON: ${error.message}`);
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    fail('the config must be a JSON object');
  }
  for (const key of Object.keys(config)) {
    if (!KNOWN.has(key)) fail(`unknown config key ${JSON.stringify(key)} (known: ${[...KNOWN].join(', ')})`);
  }
  const resources = config.resources ?? [];
  if (!Array.isArray(resources)) fail('resources must be a list');
  for (const r of resources) {
    if (typeof r?.uri !== 'string') fail('each resource needs a "uri"');
    for (const key of Object.keys(r)) {
      if (!['uri', 'scopes', 'accessTokenTtl', 'alg'].includes(key)) fail(`unknown resource key ${JSON.stringify(key)}`);
    }
    if (r.alg !== undefined && !['ES256', 'RS256'].includes(r.alg)) fail(`resource alg must be ES256 or RS256, not ${r.alg}`);
  }
  const refreshTokens = config.refreshTokens ?? 'offline_access';
  if (!['offline_access', 'always', 'never'].includes(refreshTokens)) {
    fail(`refreshTokens must be "offline_access", "always" or "never", not ${JSON.stringify(refreshTokens)}`);
  }
  return {
    port: config.port ?? 0,
    resources: new Map(resources.map((r) => [r.uri, {
      scopes: r.scopes ?? [],
      accessTokenTtl: r.accessTokenTtl ?? 3600,
      alg: r.alg ?? 'ES256',
    }])),
    clients: config.clients ?? [],
    registration: config.registration ?? true,
    refreshTokens,
    rotateRefreshTokens: config.rotateRefreshTokens ?? true,
    refreshTokenTtl: config.refreshTokenTtl ?? 86400,
    clientCredentials: config.clientCredentials ?? true,
    dpop: config.dpop ?? false,
    extraScopes: config.extraScopes ?? [],
    tokenExchange: config.tokenExchange ?? false,
  };
}

const config = readConfig();

/** A fresh signing key pair as a private JWK with its key id. */
function signingKey(type) {
  const { privateKey } = type === 'EC'
    ? crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return {
    ...jwk, kid: crypto.randomBytes(8).toString('hex'), use: 'sig', alg: type === 'EC' ? 'ES256' : 'RS256',
  };
}

// The keys, newest first: the first of each type signs.
let keys = [signingKey('EC'), signingKey('RSA')];
// Cookies stay valid across key rotations (a rotation builds a new provider
// instance; its sessions and grants live in the shared memory adapter).
const cookieKeys = [crypto.randomBytes(32).toString('base64url')];

function currentKid(alg) {
  return keys.find((k) => k.alg === alg).kid;
}

function resourceServerInfo(indicator) {
  const resource = config.resources.get(indicator);
  if (!resource) throw new errors.InvalidTarget(`unknown resource ${indicator}`);
  return {
    scope: resource.scopes.join(' '),
    audience: indicator,
    accessTokenTTL: resource.accessTokenTtl,
    accessTokenFormat: 'jwt',
    jwt: { sign: { alg: resource.alg, kid: currentKid(resource.alg) } },
  };
}

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

/** The subject token's claims, if it is a valid access token of ours. */
async function subjectClaims(token, issuer) {
  const { jwtVerify, importJWK, decodeProtectedHeader } = await import(require.resolve('jose'));
  let header;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    throw new errors.InvalidGrant('the subject token is not a JWT');
  }
  const jwk = keys.find((k) => k.kid === header.kid);
  if (!jwk) throw new errors.InvalidGrant('the subject token is not signed by a key of ours');
  const { d, p, q, dp, dq, qi, ...publicJwk } = jwk;
  try {
    const key = await importJWK(publicJwk, jwk.alg);
    const { payload } = await jwtVerify(token, key, { issuer, typ: 'at+jwt' });
    return payload;
  } catch (error) {
    throw new errors.InvalidGrant(`the subject token is not valid: ${error.code ?? error.message}`);
  }
}

async function tokenExchange(ctx) {
  const { client, params, provider: current } = ctx.oidc;
  if (!client.grantTypeAllowed(TOKEN_EXCHANGE)) {
    throw new errors.UnauthorizedClient('the client is not allowed token exchange');
  }
  if (params.subject_token_type !== ACCESS_TOKEN_TYPE) {
    throw new errors.InvalidRequest(`subject_token_type must be ${ACCESS_TOKEN_TYPE}`);
  }
  if (!params.subject_token) throw new errors.InvalidRequest('subject_token is missing');
  if (typeof params.resource !== 'string') throw new errors.InvalidTarget('one resource is needed');
  const claims = await subjectClaims(params.subject_token, current.issuer);
  const info = resourceServerInfo(params.resource);
  const offered = new Set(info.scope.split(' '));
  const held = new Set((claims.scope ?? '').split(' '));
  const asked = params.scope ? params.scope.split(' ') : [...held];
  const scope = asked.filter((s) => held.has(s) && offered.has(s)).join(' ');
  const token = new current.AccessToken({
    accountId: claims.sub,
    client,
    gty: 'token_exchange',
    scope: scope || undefined,
  });
  token.resourceServer = new current.ResourceServer(params.resource, info);
  ctx.oidc.entity('AccessToken', token);
  const value = await token.save();
  ctx.body = {
    access_token: value,
    issued_token_type: ACCESS_TOKEN_TYPE,
    token_type: 'Bearer',
    expires_in: token.expiration,
    scope: token.scope,
  };
}

function build(issuer) {
  const provider = new Provider(issuer, {
    clients: config.clients,
    jwks: { keys },
    cookies: { keys: cookieKeys },
    // Any login name is an account; its only claim is sub.
    async findAccount(_ctx, sub) {
      return { accountId: sub, async claims() { return { sub }; } };
    },
    scopes: ['openid', 'offline_access', ...config.extraScopes],
    clientDefaults: { id_token_signed_response_alg: 'ES256', grant_types: ['authorization_code', 'refresh_token'] },
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: true },
      registration: { enabled: config.registration },
      clientCredentials: { enabled: config.clientCredentials },
      dPoP: { enabled: config.dpop },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // The one resource of the request, or (a refresh without one) the
        // grant's only one.
        async defaultResource(_ctx, _client, oneOf) {
          return oneOf;
        },
        async useGrantedResource() {
          return true;
        },
        async getResourceServerInfo(_ctx, indicator) {
          return resourceServerInfo(indicator);
        },
      },
    },
    async issueRefreshToken(_ctx, client, code) {
      if (!client.grantTypeAllowed('refresh_token')) return false;
      switch (config.refreshTokens) {
        case 'always': return true;
        case 'never': return false;
        default: return code.scopes.has('offline_access');
      }
    },
    rotateRefreshToken: () => config.rotateRefreshTokens,
    ttl: {
      RefreshToken: config.refreshTokenTtl,
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? 600,
    },
  });
  if (config.tokenExchange) {
    provider.registerGrantType(TOKEN_EXCHANGE, tokenExchange, [
      'subject_token', 'subject_token_type', 'requested_token_type', 'resource', 'scope',
    ]);
  }
  for (const event of ['server_error', 'authorization.error', 'grant.error', 'registration_create.error', 'jwks.error']) {
    provider.on(event, (...args) => {
      const error = args.find((a) => a instanceof Error);
      console.error(`oidc-provider ${event}: ${error?.message ?? ''} ${error?.error_description ?? ''}`);
    });
  }
  return provider;
}

async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 64 * 1024) throw new Error('body too large');
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : {};
}

function answer(res, status, value) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
}

let provider;
let callback;

async function control(req, res) {
  const path = new URL(req.url, 'http://x').pathname;
  try {
    if (req.method === 'POST' && path === '/test/rotate-keys') {
      const body = await readBody(req);
      const fresh = [signingKey('EC'), signingKey('RSA')];
      keys = body.retire ? fresh : [...fresh, ...keys];
      provider = build(provider.issuer);
      callback = provider.callback();
      return answer(res, 200, { kids: keys.map((k) => k.kid) });
    }
    if (req.method === 'POST' && path === '/test/ttl') {
      const body = await readBody(req);
      const resource = config.resources.get(body.resource);
      if (!resource) return answer(res, 404, { error: `unknown resource ${body.resource}` });
      if (!Number.isInteger(body.accessTokenTtl) || body.accessTokenTtl < 1) {
        return answer(res, 400, { error: 'accessTokenTtl must be a positive whole number of seconds' });
      }
      resource.accessTokenTtl = body.accessTokenTtl;
      return answer(res, 200, {});
    }
    if (req.method === 'GET' && path === '/test/config') {
      return answer(res, 200, { resources: Object.fromEntries(config.resources) });
    }
    return answer(res, 404, { error: `no control endpoint ${req.method} ${path}` });
  } catch (error) {
    return answer(res, 400, { error: error.message });
  }
}

const server = http.createServer((req, res) => {
  if (req.url.startsWith('/test/')) {
    control(req, res);
  } else {
    callback(req, res);
  }
});
server.on('error', (error) => fail(`cannot listen: ${error.message}`));
server.listen(config.port, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  provider = build(issuer);
  callback = provider.callback();
  process.stdout.write(`${JSON.stringify({
    issuer,
    discovery: `${issuer}/.well-known/openid-configuration`,
    jwks_uri: `${issuer}/jwks`,
    authorization_endpoint: `${issuer}/auth`,
    token_endpoint: `${issuer}/token`,
    registration_endpoint: config.registration ? `${issuer}/reg` : null,
  })}\n`);
});

function stop() {
  server.close();
  server.closeAllConnections();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// A test that dies closes the pipe on our stdin: no orphan keeps the port.
// (Only a pipe: a terminal or /dev/null says nothing about the parent.)
if (fs.fstatSync(0).isFIFO()) {
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
}
