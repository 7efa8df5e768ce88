import { Controller, Get, Param, Query } from '@nestjs/common';
import { Transform } from 'class-transformer';
import { IsInt, IsOptional, Matches, Max, Min } from 'class-validator';
import { Actor, CurrentActor, Roles, validateQuery } from '@app/platform';
import { PageQueryDto } from '../opportunities/dto/query.dto';
import { ParseOpportunityIdPipe } from '../opportunities/opportunity-id.pipe';
import { AuditService, historyItem } from './audit.service';

const toInt = ({ value }: { value: unknown }) => (typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value);

class EventsFeedQueryDto {
  @IsOptional() @Matches(/^\d{1,19}$/, { message: 'after must be a position (a whole number)' }) after?: string;
  @IsOptional() @Transform(toInt) @IsInt({ message: 'limit must be a whole number' }) @Min(1) @Max(1000) limit: number = 100;
}

@Controller()
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  /** Every event of the deal in order: type, version, position, actor, time, correlation id, data. */
  @Get('opportunities/:id/history')
  async history(@Param('id', ParseOpportunityIdPipe) id: string, @Query() raw: Record<string, unknown>, @CurrentActor() actor: Actor) {
    const q = validateQuery(PageQueryDto, raw);
    const { events } = await this.audit.history(actor, id);
    const page = events.slice((q.page - 1) * q.per_page, q.page * q.per_page);
    return {
      data: page.map(historyItem),
      meta: {
        current_page: q.page,
        per_page: q.per_page,
        total: events.length,
        last_page: Math.max(1, Math.ceil(events.length / q.per_page)),
      },
    };
  }

  /** Org-wide audit feed in commit order; pass the last `position` back as `after` to resume. */
  @Get('events')
  @Roles('admin')
  async events(@Query() raw: Record<string, unknown>, @CurrentActor() actor: Actor) {
    const q = validateQuery(EventsFeedQueryDto, raw);
    const events = await this.audit.feed(actor, q.after ?? null, q.limit);
    const last = events[events.length - 1];
    return {
      data: events.map((e) => ({ stream_id: e.streamId, ...historyItem(e) })),
      meta: { after: q.after ?? null, limit: q.limit, count: events.length, next_after: last ? last.position : (q.after ?? null) },
    };
  }
}
