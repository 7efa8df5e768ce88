import { OpportunityCommandMessage } from '../opportunities/opportunity-commands';
import { Body, Controller, Get, HttpCode, Inject, Param, Patch, Post } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { ActivityLogged, DomainError, OpportunityEvent } from '@app/domain';
import { Actor, CurrentActor, Database, DATABASE, nameBasedUuid, validateQuery } from '@app/platform';
import {
  ConsistencyService,
  customerNumberFor,
  findActivity,
  listActivities,
  listNotes,
  loggedActivityRow,
  READ_MODEL_NAMES,
  type ReadModelTables,
  toActivity,
} from '@app/read-models';
import { PageQueryDto } from '../opportunities/dto/query.dto';
import { type CommandMeta, CommandDispatcher, CommandMetadata } from '../command-handling/handle-command';
import { ParseOpportunityIdPipe } from '../opportunities/opportunity-id.pipe';
import { OpportunityRepository } from '../opportunities/opportunity.repository';
import { ReadQuery, ReadYourWrites } from '../read-your-writes';
import { ActivitiesQueryDto, AddNoteDto, CreateActivityDto, UpdateActivityDto } from './timeline.dto';

const activityView = (orgId: string, opportunityId: string, e: ActivityLogged, actorId: string) =>
  toActivity(loggedActivityRow(orgId, opportunityId, e.data, actorId));

const logged = (events: OpportunityEvent[]) => events.find((e): e is ActivityLogged => e.type === 'ActivityLogged')!;

/** Activities and notes: events on the deal's stream, listed from the timeline read model. */
@Controller()
export class TimelineController {
  constructor(
    private readonly commands: CommandDispatcher,
    private readonly repository: OpportunityRepository,
    private readonly consistency: ConsistencyService,
    @Inject(DATABASE) private readonly database: Database,
  ) {}

  @Post('activities')
  async create(@Body() dto: CreateActivityDto, @CurrentActor() actor: Actor, @CommandMetadata() meta: CommandMeta) {
    const type = dto.type ?? dto.activity_type;
    if (!type) throw DomainError.validation({ type: ['type (or activity_type) is required'] });
    const activityId = meta.idempotencyKey ? nameBasedUuid(`${actor.orgId}:activity:${meta.idempotencyKey}`) : randomUUID();
    const outcome = await this.commands.execute(
      new OpportunityCommandMessage(
        dto.opportunity_id,
        {
          type: 'LogActivity',
          activity_id: activityId,
          activity_type: type,
          subject: dto.subject,
          description: dto.description ?? dto.notes,
          outcome: dto.outcome,
          priority: dto.priority,
          scheduled_at: dto.scheduled_at,
          completed_at: dto.completed_at,
        },
        meta,
      ),
    );
    return {
      message: 'Activity created successfully',
      data: activityView(actor.orgId, dto.opportunity_id, logged(outcome.events), actor.userId),
    };
  }

  @Patch('activities/:activityId')
  async update(
    @Param('activityId', ParseOpportunityIdPipe) activityId: string,
    @Body() dto: UpdateActivityDto,
    @CurrentActor() actor: Actor,
    @CommandMetadata() meta: CommandMeta,
  ) {
    await this.consistency.waitFor(undefined, actor.orgId, READ_MODEL_NAMES);
    const activity = await findActivity(this.database.tables<ReadModelTables>(), actor.orgId, activityId);
    if (!activity) throw DomainError.notFound('Activity');
    const done = await this.commands.execute(
      new OpportunityCommandMessage(
        activity.opportunity_id,
        { type: 'CompleteActivity', activity_id: activityId, outcome: dto.outcome, completed_at: dto.completed_at },
        meta,
      ),
    );
    await this.consistency.waitFor(done.position ?? undefined, undefined, READ_MODEL_NAMES);
    return {
      message: 'Activity completed successfully',
      data: await findActivity(this.database.tables<ReadModelTables>(), actor.orgId, activityId),
    };
  }

  @ReadYourWrites()
  @Get('opportunities/:id/activities')
  async activities(
    @Param('id', ParseOpportunityIdPipe) id: string,
    @ReadQuery() raw: Record<string, unknown>,
    @CurrentActor() actor: Actor,
  ) {
    const q = validateQuery(ActivitiesQueryDto, raw);
    await this.ensureDeal(actor, id);
    const { rows, total } = await listActivities(this.database.tables<ReadModelTables>(), actor.orgId, id, q.page, q.per_page, q.type);
    return {
      data: rows,
      meta: { current_page: q.page, per_page: q.per_page, total, last_page: Math.max(1, Math.ceil(total / q.per_page)) },
    };
  }

  @Post('opportunities/:id/notes')
  async addNote(
    @Param('id', ParseOpportunityIdPipe) id: string,
    @Body() dto: AddNoteDto,
    @CurrentActor() actor: Actor,
    @CommandMetadata() meta: CommandMeta,
  ) {
    const noteId = meta.idempotencyKey ? nameBasedUuid(`${actor.orgId}:note:${meta.idempotencyKey}`) : randomUUID();
    const outcome = await this.commands.execute(
      new OpportunityCommandMessage(id, { type: 'AddNote', note_id: noteId, content: dto.content }, meta),
    );
    const note = outcome.events.find((e) => e.type === 'NoteAdded');
    return {
      message: 'Note added successfully',
      data: {
        id: noteId,
        opportunity_id: id,
        content: dto.content.trim(),
        created_by: actor.userId,
        created_at: note?.type === 'NoteAdded' ? note.data.added_at : null,
      },
    };
  }

  @ReadYourWrites()
  @Get('opportunities/:id/notes')
  async notes(@Param('id', ParseOpportunityIdPipe) id: string, @ReadQuery() raw: Record<string, unknown>, @CurrentActor() actor: Actor) {
    const q = validateQuery(PageQueryDto, raw);
    await this.ensureDeal(actor, id);
    const { rows, total } = await listNotes(this.database.tables<ReadModelTables>(), actor.orgId, id, q.page, q.per_page);
    return {
      data: rows,
      meta: { current_page: q.page, per_page: q.per_page, total, last_page: Math.max(1, Math.ceil(total / q.per_page)) },
    };
  }

  /** A customer from the prospect's name, email and phone; the deal is linked and an activity logged. */
  @Post('opportunities/:id/convert-to-customer')
  @HttpCode(200)
  async convert(@Param('id', ParseOpportunityIdPipe) id: string, @CurrentActor() actor: Actor, @CommandMetadata() meta: CommandMeta) {
    const state = await this.repository.load(actor.orgId, id);
    if (!state.exists || state.deleted) throw DomainError.notFound('Opportunity');
    const customerId = meta.idempotencyKey ? nameBasedUuid(`${actor.orgId}:customer:${meta.idempotencyKey}`) : randomUUID();
    const outcome = await this.commands.execute(
      new OpportunityCommandMessage(id, { type: 'ConvertProspect', customer_id: customerId, activity_id: randomUUID() }, meta),
    );
    const customer = await this.database
      .tables<ReadModelTables>()
      .insertInto('customers')
      .values({
        org_id: actor.orgId,
        id: customerId,
        customer_number: customerNumberFor(customerId),
        company_name: outcome.state.prospect_name ?? state.prospect_name!,
        email: outcome.state.prospect_email,
      })
      .onConflict((oc) => oc.doNothing())
      .returning(['id', 'customer_number', 'company_name', 'email'])
      .executeTakeFirst();
    return {
      message: 'Prospect converted to customer',
      data: {
        opportunity_id: id,
        customer_id: customerId,
        customer: customer ?? null,
        phone: outcome.state.prospect_phone,
        activity: activityView(actor.orgId, id, logged(outcome.events), actor.userId),
      },
    };
  }

  /** The deal is in the read model (the route has waited for the caller's writes). */
  private async ensureDeal(actor: Actor, id: string): Promise<void> {
    const row = await this.database
      .tables<ReadModelTables>()
      .selectFrom('opportunity_list')
      .select('id')
      .where('org_id', '=', actor.orgId)
      .where('id', '=', id)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    if (!row) throw DomainError.notFound('Opportunity');
  }
}
