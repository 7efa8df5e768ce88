import { Inject } from '@nestjs/common';
import { Command, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import {
  decide,
  DomainError,
  ErrorCode,
  fold,
  foldStored,
  initialStakeholders,
  type OpportunityCommand,
  type OpportunityEvent,
  type OpportunityState,
  opportunityStreamId,
  isUuid,
} from '@app/domain';
import { EventStore } from '@app/event-store';
import { contactsByIds, type ReadModelTables } from '@app/read-models';
import { type Actor, APP_CONFIG, type AppConfig, DATABASE, type Database } from '@app/platform';
import { type CommandMeta, type CommandOutcome, handleCommand } from '../command-handling/handle-command';
import { PipelineRepository } from '../pipelines/pipeline.repository';
import { CustomFieldsRepository } from '../custom-fields/custom-fields.repository';
import { StreamStateCache } from '../command-handling/stream-state-cache';

export type OpportunityOutcome = CommandOutcome<OpportunityState, OpportunityEvent>;

/** Every deal command travels the command bus as this one message: which deal, what to decide, who and why. */
export class OpportunityCommandMessage<T extends OpportunityCommand = OpportunityCommand> extends Command<OpportunityOutcome> {
  constructor(
    readonly opportunityId: string,
    readonly command: T,
    readonly meta: CommandMeta,
  ) {
    super();
  }
}

/** Deal commands: the deal's stream, its pipeline, access and reference checks, then the pure decide. */
@CommandHandler(OpportunityCommandMessage)
export class OpportunityCommandHandler implements ICommandHandler<OpportunityCommandMessage, OpportunityOutcome> {
  constructor(
    private readonly store: EventStore,
    private readonly pipelines: PipelineRepository,
    private readonly customFields: CustomFieldsRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(DATABASE) private readonly database: Database,
    private readonly cache: StreamStateCache,
  ) {}

  execute({ opportunityId, command, meta }: OpportunityCommandMessage): Promise<OpportunityOutcome> {
    const { orgId } = meta.actor;
    let referencesChecked = false;
    return handleCommand<OpportunityState, OpportunityEvent>(
      this.store,
      this.config.commandRetries,
      {
        streamId: opportunityStreamId(orgId, opportunityId),
        noun: 'opportunity',
        creates: command.type === 'CreateOpportunity',
        fold: (recorded) => foldStored(recorded),
        evolve: (state, events) => fold(events, state),
        guard: (state) => {
          if (command.type !== 'CreateOpportunity' && (!state.exists || state.deleted)) throw DomainError.notFound('Opportunity');
        },
        decide: async (state, now, reads) => {
          authorizeCommand(meta.actor, command, state);
          if (!referencesChecked) await Promise.all([this.assertCategory(orgId, command), this.assertContacts(orgId, command)]);
          referencesChecked = true;
          const pipeline = await this.pipelines.forCommand(
            orgId,
            command.type === 'CreateOpportunity' ? command.input.pipeline_id : state.pipeline_id,
            reads,
          );
          // A create (required fields) or an update that gives custom_fields is checked against the definitions.
          const checksFields =
            command.type === 'CreateOpportunity' || (command.type === 'UpdateOpportunity' && command.changes.custom_fields != null);
          const customFields = checksFields ? await this.customFields.forCommand(orgId, reads) : undefined;
          return decide(command, state, { now, actor_id: meta.actor.userId, pipeline, custom_fields: customFields });
        },
      },
      meta,
      this.cache,
    );
  }

  /** Stakeholders are contacts of the deal's org (GET /contacts), named by their ids. */
  private async assertContacts(orgId: string, command: OpportunityCommand): Promise<void> {
    const named =
      command.type === 'CreateOpportunity'
        ? initialStakeholders(command.input)
        : command.type === 'AddStakeholder'
          ? [{ contact_id: command.contact_id, field: 'contact_id' }]
          : [];
    if (named.length === 0) return;
    const found = new Set(
      (
        await contactsByIds(
          this.database.tables<ReadModelTables>(),
          orgId,
          named.map((s) => s.contact_id),
        )
      ).map((c) => c.id),
    );
    const errors = Object.fromEntries(
      named
        .filter((s) => !found.has(s.contact_id))
        .map((s) => [s.field, [`contact ${s.contact_id} does not exist (GET /contacts lists them)`]]),
    );
    if (Object.keys(errors).length > 0) throw DomainError.validation(errors);
  }

  /** A deal's category is one of its org's categories (GET /categories), named by its id. */
  private async assertCategory(orgId: string, command: OpportunityCommand): Promise<void> {
    const id =
      command.type === 'CreateOpportunity'
        ? command.input.category_id
        : command.type === 'UpdateOpportunity'
          ? command.changes.category_id
          : undefined;
    if (id === undefined || id === null) return;
    const found =
      isUuid(id) &&
      (await this.database
        .tables<ReadModelTables>()
        .selectFrom('categories')
        .select('id')
        .where('org_id', '=', orgId)
        .where('id', '=', id)
        .executeTakeFirst());
    if (!found) throw DomainError.validation({ category_id: [`category ${id} does not exist (GET /categories lists them)`] });
  }
}

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
