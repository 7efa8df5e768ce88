import { OpportunityCommandMessage } from './opportunity-commands';
import { Body, Controller, Delete, HttpCode, Param, Patch, Post, Put, Query } from '@nestjs/common';
import { ParseOpportunityIdPipe } from './opportunity-id.pipe';
import { randomUUID } from 'node:crypto';
import { DomainError, OpportunityState } from '@app/domain';
import { Actor, CurrentActor, nameBasedUuid, ResponseHeaders } from '@app/platform';
import { OpportunityViews } from './opportunity-views.service';
import { type CommandMeta, CommandDispatcher, CommandMetadata } from '../command-handling/handle-command';
import { CreateOpportunityDto } from './dto/create-opportunity.dto';
import {
  AdvanceStageDto,
  AssignOpportunityDto,
  ChangeStageDto,
  DeleteOpportunityQuery,
  LoseOpportunityDto,
  MoveToPreviousStageDto,
  WinOpportunityDto,
} from './dto/stage.dto';
import { UpdateOpportunityDto } from './dto/update-opportunity.dto';
import { amountToMinor } from './dto/validators';
import { assignedView, lostView, stageView, stakeholderViews, wonView } from './opportunity.view';
import { StakeholderDto } from './dto/stakeholder.dto';

/** UUIDs are case-insensitive: ids are validated and lower-cased before they name a stream. */
const uuid = new ParseOpportunityIdPipe();

@Controller('opportunities')
export class OpportunitiesController {
  constructor(
    private readonly commands: CommandDispatcher,
    private readonly views: OpportunityViews,
  ) {}

  @Post()
  async create(
    @Body() dto: CreateOpportunityDto,
    @CurrentActor() actor: Actor,
    @CommandMetadata() meta: CommandMeta,
    @ResponseHeaders() headers: Record<string, string>,
  ) {
    const { value, expected_revenue, probability, stakeholders, ...fields } = dto;
    const id = meta.idempotencyKey ? nameBasedUuid(`${actor.orgId}:${meta.idempotencyKey}`) : randomUUID();
    const outcome = await this.commands.execute(
      new OpportunityCommandMessage(
        id,
        {
          type: 'CreateOpportunity',
          opportunity_id: id,
          input: {
            ...fields,
            value_minor: amountToMinor(value) ?? 0,
            expected_revenue_minor: amountToMinor(expected_revenue) ?? amountToMinor(value) ?? null,
            ...(probability != null ? { probability } : {}),
            ...(stakeholders ? { stakeholders: stakeholders.map((s) => ({ contact_id: s.contact_id, role: s.role ?? 'other' })) } : {}),
          },
        },
        meta,
      ),
    );
    headers.Location = `/api/v1/crm/opportunities/${id}`;
    // The stakeholders given come back as contact records.
    const includes = stakeholders?.length || fields.stakeholder_ids?.length ? ['stakeholders'] : [];
    return { message: 'Opportunity created successfully', data: await this.views.detail(actor, outcome.state, includes, undefined, true) };
  }

  @Put(':id')
  replace(
    @Param('id', uuid) id: string,
    @Body() dto: UpdateOpportunityDto,
    @CurrentActor() actor: Actor,
    @CommandMetadata() meta: CommandMeta,
  ) {
    return this.update(id, dto, actor, meta);
  }

  @Patch(':id')
  async update(
    @Param('id', uuid) id: string,
    @Body() dto: UpdateOpportunityDto,
    @CurrentActor() actor: Actor,
    @CommandMetadata() meta: CommandMeta,
  ) {
    if (dto.stage !== undefined) {
      throw DomainError.validation({
        stage: ['stage is changed with PATCH /opportunities/{id}/stage, POST …/stage/next or …/stage/previous'],
      });
    }
    const { value, expected_revenue, probability, assigned_user_id, notes, stage: _stage, ...fields } = dto;
    const changes = {
      ...fields,
      ...(value !== undefined ? { value_minor: amountToMinor(value) } : {}),
      ...(expected_revenue !== undefined ? { expected_revenue_minor: amountToMinor(expected_revenue) ?? null } : {}),
    };
    const outcome = await this.commands.execute(
      new OpportunityCommandMessage(id, { type: 'UpdateOpportunity', changes, probability, assigned_user_id, notes }, meta),
    );
    return { message: 'Opportunity updated successfully', data: await this.detail(actor, outcome.state) };
  }

  @Delete(':id')
  @HttpCode(204)
  async remove(
    @Param('id', uuid) id: string,
    @Query() query: DeleteOpportunityQuery,
    @CurrentActor() actor: Actor,
    @CommandMetadata() meta: CommandMeta,
  ) {
    await this.commands.execute(new OpportunityCommandMessage(id, { type: 'Delete', reason: query.reason }, meta));
  }

  @Patch(':id/stage')
  async changeStage(
    @Param('id', uuid) id: string,
    @Body() dto: ChangeStageDto,
    @CurrentActor() actor: Actor,
    @CommandMetadata() meta: CommandMeta,
  ) {
    const outcome = await this.commands.execute(new OpportunityCommandMessage(id, { type: 'ChangeStage', ...dto }, meta));
    return { message: 'Opportunity stage updated successfully', data: stageView(outcome.state) };
  }

  @Post(':id/stage/next')
  @HttpCode(200)
  async next(
    @Param('id', uuid) id: string,
    @Body() dto: AdvanceStageDto,
    @CurrentActor() actor: Actor,
    @CommandMetadata() meta: CommandMeta,
  ) {
    const outcome = await this.commands.execute(new OpportunityCommandMessage(id, { type: 'AdvanceStage', notes: dto.notes }, meta));
    return { message: 'Opportunity advanced to next stage successfully', data: stageView(outcome.state) };
  }

  @Post(':id/stage/previous')
  @HttpCode(200)
  async previous(
    @Param('id', uuid) id: string,
    @Body() dto: MoveToPreviousStageDto,
    @CurrentActor() actor: Actor,
    @CommandMetadata() meta: CommandMeta,
  ) {
    const outcome = await this.commands.execute(new OpportunityCommandMessage(id, { type: 'MoveToPreviousStage', ...dto }, meta));
    return { message: 'Opportunity moved to previous stage successfully', data: stageView(outcome.state) };
  }

  @Post(':id/win')
  @HttpCode(200)
  async win(@Param('id', uuid) id: string, @Body() dto: WinOpportunityDto, @CommandMetadata() meta: CommandMeta) {
    const outcome = await this.commands.execute(
      new OpportunityCommandMessage(
        id,
        {
          type: 'Win',
          close_reason: dto.close_reason,
          close_date: dto.close_date,
          actual_value_minor: amountToMinor(dto.actual_value),
          transaction_id: dto.transaction_id,
        },
        meta,
      ),
    );
    return {
      message: 'Opportunity marked as won',
      data: wonView(outcome.state, new Date().toISOString()),
    };
  }

  @Post(':id/lose')
  @HttpCode(200)
  async lose(@Param('id', uuid) id: string, @Body() dto: LoseOpportunityDto, @CommandMetadata() meta: CommandMeta) {
    const outcome = await this.commands.execute(new OpportunityCommandMessage(id, { type: 'Lose', ...dto }, meta));
    return {
      message: 'Opportunity marked as lost',
      data: lostView(outcome.state, new Date().toISOString()),
    };
  }

  /** Adds a contact to the deal with a role, or changes its role (the same role again changes nothing). */
  @Post(':id/stakeholders')
  @HttpCode(200)
  async addStakeholder(
    @Param('id', uuid) id: string,
    @Body() dto: StakeholderDto,
    @CurrentActor() actor: Actor,
    @CommandMetadata() meta: CommandMeta,
  ) {
    const outcome = await this.commands.execute(
      new OpportunityCommandMessage(id, { type: 'AddStakeholder', contact_id: dto.contact_id, role: dto.role ?? 'other' }, meta),
    );
    return { message: 'Stakeholder saved', data: await this.stakeholders(actor, outcome.state) };
  }

  @Delete(':id/stakeholders/:contactId')
  @HttpCode(200)
  async removeStakeholder(
    @Param('id', uuid) id: string,
    @Param('contactId') contactId: string,
    @CurrentActor() actor: Actor,
    @CommandMetadata() meta: CommandMeta,
  ) {
    const outcome = await this.commands.execute(
      new OpportunityCommandMessage(id, { type: 'RemoveStakeholder', contact_id: contactId }, meta),
    );
    return { message: 'Stakeholder removed', data: await this.stakeholders(actor, outcome.state) };
  }

  @Post(':id/assign')
  @HttpCode(200)
  async assign(
    @Param('id', uuid) id: string,
    @Body() dto: AssignOpportunityDto,
    @CurrentActor() actor: Actor,
    @CommandMetadata() meta: CommandMeta,
  ) {
    const outcome = await this.commands.execute(new OpportunityCommandMessage(id, { type: 'Assign', ...dto }, meta));
    return {
      message: 'Opportunity assigned successfully',
      data: assignedView(outcome.state, outcome.events, await this.refs(actor, outcome.state)),
    };
  }

  private refs(actor: Actor, state: OpportunityState) {
    return this.views.refs(actor, state);
  }

  /** The deal's stakeholders after a change, as contact records with their roles. */
  private async stakeholders(actor: Actor, state: OpportunityState) {
    return { id: state.opportunity_id, version: state.version, stakeholders: stakeholderViews(state, await this.refs(actor, state)) };
  }

  /** A command's outcome, shown with the pipeline and definitions it was decided with. */
  private detail(actor: Actor, state: OpportunityState) {
    return this.views.detail(actor, state, [], undefined, true);
  }
}
