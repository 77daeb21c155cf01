// An OpenID Connect provider for idgate's tests: npm's certified `oidc-provider`, on 127.0.0.1.
//
// Configured by one JSON argument: {"port", "clients": [{client_id, client_secret,
// redirect_uris}], "accounts": {"<login>": {claims...}}}. Its development login and consent
// pages (devInteractions) take any login named in "accounts" (and any password). Prints
// "listening <issuer>" once it accepts connections; stops on SIGTERM.
import Provider from 'oidc-provider';

const config = JSON.parse(process.argv[2]);
const issuer = `http://127.0.0.1:${config.port}`;
const accounts = config.accounts;

const provider = new Provider(issuer, {
  clients: config.clients.map((client) => ({
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    ...client,
  })),
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
  },
  async findAccount(ctx, sub) {
    if (!Object.hasOwn(accounts, sub)) return undefined;
    return {
      accountId: sub,
      async claims() {
        return { sub, ...accounts[sub] };
      },
    };
  },
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  cookies: { keys: [config.cookie_key] },
  ttl: { AuthorizationCode: 60, IdToken: 300, AccessToken: 300, Interaction: 600, Session: 600, Grant: 600 },
});
// A local http issuer: the test runs without TLS on loopback, which oidc-provider allows outside
// production mode (NODE_ENV is not "production" here).
provider.proxy = false;

const server = provider.listen(config.port, '127.0.0.1', () => {
  process.stdout.write(`listening ${issuer}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
