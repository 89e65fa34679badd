// What the signed-in caller may do, by the role rules of docs/api.md. The page hides what the
// roles do not allow; the server checks every call again.
import { SessionInfo } from './api';

// Operator commands, deployments and rollbacks: deployer (admin includes it).
export function canOperate(session: SessionInfo): boolean {
  return session.roles.includes('deployer') || session.roles.includes('admin');
}

// The approver roles the caller holds among those a gate waits for (held explicitly: admin
// does not count).
export function approvableRoles(session: SessionInfo, pending: string[] | undefined): string[] {
  return (pending ?? []).filter((role) => session.roles.includes(role));
}
