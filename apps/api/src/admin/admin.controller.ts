import { Body, Controller, Delete, Get, HttpCode, Inject, Param, ParseUUIDPipe, Patch, Post, Query } from '@nestjs/common';
import { IsBoolean, IsHexColor, IsIn, IsInt, IsNotEmpty, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { DomainError, ErrorCode } from '@app/domain';
import { Actor, CurrentActor, Database, DATABASE, Role, ROLES, Roles, TokenService, validateQuery } from '@app/platform';
import type { ReadModelTables } from '@app/read-models';
import { IsOptionalNotNull, IsReferenceId } from '../opportunities/dto/validators';

class CreateTokenDto {
  @IsReferenceId() user_id: string;
  @IsIn(ROLES, { message: `role must be one of: ${ROLES.join(', ')}` }) role: Role;
  @IsOptional() @IsString() @MaxLength(200) label?: string;
}

const uuid = new ParseUUIDPipe({ exceptionFactory: () => DomainError.validation({ id: ['id must be a UUID'] }) });

/** API tokens of the org (admins): minted here, shown once, stored hashed, revocable. */
@Controller('tokens')
@Roles('admin')
export class TokensController {
  constructor(
    private readonly tokens: TokenService,
    @Inject(DATABASE) private readonly database: Database,
  ) {}

  @Post()
  async create(@Body() dto: CreateTokenDto, @CurrentActor() actor: Actor) {
    const minted = await this.tokens.mint({ orgId: actor.orgId, userId: dto.user_id, role: dto.role, label: dto.label });
    return {
      message: 'Token created; store it now, it is not shown again',
      data: { id: minted.id, token: minted.token, user_id: minted.userId, role: minted.role },
    };
  }

  @Get()
  async list(@CurrentActor() actor: Actor) {
    const rows = await this.database.db
      .selectFrom('api_tokens')
      .select(['id', 'user_id', 'role', 'label', 'created_at', 'revoked_at'])
      .where('org_id', '=', actor.orgId)
      .orderBy('created_at')
      .execute();
    return { data: rows };
  }

  @Delete(':id')
  @HttpCode(204)
  async revoke(@Param('id', uuid) id: string, @CurrentActor() actor: Actor) {
    if (id === actor.tokenId) throw DomainError.validation({ id: ['a token cannot revoke itself'] });
    if (!(await this.tokens.revoke(actor.orgId, id))) throw DomainError.notFound('Token');
  }
}

class CategoryDto {
  @IsString() @IsNotEmpty() @MaxLength(100) name: string;
  @IsOptional() @IsHexColor({ message: 'color must be a hex color such as #10b981' }) color?: string | null;
  @IsOptionalNotNull() @IsInt() @Min(0) @Max(100000) sort_order?: number;
  @IsOptionalNotNull() @IsBoolean() is_active?: boolean;
}

class UpdateCategoryDto {
  @IsOptionalNotNull() @IsString() @IsNotEmpty() @MaxLength(100) name?: string;
  @IsOptional() @IsHexColor({ message: 'color must be a hex color such as #10b981' }) color?: string | null;
  @IsOptionalNotNull() @IsInt() @Min(0) @Max(100000) sort_order?: number;
  @IsOptionalNotNull() @IsBoolean() is_active?: boolean;
}

class CategoriesQueryDto {
  @IsOptional() @IsIn(['true', 'false'], { message: 'is_active must be true or false' }) is_active?: string;
}

const CATEGORY_COLUMNS = ['id', 'name', 'color', 'sort_order', 'is_active', 'created_at', 'updated_at'] as const;

/** Opportunity categories: name, color, sort order, active flag. */
@Controller('categories')
export class CategoriesController {
  constructor(@Inject(DATABASE) private readonly database: Database) {}

  @Post()
  @Roles('admin', 'manager')
  async create(@Body() dto: CategoryDto, @CurrentActor() actor: Actor) {
    const row = await this.database
      .tables<ReadModelTables>()
      .insertInto('categories')
      .values({
        org_id: actor.orgId,
        id: randomUUID(),
        name: dto.name.trim(),
        color: dto.color ?? null,
        sort_order: dto.sort_order ?? 0,
        is_active: dto.is_active ?? true,
      })
      .onConflict((oc) => oc.doNothing())
      .returning([...CATEGORY_COLUMNS])
      .executeTakeFirst();
    if (!row) throw new DomainError(ErrorCode.AlreadyExists, `A category named ${dto.name} already exists`);
    return { message: 'Category created successfully', data: row };
  }

  @Get()
  async list(@Query() raw: Record<string, unknown>, @CurrentActor() actor: Actor) {
    const q = validateQuery(CategoriesQueryDto, raw);
    let query = this.database
      .tables<ReadModelTables>()
      .selectFrom('categories')
      .select([...CATEGORY_COLUMNS])
      .where('org_id', '=', actor.orgId);
    if (q.is_active !== undefined) query = query.where('is_active', '=', q.is_active === 'true');
    return { data: await query.orderBy('sort_order').orderBy('name').execute() };
  }

  @Patch(':id')
  @Roles('admin', 'manager')
  async update(@Param('id', uuid) id: string, @Body() dto: UpdateCategoryDto, @CurrentActor() actor: Actor) {
    const changes = Object.fromEntries(Object.entries(dto).filter(([, v]) => v !== undefined));
    try {
      const row = await this.database
        .tables<ReadModelTables>()
        .updateTable('categories')
        .set({ ...changes, updated_at: sql`now()` })
        .where('org_id', '=', actor.orgId)
        .where('id', '=', id)
        .returning([...CATEGORY_COLUMNS])
        .executeTakeFirst();
      if (!row) throw DomainError.notFound('Category');
      return { message: 'Category updated successfully', data: row };
    } catch (error: any) {
      if (error?.code === '23505') throw new DomainError(ErrorCode.AlreadyExists, 'Another category has this name');
      throw error;
    }
  }

  @Delete(':id')
  @Roles('admin', 'manager')
  @HttpCode(204)
  async remove(@Param('id', uuid) id: string, @CurrentActor() actor: Actor) {
    const result = await this.database
      .tables<ReadModelTables>()
      .deleteFrom('categories')
      .where('org_id', '=', actor.orgId)
      .where('id', '=', id)
      .executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) throw DomainError.notFound('Category');
  }
}
