// The IdP hook request bodies of protocols.md §5.3 (Okta token inline hook) and §6.3 (Entra
// OnTokenIssuanceStart), with the elided values filled in, plus builders for variations.

export { oktaTokenHookBody, oktaBodyFor } from '../../../src/callers/okta-example';

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
