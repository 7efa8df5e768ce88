export type Role = 'admin' | 'manager' | 'rep' | 'viewer';
export const ROLES: readonly Role[] = ['admin', 'manager', 'rep', 'viewer'];

/** Who is calling: resolved from the bearer token, never from the request body. */
export interface Actor {
  orgId: string;
  userId: string;
  role: Role;
  tokenId: string;
}
