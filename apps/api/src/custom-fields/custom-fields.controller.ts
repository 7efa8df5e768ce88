import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Put } from '@nestjs/common';
import { CUSTOM_FIELD_KEY, type CustomFieldCommand, type CustomFieldsState, DomainError } from '@app/domain';
import { Actor, CurrentActor, ResponseHeaders, Roles } from '@app/platform';
import { type CommandMeta, CommandDispatcher, CommandMetadata } from '../command-handling/handle-command';
import { historyItem } from '../audit/audit.service';
import { CreateCustomFieldDto, CustomFieldSettingsDto, UpdateCustomFieldDto } from './custom-fields.dto';
import { CustomFieldCommandMessage } from './custom-field-commands';
import { CustomFieldsRepository } from './custom-fields.repository';
import { customFieldView } from './custom-field.view';

function checkKey(key: string): string {
  if (!CUSTOM_FIELD_KEY.test(key)) throw DomainError.validation({ key: ['key must be 1–64 lower-case letters, digits and _'] });
  return key;
}

function listView(state: CustomFieldsState) {
  const sorted = [...state.definitions].sort((a, b) => a.display_order - b.display_order || a.key.localeCompare(b.key));
  return { data: sorted.map(customFieldView), meta: { allow_unknown: state.allow_unknown, version: state.version } };
}

/**
 * Typed custom-field definitions of the org's deals: admins define them (every change is an event
 * of the org's custom_fields stream, readable at /custom-fields/history); anyone signed in reads them.
 */
@Controller('custom-fields')
export class CustomFieldsController {
  constructor(
    private readonly repository: CustomFieldsRepository,
    private readonly commands: CommandDispatcher,
  ) {}

  @Get()
  async list(@CurrentActor() actor: Actor, @ResponseHeaders() headers: Record<string, string>) {
    const state = await this.repository.load(actor.orgId);
    headers.ETag = `"${state.version}"`;
    return listView(state);
  }

  @Get(':key')
  async get(@Param('key') key: string, @CurrentActor() actor: Actor, @ResponseHeaders() headers: Record<string, string>) {
    const state = await this.repository.load(actor.orgId);
    const found = state.definitions.find((d) => d.key === checkKey(key));
    if (!found) throw DomainError.notFound('Custom field');
    headers.ETag = `"${state.version}"`;
    return { data: customFieldView(found) };
  }

  /** Every change to the definitions and settings, oldest first, with who made it. */
  @Get('history')
  async history(@CurrentActor() actor: Actor) {
    const events = await this.repository.history(actor.orgId);
    return { data: events.map(historyItem) };
  }

  @Post()
  @Roles('admin')
  async create(@Body() dto: CreateCustomFieldDto, @CommandMetadata() meta: CommandMeta) {
    const state = await this.run({ type: 'DefineCustomField', input: dto }, meta);
    return { message: 'Custom field defined successfully', data: this.one(state, dto.key) };
  }

  @Patch(':key')
  @Roles('admin')
  async update(@Param('key') key: string, @Body() dto: UpdateCustomFieldDto, @CommandMetadata() meta: CommandMeta) {
    const state = await this.run({ type: 'ChangeCustomField', key: checkKey(key), changes: dto }, meta);
    return { message: 'Custom field updated successfully', data: this.one(state, key) };
  }

  @Delete(':key')
  @Roles('admin')
  @HttpCode(204)
  async remove(@Param('key') key: string, @CommandMetadata() meta: CommandMeta) {
    await this.run({ type: 'RemoveCustomField', key: checkKey(key) }, meta);
  }

  @Put('settings')
  @Roles('admin')
  async settings(@Body() dto: CustomFieldSettingsDto, @CommandMetadata() meta: CommandMeta) {
    const state = await this.run({ type: 'SetCustomFieldSettings', allow_unknown: dto.allow_unknown }, meta);
    return { message: 'Custom field settings updated successfully', data: { allow_unknown: state.allow_unknown } };
  }

  private async run(command: CustomFieldCommand, meta: CommandMeta): Promise<CustomFieldsState> {
    return (await this.commands.execute(new CustomFieldCommandMessage(command, meta))).state;
  }

  private one(state: CustomFieldsState, key: string) {
    const found = state.definitions.find((d) => d.key === key);
    return found ? customFieldView(found) : null;
  }
}
