import { PipelineCommandMessage } from './pipeline-commands';
import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Patch, Post, Put } from '@nestjs/common';
import {
  DEFAULT_PIPELINE_ID,
  defaultPipelineProtected,
  DomainError,
  ErrorCode,
  Pipeline,
  PipelineCommand,
  PIPELINE_KEY,
  slugOf,
} from '@app/domain';
import { Actor, CurrentActor, Database, DATABASE, ResponseHeaders, Roles } from '@app/platform';
import { ConsistencyService, READ_MODEL_NAMES, type ReadModelTables } from '@app/read-models';
import { type CommandMeta, CommandDispatcher, CommandMetadata } from '../command-handling/handle-command';
import { CreatePipelineDto, LossReasonsDto, StageDto, UpdatePipelineDto, UpdateStageDto } from './pipelines.dto';
import { PipelineRepository } from './pipeline.repository';
import { ReadYourWrites } from '../read-your-writes';

function checkId(id: string, field = 'id'): string {
  if (!PIPELINE_KEY.test(id)) throw DomainError.validation({ [field]: [`${field} must be lower-case letters, digits and _`] });
  return id;
}

/** A pipeline as clients read it: stages in display order with is_won / is_lost flags and their deal counts. */
function pipelineView(p: Pipeline, version: number, counts: Map<string, number>) {
  return {
    id: p.id,
    name: p.name,
    policy: p.policy,
    loss_reasons: p.loss_reasons,
    stages: [...p.stages]
      .sort((a, b) => a.display_order - b.display_order)
      .map((s) => ({
        key: s.key,
        name: s.name,
        display_order: s.display_order,
        probability: s.probability,
        is_won: s.kind === 'won',
        is_lost: s.kind === 'lost',
        is_on_hold: s.kind === 'on_hold',
        rotting_days: s.rotting_days ?? null,
        deal_count: counts.get(s.key) ?? 0,
      })),
    version,
  };
}

/** Pipelines are data: stages, probabilities, won/lost flags, policy and loss reasons per pipeline. */
@Controller('pipelines')
export class PipelinesController {
  constructor(
    private readonly pipelines: PipelineRepository,
    private readonly commands: CommandDispatcher,
    private readonly consistency: ConsistencyService,
    @Inject(DATABASE) private readonly database: Database,
  ) {}

  @ReadYourWrites()
  @Get()
  async list(@CurrentActor() actor: Actor) {
    const rows = await this.database
      .tables<ReadModelTables>()
      .selectFrom('pipelines')
      .select(['id', 'definition', 'version', 'deleted_at'])
      .where('org_id', '=', actor.orgId)
      .orderBy('id')
      .execute();
    const views = [];
    if (!rows.some((r) => r.id === DEFAULT_PIPELINE_ID)) {
      const state = await this.pipelines.load(actor.orgId, DEFAULT_PIPELINE_ID);
      views.push(pipelineView(state.pipeline!, state.version, await this.dealCounts(actor.orgId, DEFAULT_PIPELINE_ID)));
    }
    for (const r of rows.filter((x) => x.deleted_at === null)) {
      const definition = r.definition;
      views.push(pipelineView(definition, Number(r.version), await this.dealCounts(actor.orgId, r.id)));
    }
    return {
      data: views.sort((a, b) => (a.id === DEFAULT_PIPELINE_ID ? -1 : b.id === DEFAULT_PIPELINE_ID ? 1 : a.name.localeCompare(b.name))),
    };
  }

  @ReadYourWrites()
  @Get(':id')
  async get(@Param('id') id: string, @CurrentActor() actor: Actor, @ResponseHeaders() headers: Record<string, string>) {
    const state = await this.pipelines.load(actor.orgId, checkId(id));
    if (!state.exists || state.deleted) throw DomainError.notFound('Pipeline');
    headers.ETag = `"${state.version}"`;
    return { data: pipelineView(state.pipeline!, state.version, await this.dealCounts(actor.orgId, id)) };
  }

  @Post()
  @Roles('admin')
  async create(@Body() dto: CreatePipelineDto, @CurrentActor() actor: Actor, @CommandMetadata() meta: CommandMeta) {
    const id = dto.id ?? slugOf(dto.name);
    const message = await this.run(
      actor,
      id,
      { type: 'CreatePipeline', pipeline_id: id, name: dto.name, stages: dto.stages, loss_reasons: dto.loss_reasons, policy: dto.policy },
      meta,
    );
    return { message: 'Pipeline created successfully', data: message };
  }

  @Patch(':id')
  @Roles('admin')
  async update(
    @Param('id') id: string,
    @Body() dto: UpdatePipelineDto,
    @CurrentActor() actor: Actor,
    @CommandMetadata() meta: CommandMeta,
  ) {
    return {
      message: 'Pipeline updated successfully',
      data: await this.run(actor, checkId(id), { type: 'UpdatePipeline', ...dto }, meta),
    };
  }

  @Delete(':id')
  @Roles('admin')
  @HttpCode(204)
  async remove(@Param('id') id: string, @CurrentActor() actor: Actor, @CommandMetadata() meta: CommandMeta) {
    if (checkId(id) === DEFAULT_PIPELINE_ID) throw defaultPipelineProtected();
    await this.consistency.waitFor(undefined, actor.orgId, READ_MODEL_NAMES);
    const total = [...(await this.dealCounts(actor.orgId, checkId(id))).values()].reduce((a, b) => a + b, 0);
    if (total > 0) {
      throw new DomainError(ErrorCode.PipelineInUse, `Pipeline ${id} holds ${total} opportunities; move or delete them first`, {
        deal_count: total,
      });
    }
    await this.run(actor, id, { type: 'DeletePipeline' }, meta);
  }

  @Post(':id/stages')
  @Roles('admin')
  async addStage(@Param('id') id: string, @Body() dto: StageDto, @CurrentActor() actor: Actor, @CommandMetadata() meta: CommandMeta) {
    return { message: 'Stage added successfully', data: await this.run(actor, checkId(id), { type: 'AddStage', stage: dto }, meta) };
  }

  @Patch(':id/stages/:key')
  @Roles('admin')
  async updateStage(
    @Param('id') id: string,
    @Param('key') key: string,
    @Body() dto: UpdateStageDto,
    @CurrentActor() actor: Actor,
    @CommandMetadata() meta: CommandMeta,
  ) {
    return {
      message: 'Stage updated successfully',
      data: await this.run(actor, checkId(id), { type: 'UpdateStage', key: checkId(key, 'key'), changes: dto }, meta),
    };
  }

  /** A stage that still holds deals cannot go: 409 with how many. */
  @Delete(':id/stages/:key')
  @Roles('admin')
  async removeStage(
    @Param('id') id: string,
    @Param('key') key: string,
    @CurrentActor() actor: Actor,
    @CommandMetadata() meta: CommandMeta,
  ) {
    await this.consistency.waitFor(undefined, actor.orgId, READ_MODEL_NAMES);
    const held = (await this.dealCounts(actor.orgId, checkId(id))).get(checkId(key, 'key')) ?? 0;
    if (held > 0) {
      throw new DomainError(ErrorCode.StageInUse, `Stage ${key} holds ${held} opportunities; move them to another stage first`, {
        deal_count: held,
      });
    }
    return { message: 'Stage removed successfully', data: await this.run(actor, id, { type: 'RemoveStage', key }, meta) };
  }

  @Put(':id/loss-reasons')
  @Roles('admin')
  async lossReasons(
    @Param('id') id: string,
    @Body() dto: LossReasonsDto,
    @CurrentActor() actor: Actor,
    @CommandMetadata() meta: CommandMeta,
  ) {
    return {
      message: 'Loss reasons updated successfully',
      data: await this.run(actor, checkId(id), { type: 'SetLossReasons', loss_reasons: dto.loss_reasons }, meta),
    };
  }

  private async run(actor: Actor, id: string, command: PipelineCommand, meta: CommandMeta) {
    const result = await this.commands.execute(new PipelineCommandMessage(checkId(id), command, meta));
    return result.state.pipeline ? pipelineView(result.state.pipeline, result.version, await this.dealCounts(actor.orgId, id)) : null;
  }

  private async dealCounts(orgId: string, pipelineId: string): Promise<Map<string, number>> {
    const rows = await this.database
      .tables<ReadModelTables>()
      .selectFrom('opportunity_list')
      .select(['stage', (eb) => eb.fn.countAll<string>().as('n')])
      .where('org_id', '=', orgId)
      .where('pipeline_id', '=', pipelineId)
      .where('deleted_at', 'is', null)
      .groupBy('stage')
      .execute();
    return new Map(rows.map((r) => [r.stage, Number(r.n)]));
  }
}
