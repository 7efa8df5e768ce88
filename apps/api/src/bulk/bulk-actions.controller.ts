import { OpportunityCommandMessage } from '../opportunities/opportunity-commands';
import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsIn,
  IsNotEmpty,
  IsObject,
  IsOptional,
  IsString,
  MaxLength,
  validateSync,
} from 'class-validator';
import { randomUUID } from 'node:crypto';
import { DomainError, OpportunityCommand, isUuid } from '@app/domain';
import { errorBody, isCodedError, ResponseStatus, Roles, statusOf } from '@app/platform';
import { type CommandMeta, CommandDispatcher, CommandMetadata } from '../command-handling/handle-command';
import { ChangeStageDto, AssignOpportunityDto } from '../opportunities/dto/stage.dto';
import { IsDateOnly } from '../opportunities/dto/validators';

export const BULK_ACTIONS = ['update_close_date', 'mark_lost', 'update_stage', 'assign'] as const;
type BulkAction = (typeof BULK_ACTIONS)[number];
const CONCURRENCY = 8;

class BulkActionDto {
  @IsIn(BULK_ACTIONS, { message: `action must be one of: ${BULK_ACTIONS.join(', ')}` }) action: BulkAction;
  @IsArray() @ArrayMinSize(1) @ArrayMaxSize(1000, { message: 'opportunity_ids may hold at most 1000 ids' }) opportunity_ids: unknown[];
  @IsOptional() @IsObject() parameters?: Record<string, unknown>;
}

class UpdateCloseDateParams {
  @IsDateOnly() expected_close_date: string;
}

class MarkLostParams {
  @IsString() @IsNotEmpty() @MaxLength(100) loss_reason: string;
  @IsOptional() @IsString() @MaxLength(200) competitor?: string;
  @IsOptional() @IsString() @MaxLength(20000) loss_notes?: string;
  @IsOptional() @IsString() @MaxLength(20000) lessons_learned?: string;
}

class AssignParams extends AssignOpportunityDto {}

const PARAMETERS: Record<BulkAction, new () => object> = {
  update_close_date: UpdateCloseDateParams,
  mark_lost: MarkLostParams,
  update_stage: ChangeStageDto,
  assign: AssignParams,
};

function parametersFor<T extends object>(cls: new () => T, raw: Record<string, unknown>): T {
  const instance = plainToInstance(cls, raw);
  const errors = validateSync(instance, { whitelist: true, forbidNonWhitelisted: true });
  if (errors.length) {
    throw DomainError.validation(
      Object.fromEntries(
        errors.map((e) => [`parameters.${e.property}`, Object.values(e.constraints ?? { invalid: `${e.property} is invalid` })]),
      ),
    );
  }
  return instance;
}

function toCommand(action: BulkAction, p: any): OpportunityCommand {
  switch (action) {
    case 'update_close_date':
      return { type: 'UpdateOpportunity', changes: { expected_close_date: p.expected_close_date } };
    case 'mark_lost':
      return {
        type: 'Lose',
        loss_reason: p.loss_reason,
        competitor: p.competitor,
        loss_notes: p.loss_notes,
        lessons_learned: p.lessons_learned,
      };
    case 'update_stage':
      return { type: 'ChangeStage', stage: p.stage, notes: p.notes, reason: p.reason, loss_reason: p.loss_reason };
    case 'assign':
      return { type: 'Assign', user_id: p.user_id, reason: p.reason, notify: p.notify };
    default: {
      const unreachable: never = action;
      throw new Error(`Unknown action ${String(unreachable)}`);
    }
  }
}

function messageFor(id: string, command: OpportunityCommand, meta: OpportunityCommandMessage['meta']): OpportunityCommandMessage {
  switch (command.type) {
    case 'UpdateOpportunity':
      return new OpportunityCommandMessage(id, command, meta);
    case 'Lose':
      return new OpportunityCommandMessage(id, command, meta);
    case 'ChangeStage':
      return new OpportunityCommandMessage(id, command, meta);
    case 'Assign':
      return new OpportunityCommandMessage(id, command, meta);
    default:
      throw new Error(`Bulk actions do not send ${command.type}`);
  }
}

/**
 * One action over up to 1000 deals. Each id is its own command with its own
 * validation and authorisation; the answer lists success or the error for every id.
 */
@Controller('opportunities')
export class BulkActionsController {
  constructor(private readonly commands: CommandDispatcher) {}

  @Post('bulk-actions')
  @HttpCode(200)
  @Roles('admin', 'manager', 'rep')
  async run(@Body() dto: BulkActionDto, @CommandMetadata() meta: CommandMeta, @ResponseStatus() status: { set(code: number): void }) {
    const params = parametersFor(PARAMETERS[dto.action], dto.parameters ?? {});
    const command = toCommand(dto.action, params);
    // One result per id, no ETag: each deal's command reports to its own result instead.
    const base = { ...meta, onApplied: undefined };
    if (base.expectedVersion !== undefined) throw DomainError.validation({ 'If-Match': ['If-Match does not apply to bulk actions'] });
    const ids = [...new Set(dto.opportunity_ids.map((v) => (typeof v === 'string' ? v.toLowerCase() : JSON.stringify(v))))];
    const results = new Array(ids.length);
    let next = 0;
    const workers = Array.from({ length: Math.min(CONCURRENCY, ids.length) }, async () => {
      for (let i = next++; i < ids.length; i = next++) {
        const id = ids[i];
        if (!isUuid(id)) {
          results[i] = { id, status: 'error', http_status: 400, code: 'validation_failed', message: 'id must be a UUID' };
          continue;
        }
        // Each deal gets its own idempotency scope so deterministic event ids never collide across deals.
        const meta = { ...base, commandId: randomUUID(), idempotencyKey: base.idempotencyKey ? `${base.idempotencyKey}:${id}` : undefined };
        try {
          const outcome = await this.commands.execute(messageFor(id, command, meta));
          results[i] = { id, status: 'success', version: outcome.version, position: outcome.position, changed: outcome.events.length > 0 };
        } catch (error) {
          results[i] = failure(id, error);
        }
      }
    });
    await Promise.all(workers);
    const succeeded = results.filter((r) => r.status === 'success').length;
    // 200 when at least one deal took the action (the results say which); 422 when none did.
    if (succeeded === 0) status.set(422);
    return {
      message:
        succeeded === ids.length
          ? 'Bulk action completed'
          : succeeded === 0
            ? 'Bulk action failed for every opportunity'
            : 'Bulk action partially completed',
      ...(succeeded === 0 ? { code: 'bulk_action_failed' } : {}),
      data: { action: dto.action, total: ids.length, succeeded, failed: ids.length - succeeded, results },
    };
  }
}

function failure(id: string, error: unknown) {
  if (isCodedError(error)) return { id, status: 'error', http_status: statusOf(error), ...errorBody(error) };
  throw error;
}
