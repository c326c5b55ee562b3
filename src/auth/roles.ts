/** Roles in rising order: each grants everything the ones before it grant. */
const RANKED_ROLES = ['reader', 'writer', 'operator', 'admin'] as const;
/** Placing and lifting legal holds: granted beside a ranked role, never implied by one (not even admin). */
const LEGAL_ROLE = 'legal';
export const ROLES = [...RANKED_ROLES, LEGAL_ROLE] as const;
export type Role = (typeof ROLES)[number];

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

/** Whether a holder of `held` may do what needs `required`. */
export function grants(held: ReadonlySet<Role>, required: Role): boolean {
  if (required === LEGAL_ROLE) return held.has(LEGAL_ROLE);
  const needed = RANKED_ROLES.indexOf(required);
  return RANKED_ROLES.some((role, rank) => rank >= needed && held.has(role));
}

/**
 * `reader`, `reader+legal`, …: the roles of one API key entry or CLI option. Throws an Error whose
 * message is one sentence naming what is wrong.
 */
export function parseRoles(text: string): Set<Role> {
  const names = text.split('+').map((name) => name.trim());
  const unknown = names.filter((name) => !isRole(name));
  if (names.length === 0 || unknown.length > 0) {
    throw new Error(
      `'${text}' is not a list of roles joined by '+': each must be one of ${ROLES.join(', ')}`,
    );
  }
  return new Set(names as Role[]);
}

/** Who is asking, as every edge sees it. Never holds the credential itself. */
export interface Identity {
  /** Stable id for the audit trail: `key:<entry name>`, or `token:<oid>` (else `token:<sub>`), never alike. */
  id: string;
  /** A person's display name, where the credential carries one. */
  name?: string | undefined;
  kind: 'api-key' | 'token' | 'auth-disabled';
  roles: ReadonlySet<Role>;
  /** When the credential that proved it stops being valid: a token's or a session's expiry; none for a key. */
  expiresAt?: Date | undefined;
}

/** How the identity reads in a legal hold's `by` and in logs: the name with its id where both differ. */
export function describeIdentity(identity: Identity): string {
  return identity.name && identity.name !== identity.id ? `${identity.name} (${identity.id})` : identity.id;
}
