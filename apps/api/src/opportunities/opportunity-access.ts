import { DomainError, ErrorCode, type OpportunityCommand, type OpportunityState } from '@app/domain';
import type { Actor } from '@app/platform';

/**
 * Viewers read only; reps change only deals they own and cannot hand them to someone else;
 * managers and admins change any deal of their org.
 */
export function authorizeCommand(actor: Actor, command: OpportunityCommand, state: OpportunityState): void {
  switch (actor.role) {
    case 'admin':
    case 'manager':
      return;
    case 'viewer':
      throw new DomainError(ErrorCode.Forbidden, 'Viewers cannot change opportunities');
    case 'rep': {
      const assignee =
        command.type === 'CreateOpportunity'
          ? command.input.assigned_user_id
          : command.type === 'Assign'
            ? command.user_id
            : command.type === 'UpdateOpportunity'
              ? command.assigned_user_id
              : undefined;
      if (assignee !== undefined && assignee !== null && assignee !== actor.userId) {
        throw new DomainError(ErrorCode.Forbidden, 'Reps cannot assign opportunities to other users');
      }
      if (command.type !== 'CreateOpportunity' && state.assigned_user_id !== actor.userId) {
        throw new DomainError(ErrorCode.Forbidden, 'Reps can change only opportunities assigned to them');
      }
      return;
    }
    default: {
      const unreachable: never = actor.role;
      throw new Error(`Unknown role ${String(unreachable)}`);
    }
  }
}
