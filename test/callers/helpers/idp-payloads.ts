// The IdP hook request bodies of protocols.md §5.3 (Okta token inline hook) and §6.3 (Entra
// OnTokenIssuanceStart), with the elided values filled in, plus builders for variations.

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

export const ENTRA_TENANT = 'a6c4fb4b-3b0c-4b05-9c3e-1d3d2d7a1f10';
export const ENTRA_APP = 'f2a3b4c5-6d7e-4f80-9a1b-2c3d4e5f6a7b';

/** Entra's OnTokenIssuanceStart request, as in protocols.md §6.3. */
export function entraTokenIssuanceStartBody(): any {
  return {
    type: 'microsoft.graph.authenticationEvent.tokenIssuanceStart',
    source: `/tenants/${ENTRA_TENANT}/applications/${ENTRA_APP}`,
    data: {
      '@odata.type': 'microsoft.graph.onTokenIssuanceStartCalloutData',
      tenantId: ENTRA_TENANT,
      authenticationEventListenerId: '7d3c1e2a-4b5f-4c6d-8e9f-0a1b2c3d4e5f',
      customAuthenticationExtensionId: '1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d',
      authenticationContext: {
        correlationId: 'e0b6a1c2-3d4e-4f50-8a9b-c0d1e2f3a4b5',
        client: { ip: '30.51.176.110', locale: 'en-us', market: 'en-us' },
        protocol: 'OAUTH2.0',
        clientServicePrincipal: { id: 'b1c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e', appId: ENTRA_APP, appDisplayName: 'Payroll Web', displayName: 'Payroll Web' },
        resourceServicePrincipal: { id: 'c2d3e4f5-a6b7-4c8d-9e0f-1a2b3c4d5e6f', appId: ENTRA_APP, appDisplayName: 'Payroll Web', displayName: 'Payroll Web' },
        user: {
          id: '90847c2a-e29d-4d2f-9f54-c5b4d3f26471', userPrincipalName: 'alice@contoso.com',
          mail: 'alice@contoso.com', displayName: 'Alice Doe', givenName: 'Alice', surname: 'Doe',
          companyName: 'Contoso', createdDateTime: '2016-03-01T15:23:40Z', preferredLanguage: 'en-us',
          onPremisesSamAccountName: 'alice', onPremisesSecurityIdentifier: 'S-1-5-21-1234567890-1234567890-1234567890-1001',
          onPremisesUserPrincipalName: 'alice@contoso.local', userType: 'Member',
        },
      },
    },
  };
}

/** The Entra body for another user. */
export function entraBodyFor(objectId: string, upn: string): any {
  const b = entraTokenIssuanceStartBody();
  const u = b.data.authenticationContext.user;
  u.id = objectId;
  u.userPrincipalName = upn;
  u.mail = upn;
  return b;
}
