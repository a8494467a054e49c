// Okta's com.okta.oauth2.tokens.transform request as protocols.md §5.3 shows it (elided values filled in):
// the shape the hook is tested with, benchmarked with, and warmed up with at start (src/api/warmup.ts), so
// the start-up warm-up parses the same object shapes real Okta calls produce.

/** Okta's com.okta.oauth2.tokens.transform request, as in protocols.md §5.3. */
export function oktaTokenHookBody(): any {
  return {
    source: 'https://example.okta.com/oauth2/default/v1/authorize',
    eventId: '3OWo4oo-QQ-rBWfRyTmQYw',
    eventTime: '2019-01-15T23:20:47.000Z',
    eventTypeVersion: '1.0',
    cloudEventVersion: '0.1',
    contentType: 'application/json',
    eventType: 'com.okta.oauth2.tokens.transform',
    data: {
      context: {
        request: {
          id: 'reqv66CbCaCStGEFc8AdfS0ng', method: 'GET',
          url: { value: 'https://example.okta.com/oauth2/default/v1/authorize?scope=openid+profile+email&response_type=token+id_token&redirect_uri=https%3A%2F%2Fhttpbin.org%2Fget&state=foobareere&nonce=asf&client_id=customClientIdNative' },
          ipAddress: '127.0.0.1',
        },
        protocol: {
          type: 'OAUTH2.0',
          request: {
            scope: 'openid profile email', state: 'foobareere', redirect_uri: 'https://httpbin.org/get',
            response_mode: 'fragment', response_type: 'token id_token', client_id: 'customClientIdNative',
          },
          issuer: { uri: 'https://example.okta.com/oauth2/default' },
          client: { id: 'customClientIdNative', name: 'Native client', type: 'PUBLIC' },
        },
        session: {
          id: '102Qoe7t5PjSi6zMlCv7dDh4Q', userId: '00uq8tMo3zV0OfJON0g3', login: 'alice@example.com',
          status: 'ACTIVE', amr: ['PASSWORD'], idp: { id: '00oq6kcVwvrDY2YsS0g3', type: 'OKTA' },
          mfaActive: false, createdAt: '2019-01-15T23:04:33.000Z', expiresAt: '2019-01-16T01:20:46.000Z',
          lastPasswordVerification: '2019-01-15T23:04:33.000Z',
        },
        user: {
          id: '00uq8tMo3zV0OfJON0g3', passwordChanged: '2018-09-11T23:19:12.000Z',
          profile: { login: 'alice@example.com', firstName: 'Alice', lastName: 'Doe', locale: 'en', timeZone: 'America/Los_Angeles' },
          _links: {
            groups: { href: 'https://example.okta.com/00uq8tMo3zV0OfJON0g3/groups' },
            factors: { href: 'https://example.okta.com/api/v1/users/00uq8tMo3zV0OfJON0g3/factors' },
          },
        },
        policy: { id: '00pq8lGaLlI8APuqY0g3', rule: { id: '0prq8mLKuKAmavOvq0g3' } },
      },
      identity: {
        claims: {
          sub: '00uq8tMo3zV0OfJON0g3', email: 'alice@example.com', ver: 1, iss: 'https://example.okta.com/oauth2/default',
          aud: 'customClientIdNative', jti: 'ID.YxF2whJfB3Eu4ktG_7aClqtCgjDq6ab_hgpiV7-ZZn0', amr: ['pwd'],
          nonce: 'asf', preferred_username: 'alice@example.com', auth_time: 1547594229,
        },
        token: { lifetime: { expiration: 3600 } },
      },
      access: {
        claims: {
          ver: 1, jti: 'AT.W-rrB-z-kkZQmHW0e6VS3Or--QfEN_YvoWJa46A7HAA', iss: 'https://example.okta.com/oauth2/default',
          aud: 'api://default', cid: 'customClientIdNative', uid: '00uq8tMo3zV0OfJON0g3', sub: 'alice@example.com',
        },
        token: { lifetime: { expiration: 3600 } },
        scopes: { openid: { id: 'scpq7bW1cp6dcvrz80g3', action: 'GRANT' } },
      },
    },
  };
}

/** The Okta body for another user (id + login in user, session and claims). */
export function oktaBodyFor(userId: string, login: string): any {
  const b = oktaTokenHookBody();
  const ctx = b.data.context;
  ctx.user.id = userId;
  ctx.user.profile.login = login;
  ctx.session.userId = userId;
  ctx.session.login = login;
  b.data.identity.claims.sub = userId;
  b.data.identity.claims.email = login;
  b.data.access.claims.uid = userId;
  b.data.access.claims.sub = login;
  return b;
}
