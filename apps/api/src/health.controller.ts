import { Controller, Get, Inject } from '@nestjs/common';
import { sql } from 'kysely';
import { Database, DATABASE, Public } from '@app/platform';

@Controller('health')
export class HealthController {
  constructor(@Inject(DATABASE) private readonly database: Database) {}

  @Get()
  @Public()
  async check() {
    await sql`select 1`.execute(this.database.db);
    return { status: 'ok', database: this.database.kind };
  }
}
