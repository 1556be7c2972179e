// A real OpenID provider for IM-Suite's single sign-on tests: panva's oidc-provider (OpenID
// Certified) with its development login and consent pages, on 127.0.0.1:<port given as argv[2]>.
// One confidential client (OIDC_TEST_CLIENT_ID / OIDC_TEST_CLIENT_SECRET) whose redirect URI may be
// any loopback /oidc/callback/ (the IM-Suite server's port is chosen after this one's). The people:
// OIDC_TEST_ACCOUNTS, JSON {login: claims}; the login typed on the login page is the subject.
import Provider from "oidc-provider";

const port = Number(process.argv[2]);
const issuer = `http://127.0.0.1:${port}`;
const accounts = JSON.parse(process.env.OIDC_TEST_ACCOUNTS || "{}");
const LOOPBACK_CALLBACK = /^http:\/\/127\.0\.0\.1:\d+\/oidc\/callback\/$/;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: process.env.OIDC_TEST_CLIENT_ID,
      client_secret: process.env.OIDC_TEST_CLIENT_SECRET,
      redirect_uris: ["http://127.0.0.1/oidc/callback/"],
      grant_types: ["authorization_code"],
      response_types: ["code"],
    },
  ],
  claims: {
    openid: ["sub"],
    email: ["email", "email_verified"],
    profile: ["name", "preferred_username"],
  },
  pkce: { required: () => true },
  async findAccount(ctx, sub) {
    return { accountId: sub, claims: async () => ({ sub, ...(accounts[sub] || {}) }) };
  },
});
provider.Client.prototype.redirectUriAllowed = (uri) => LOOPBACK_CALLBACK.test(uri);
provider.listen(port, "127.0.0.1", () => console.log(`oidc-provider listening on ${issuer}`));
