import { Body, Controller, Get, Inject, Param, Patch, Post, Query } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { DomainError, ErrorCode } from '@app/domain';
import { Actor, CurrentActor, Database, DATABASE, Roles, validateQuery } from '@app/platform';
import {
  CONTACT_COLUMNS,
  customerNumberFor,
  LEAD_COLUMNS,
  listContacts,
  listCustomers,
  listLeads,
  listUsers,
  upsertUser,
  type ReadModelTables,
} from '@app/read-models';
import {
  ContactListQueryDto,
  CreateContactDto,
  CreateCustomerDto,
  CreateLeadDto,
  CreateUserDto,
  DirectoryListQueryDto,
  UpdateContactDto,
  UpdateCustomerDto,
  UpdateLeadDto,
  UpdateUserDto,
} from './directory.dto';

const ID = /^[A-Za-z0-9_.:@-]{1,100}$/;

function checkId(id: string): string {
  if (!ID.test(id)) throw DomainError.validation({ id: ['id may contain only letters, digits and _ . : @ -'] });
  return id;
}

/** A name part (or another required text), trimmed; blank is refused like absent. */
function nameField(value: string, field: string): string {
  const trimmed = value.trim();
  if (!trimmed) throw DomainError.validation({ [field]: [`${field} must not be blank`] });
  return trimmed;
}

/** Text that may be cleared with null; given, it is trimmed and blank is refused. */
function optionalText(value: string | null | undefined, field: string): string | null | undefined {
  return value === null || value === undefined ? value : nameField(value, field);
}

function page<T>(rows: T[], total: number, q: DirectoryListQueryDto) {
  return { data: rows, meta: { current_page: q.page, per_page: q.per_page, total, last_page: Math.max(1, Math.ceil(total / q.per_page)) } };
}

/** Users render as {id, name, email} wherever a deal names its owner. */
@Controller('users')
export class UsersController {
  constructor(@Inject(DATABASE) private readonly database: Database) {}

  @Post()
  @Roles('admin', 'manager')
  async create(@Body() dto: CreateUserDto, @CurrentActor() actor: Actor) {
    const row = await upsertUser(this.database.tables<ReadModelTables>(), actor.orgId, dto, 'create');
    if (!row) throw new DomainError(ErrorCode.AlreadyExists, `User ${dto.id} already exists`);
    return { message: 'User created successfully', data: row };
  }

  @Get()
  async list(@Query() raw: Record<string, unknown>, @CurrentActor() actor: Actor) {
    const q = validateQuery(DirectoryListQueryDto, raw);
    const { rows, total } = await listUsers(this.database.tables<ReadModelTables>(), actor.orgId, q);
    return page(rows, total, q);
  }

  @Get(':id')
  async get(@Param('id') id: string, @CurrentActor() actor: Actor) {
    const row = await this.database
      .tables<ReadModelTables>()
      .selectFrom('users')
      .select(['id', 'name', 'email', 'created_at', 'updated_at'])
      .where('org_id', '=', actor.orgId)
      .where('id', '=', checkId(id))
      .executeTakeFirst();
    if (!row) throw DomainError.notFound('User');
    return { data: row };
  }

  @Patch(':id')
  @Roles('admin', 'manager')
  async update(@Param('id') id: string, @Body() dto: UpdateUserDto, @CurrentActor() actor: Actor) {
    const row = await upsertUser(
      this.database.tables<ReadModelTables>(),
      actor.orgId,
      { id: checkId(id), name: dto.name!, email: dto.email },
      'update',
    );
    if (!row) throw DomainError.notFound('User');
    return { message: 'User updated successfully', data: row };
  }
}

/** Customers render as {id, customer_number, company_name, email} in includes. */
@Controller('customers')
export class CustomersController {
  constructor(@Inject(DATABASE) private readonly database: Database) {}

  @Post()
  @Roles('admin', 'manager', 'rep')
  async create(@Body() dto: CreateCustomerDto, @CurrentActor() actor: Actor) {
    const id = dto.id ?? randomUUID();
    const row = await this.database
      .tables<ReadModelTables>()
      .insertInto('customers')
      .values({
        org_id: actor.orgId,
        id,
        customer_number: dto.customer_number ?? customerNumberFor(id),
        company_name: dto.company_name,
        email: dto.email ?? null,
      })
      .onConflict((oc) => oc.doNothing())
      .returning(['id', 'customer_number', 'company_name', 'email', 'created_at', 'updated_at'])
      .executeTakeFirst();
    if (!row) throw new DomainError(ErrorCode.AlreadyExists, 'A customer with this id or customer_number already exists');
    return { message: 'Customer created successfully', data: row };
  }

  @Get()
  async list(@Query() raw: Record<string, unknown>, @CurrentActor() actor: Actor) {
    const q = validateQuery(DirectoryListQueryDto, raw);
    const { rows, total } = await listCustomers(this.database.tables<ReadModelTables>(), actor.orgId, q);
    return page(rows, total, q);
  }

  @Get(':id')
  async get(@Param('id') id: string, @CurrentActor() actor: Actor) {
    const row = await this.database
      .tables<ReadModelTables>()
      .selectFrom('customers')
      .select(['id', 'customer_number', 'company_name', 'email', 'created_at', 'updated_at'])
      .where('org_id', '=', actor.orgId)
      .where('id', '=', checkId(id))
      .executeTakeFirst();
    if (!row) throw DomainError.notFound('Customer');
    return { data: row };
  }

  @Patch(':id')
  @Roles('admin', 'manager', 'rep')
  async update(@Param('id') id: string, @Body() dto: UpdateCustomerDto, @CurrentActor() actor: Actor) {
    const changes = Object.fromEntries(Object.entries(dto).filter(([, v]) => v !== undefined));
    try {
      const row = await this.database
        .tables<ReadModelTables>()
        .updateTable('customers')
        .set({ ...changes, updated_at: sql`now()` })
        .where('org_id', '=', actor.orgId)
        .where('id', '=', checkId(id))
        .returning(['id', 'customer_number', 'company_name', 'email', 'created_at', 'updated_at'])
        .executeTakeFirst();
      if (!row) throw DomainError.notFound('Customer');
      return { message: 'Customer updated successfully', data: row };
    } catch (error: any) {
      if (error?.code === '23505') throw new DomainError(ErrorCode.AlreadyExists, 'Another customer has this customer_number');
      throw error;
    }
  }
}

/** Contacts render as their full record wherever a deal names them as stakeholders. */
@Controller('contacts')
export class ContactsController {
  constructor(@Inject(DATABASE) private readonly database: Database) {}

  @Post()
  @Roles('admin', 'manager', 'rep')
  async create(@Body() dto: CreateContactDto, @CurrentActor() actor: Actor) {
    const row = await this.database
      .tables<ReadModelTables>()
      .insertInto('contacts')
      .values({
        org_id: actor.orgId,
        id: dto.id ?? randomUUID(),
        first_name: nameField(dto.first_name, 'first_name'),
        last_name: nameField(dto.last_name, 'last_name'),
        email: dto.email ?? null,
        phone: dto.phone ?? null,
        title: dto.title ?? null,
        customer_id: dto.customer_id ?? null,
      })
      .onConflict((oc) => oc.doNothing())
      .returning(CONTACT_COLUMNS)
      .executeTakeFirst();
    if (!row) throw new DomainError(ErrorCode.AlreadyExists, `Contact ${dto.id} already exists`);
    return { message: 'Contact created successfully', data: row };
  }

  @Get()
  async list(@Query() raw: Record<string, unknown>, @CurrentActor() actor: Actor) {
    const q = validateQuery(ContactListQueryDto, raw);
    const { rows, total } = await listContacts(this.database.tables<ReadModelTables>(), actor.orgId, q);
    return page(rows, total, q);
  }

  @Get(':id')
  async get(@Param('id') id: string, @CurrentActor() actor: Actor) {
    const row = await this.database
      .tables<ReadModelTables>()
      .selectFrom('contacts')
      .select(CONTACT_COLUMNS)
      .where('org_id', '=', actor.orgId)
      .where('id', '=', checkId(id))
      .executeTakeFirst();
    if (!row) throw DomainError.notFound('Contact');
    return { data: row };
  }

  @Patch(':id')
  @Roles('admin', 'manager', 'rep')
  async update(@Param('id') id: string, @Body() dto: UpdateContactDto, @CurrentActor() actor: Actor) {
    const changes = Object.fromEntries(
      Object.entries(dto)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => [k, k === 'first_name' || k === 'last_name' ? nameField(v as string, k) : v]),
    );
    const row = await this.database
      .tables<ReadModelTables>()
      .updateTable('contacts')
      .set({ ...changes, updated_at: sql`now()` })
      .where('org_id', '=', actor.orgId)
      .where('id', '=', checkId(id))
      .returning(CONTACT_COLUMNS)
      .executeTakeFirst();
    if (!row) throw DomainError.notFound('Contact');
    return { message: 'Contact updated successfully', data: row };
  }
}

/** Leads render as {id, email, source} wherever a deal names its lead (`includes=lead`). */
@Controller('leads')
export class LeadsController {
  constructor(@Inject(DATABASE) private readonly database: Database) {}

  @Post()
  @Roles('admin', 'manager', 'rep')
  async create(@Body() dto: CreateLeadDto, @CurrentActor() actor: Actor) {
    const row = await this.database
      .tables<ReadModelTables>()
      .insertInto('leads')
      .values({
        org_id: actor.orgId,
        id: dto.id ?? randomUUID(),
        name: nameField(dto.name, 'name'),
        company_name: optionalText(dto.company_name, 'company_name') ?? null,
        email: dto.email ?? null,
        source: optionalText(dto.source, 'source') ?? null,
      })
      .onConflict((oc) => oc.doNothing())
      .returning(LEAD_COLUMNS)
      .executeTakeFirst();
    if (!row) throw new DomainError(ErrorCode.AlreadyExists, 'A lead with this id already exists');
    return { message: 'Lead created successfully', data: row };
  }

  @Get()
  async list(@Query() raw: Record<string, unknown>, @CurrentActor() actor: Actor) {
    const q = validateQuery(DirectoryListQueryDto, raw);
    const { rows, total } = await listLeads(this.database.tables<ReadModelTables>(), actor.orgId, q);
    return page(rows, total, q);
  }

  @Get(':id')
  async get(@Param('id') id: string, @CurrentActor() actor: Actor) {
    const row = await this.database
      .tables<ReadModelTables>()
      .selectFrom('leads')
      .select(LEAD_COLUMNS)
      .where('org_id', '=', actor.orgId)
      .where('id', '=', checkId(id))
      .executeTakeFirst();
    if (!row) throw DomainError.notFound('Lead');
    return { data: row };
  }

  @Patch(':id')
  @Roles('admin', 'manager', 'rep')
  async update(@Param('id') id: string, @Body() dto: UpdateLeadDto, @CurrentActor() actor: Actor) {
    const changes = Object.fromEntries(
      Object.entries(dto)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => [k, k === 'email' ? v : optionalText(v as string | null, k)]),
    );
    const row = await this.database
      .tables<ReadModelTables>()
      .updateTable('leads')
      .set({ ...changes, updated_at: sql`now()` })
      .where('org_id', '=', actor.orgId)
      .where('id', '=', checkId(id))
      .returning(LEAD_COLUMNS)
      .executeTakeFirst();
    if (!row) throw DomainError.notFound('Lead');
    return { message: 'Lead updated successfully', data: row };
  }
}
