import { DomainError, ErrorCode, fold, INITIAL_STATE, type OpportunityCommand, type OpportunityState } from '@app/domain';
import { created } from '@app/domain/testing/given-when-then';
import type { Actor, Role } from '@app/platform';
import { authorizeCommand } from './opportunity-commands';

/*
 * Who may send which command: viewers nothing, reps only on deals assigned to them and never
 * handing a deal to someone else, managers and admins anything in their org.
 */

const actor = (role: Role, userId = 'user-7'): Actor => ({ orgId: 'acme', userId, role, tokenId: 'tok-1' });

/** A deal assigned to `owner` (null: unassigned). */
const dealOf = (owner: string | null): OpportunityState => fold([created({ assigned_user_id: owner })]);
const NEW_DEAL = INITIAL_STATE;

const createAssignedTo = (assignee: string | null | undefined): OpportunityCommand => ({
  type: 'CreateOpportunity',
  opportunity_id: 'opp-2',
  input: { name: 'Globex renewal', value_minor: 50_000, ...(assignee !== undefined ? { assigned_user_id: assignee } : {}) },
});

/** One of each command that acts on an existing deal, none of them naming an assignee. */
const ON_EXISTING: OpportunityCommand[] = [
  { type: 'UpdateOpportunity', changes: { name: 'Renamed' } },
  { type: 'ChangeStage', stage: 'qualification' },
  { type: 'AdvanceStage' },
  { type: 'MoveToPreviousStage', reason: 'more discovery' },
  { type: 'PutOnHold', reason: 'budget freeze' },
  { type: 'Resume' },
  { type: 'Win' },
  { type: 'Lose', loss_reason: 'price' },
  { type: 'Delete', reason: 'duplicate' },
  { type: 'LogActivity', activity_id: 'act-1', activity_type: 'call' },
  { type: 'CompleteActivity', activity_id: 'act-1' },
  { type: 'AddNote', note_id: 'note-1', content: 'Called the CFO' },
  { type: 'ConvertProspect', customer_id: 'cust-1', activity_id: 'act-2' },
];
const EACH_ON_EXISTING = ON_EXISTING.map((c) => [c.type, c] as const);

/** Every command kind, with the state it would be decided on. */
const EVERY_COMMAND: [string, OpportunityCommand, OpportunityState][] = [
  ['CreateOpportunity', createAssignedTo('user-7'), NEW_DEAL],
  ...ON_EXISTING.map((c) => [c.type, c, dealOf('user-7')] as [string, OpportunityCommand, OpportunityState]),
  ['Assign', { type: 'Assign', user_id: 'user-7' }, dealOf('user-7')],
];

function refusal(run: () => void): DomainError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).code).toBe(ErrorCode.Forbidden);
    return error as DomainError;
  }
  throw new Error('expected a forbidden DomainError, but the command was allowed');
}

const OTHERS_DEAL = 'Reps can change only opportunities assigned to them';
const ASSIGN_OTHER = 'Reps cannot assign opportunities to other users';

describe('authorizeCommand: viewer', () => {
  it.each(EVERY_COMMAND)('refuses %s (viewers read only)', (_, command, state) => {
    const error = refusal(() => authorizeCommand(actor('viewer'), command, state));
    expect(error.message).toBe('Viewers cannot change opportunities');
  });
});

describe.each<Role>(['manager', 'admin'])('authorizeCommand: %s', (role) => {
  it.each(EVERY_COMMAND)('allows %s on their own deal', (_, command, state) => {
    expect(() => authorizeCommand(actor(role), command, state)).not.toThrow();
  });

  it.each(EACH_ON_EXISTING)("allows %s on another user's deal", (_, command) => {
    expect(() => authorizeCommand(actor(role), command, dealOf('user-9'))).not.toThrow();
  });

  it.each(EACH_ON_EXISTING)('allows %s on an unassigned deal', (_, command) => {
    expect(() => authorizeCommand(actor(role), command, dealOf(null))).not.toThrow();
  });

  it('may create a deal for someone else, reassign a deal and assign through an update', () => {
    expect(() => authorizeCommand(actor(role), createAssignedTo('user-9'), NEW_DEAL)).not.toThrow();
    expect(() => authorizeCommand(actor(role), { type: 'Assign', user_id: 'user-9' }, dealOf('user-7'))).not.toThrow();
    expect(() => authorizeCommand(actor(role), { type: 'Assign', user_id: 'user-3' }, dealOf('user-9'))).not.toThrow();
    expect(() =>
      authorizeCommand(actor(role), { type: 'UpdateOpportunity', changes: {}, assigned_user_id: 'user-9' }, dealOf('user-7')),
    ).not.toThrow();
  });
});

describe('authorizeCommand: rep', () => {
  const rep = actor('rep', 'user-7');

  describe('creating', () => {
    it.each([
      ['assigned to themselves', 'user-7'],
      ['with no assignee given', undefined],
      ['explicitly unassigned (null)', null],
    ])('may create a deal %s', (_, assignee) => {
      expect(() => authorizeCommand(rep, createAssignedTo(assignee), NEW_DEAL)).not.toThrow();
    });

    it('may not create a deal assigned to someone else', () => {
      expect(refusal(() => authorizeCommand(rep, createAssignedTo('user-9'), NEW_DEAL)).message).toBe(ASSIGN_OTHER);
    });
  });

  describe('their own deal', () => {
    it.each(EACH_ON_EXISTING)('may %s', (_, command) => {
      expect(() => authorizeCommand(rep, command, dealOf('user-7'))).not.toThrow();
    });

    it('may assign it to themselves (again) and name themselves in an update', () => {
      expect(() => authorizeCommand(rep, { type: 'Assign', user_id: 'user-7' }, dealOf('user-7'))).not.toThrow();
      expect(() =>
        authorizeCommand(rep, { type: 'UpdateOpportunity', changes: {}, assigned_user_id: 'user-7' }, dealOf('user-7')),
      ).not.toThrow();
    });

    it('may not hand it to someone else with Assign', () => {
      expect(refusal(() => authorizeCommand(rep, { type: 'Assign', user_id: 'user-9' }, dealOf('user-7'))).message).toBe(ASSIGN_OTHER);
    });

    it('may not hand it to someone else through UpdateOpportunity', () => {
      const command: OpportunityCommand = { type: 'UpdateOpportunity', changes: { name: 'X' }, assigned_user_id: 'user-9' };
      expect(refusal(() => authorizeCommand(rep, command, dealOf('user-7'))).message).toBe(ASSIGN_OTHER);
    });
  });

  describe("another user's deal", () => {
    it.each(EACH_ON_EXISTING)('may not %s', (_, command) => {
      expect(refusal(() => authorizeCommand(rep, command, dealOf('user-9'))).message).toBe(OTHERS_DEAL);
    });

    it('may not take it over by assigning it to themselves', () => {
      expect(refusal(() => authorizeCommand(rep, { type: 'Assign', user_id: 'user-7' }, dealOf('user-9'))).message).toBe(OTHERS_DEAL);
      const update: OpportunityCommand = { type: 'UpdateOpportunity', changes: {}, assigned_user_id: 'user-7' };
      expect(refusal(() => authorizeCommand(rep, update, dealOf('user-9'))).message).toBe(OTHERS_DEAL);
    });

    it('assigning it to a third user is refused as an assignment to someone else', () => {
      expect(refusal(() => authorizeCommand(rep, { type: 'Assign', user_id: 'user-3' }, dealOf('user-9'))).message).toBe(ASSIGN_OTHER);
    });
  });

  describe('an unassigned deal', () => {
    it.each(EACH_ON_EXISTING)('may not %s', (_, command) => {
      expect(refusal(() => authorizeCommand(rep, command, dealOf(null))).message).toBe(OTHERS_DEAL);
    });

    it('may not claim it', () => {
      expect(refusal(() => authorizeCommand(rep, { type: 'Assign', user_id: 'user-7' }, dealOf(null))).message).toBe(OTHERS_DEAL);
    });
  });

  it('ownership is by user id: whoever the deal is assigned to owns it', () => {
    expect(() => authorizeCommand(actor('rep', 'user-9'), { type: 'AdvanceStage' }, dealOf('user-9'))).not.toThrow();
    expect(refusal(() => authorizeCommand(actor('rep', 'user-9'), { type: 'AdvanceStage' }, dealOf('user-7'))).message).toBe(OTHERS_DEAL);
  });
});

describe('authorizeCommand: an unknown role', () => {
  it('is an error, not a permission', () => {
    const stranger = { ...actor('admin'), role: 'owner' as Role };
    expect(() => authorizeCommand(stranger, { type: 'AdvanceStage' }, dealOf('user-7'))).toThrow('Unknown role owner');
  });
});
