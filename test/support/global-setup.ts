import { createHash } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EVENT_STORE_MIGRATIONS } from '../../libs/event-store/src/migrations';
import { openPGlite } from '../../libs/platform/src/database/database';
import { mergeMigrations, migrateToLatest } from '../../libs/platform/src/database/migrate';
import { PLATFORM_MIGRATIONS } from '../../libs/platform/src/migrations';
import { READ_MODEL_MIGRATIONS } from '../../libs/read-models/src/migrations';
import { WEBHOOK_MIGRATIONS } from '../../libs/webhooks/src/migrations';

/**
 * SCHEMA_MIGRATIONS of apps/api/src/database-schema.ts, assembled by path: Jest's global setup
 * resolves no @app/ aliases (apps/api/src/database-schema.int.spec.ts checks they are the same).
 */
export const TEMPLATE_MIGRATIONS = mergeMigrations(PLATFORM_MIGRATIONS, EVENT_STORE_MIGRATIONS, READ_MODEL_MIGRATIONS, WEBHOOK_MIGRATIONS);

/**
 * initdb in PGlite takes seconds; build one migrated image per migration set and let every
 * suite start from a copy of it.
 */
export default async function globalSetup(): Promise<void> {
  const hash = createHash('sha256');
  for (const [name, migration] of Object.entries(TEMPLATE_MIGRATIONS)) {
    hash.update(name).update(String(migration.up)).update(String(migration.down));
  }
  const path = join(tmpdir(), `opportunity-pipeline-pglite-${hash.digest('hex').slice(0, 16)}.tar.gz`);
  if (!existsSync(path)) {
    const database = await openPGlite();
    await migrateToLatest(database.db, TEMPLATE_MIGRATIONS);
    const image = await database.pglite.dumpDataDir('gzip');
    writeFileSync(path, Buffer.from(await image.arrayBuffer()));
    await database.close();
  }
  process.env.PGLITE_TEMPLATE = path;
}
