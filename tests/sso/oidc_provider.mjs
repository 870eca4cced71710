// A real OpenID provider for the SSO tests: the certified `oidc-provider` (npm, pinned in package.json) on
// loopback, with one confidential client and the users of a JSON file (re-read at every sign-in, so a test can
// change a user's groups between two sign-ins). Its own small login page checks the user's password.
// Usage: node tests/sso/oidc_provider.mjs PORT CONFIG.json   (prints "ready <issuer>" once listening)
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import Provider from 'oidc-provider';

const [port, configPath] = process.argv.slice(2);
const readConfig = () => JSON.parse(fs.readFileSync(configPath, 'utf8'));
const config = readConfig();
const issuer = `http://127.0.0.1:${port}`;
const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'test-key', alg: 'RS256', use: 'sig' };

const provider = new Provider(issuer, {
  clients: [{
    client_id: config.client_id,
    client_secret: config.client_secret,
    redirect_uris: config.redirect_uris,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [signingKey] },
  cookies: { keys: [crypto.randomBytes(16).toString('hex')] },
  claims: { openid: ['sub'], profile: ['name', 'preferred_username'], email: ['email'], groups: ['groups'] },
  conformIdTokenClaims: false, // the scopes' claims go into the ID token itself (as Keycloak and Entra do)
  pkce: { required: () => true },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, id) {
    const user = readConfig().users[id];
    if (!user) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...user.claims }; } };
  },
});

const page = (uid, error) => `<!doctype html><html><head><title>Provider sign-in</title></head><body>
<h1>Test provider</h1>${error ? `<p id="error">${error}</p>` : ''}
<form method="post" action="/interaction/${uid}/login">
<label>Login <input name="login" id="login"></label>
<label>Password <input name="password" id="password" type="password"></label>
<button type="submit" id="submit">Sign in</button></form></body></html>`;

const body = (req) => new Promise((resolve) => {
  let data = '';
  req.on('data', (c) => { data += c; });
  req.on('end', () => resolve(new URLSearchParams(data)));
});

const callback = provider.callback();
http.createServer(async (req, res) => {
  const m = req.url.match(/^\/interaction\/([^/?]+)(\/login)?/);
  if (!m) return callback(req, res);
  try {
    const details = await provider.interactionDetails(req, res);
    if (req.method === 'GET') {
      res.setHeader('Content-Type', 'text/html');
      return res.end(page(details.uid));
    }
    const form = await body(req);
    const user = readConfig().users[form.get('login')];
    if (!user || user.password !== form.get('password')) {
      res.setHeader('Content-Type', 'text/html');
      return res.end(page(details.uid, 'wrong login or password'));
    }
    const accountId = form.get('login');
    const grant = new provider.Grant({ accountId, clientId: details.params.client_id });
    grant.addOIDCScope(details.params.scope);
    const grantId = await grant.save();
    return provider.interactionFinished(req, res, { login: { accountId }, consent: { grantId } },
      { mergeWithLastSubmission: false });
  } catch (err) {
    res.statusCode = 400;
    return res.end(String(err));
  }
}).listen(Number(port), '127.0.0.1', () => console.log(`ready ${issuer}`));
