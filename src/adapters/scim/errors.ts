/** SCIM error values and the RFC 7644 §3.12 error body (status as a string, scimType for 400/409). */

export const SCIM_ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

/** RFC 7644 scimType values we emit. */
export type ScimType =
  | 'invalidFilter'
  | 'tooMany'
  | 'uniqueness'
  | 'mutability'
  | 'invalidSyntax'
  | 'invalidPath'
  | 'noTarget'
  | 'invalidValue'
  | 'invalidVers'
  | 'sensitive';

/** A SCIM protocol error: thrown by the SCIM layers, rendered by the router. */
export class ScimError extends Error {
  constructor(
    readonly status: number,
    readonly scimType: ScimType | undefined,
    readonly detail: string,
  ) {
    super(detail);
    this.name = 'ScimError';
  }
}

/** The JSON error body for a ScimError. */
export function scimErrorBody(err: ScimError): Record<string, unknown> {
  const body: Record<string, unknown> = {
    schemas: [SCIM_ERROR_SCHEMA],
    status: String(err.status),
    detail: err.detail,
  };
  if (err.scimType) body.scimType = err.scimType;
  return body;
}

/** Shorthand for the common 400s. */
export function badRequest(scimType: ScimType, detail: string): ScimError {
  return new ScimError(400, scimType, detail);
}
