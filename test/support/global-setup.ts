import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openPGlite } from '../../libs/platform/src/database/database';
import { migrateToLatest } from '../../libs/platform/src/database/migrate';

/**
 * initdb in PGlite takes seconds; build one migrated image per migration set and let every
 * suite start from a copy of it.
 */
export default async function globalSetup(): Promise<void> {
  const dir = join(__dirname, '../../libs/platform/src/migrations');
  const hash = createHash('sha256');
  for (const file of readdirSync(dir).sort()) hash.update(file).update(readFileSync(join(dir, file)));
  const path = join(tmpdir(), `opportunity-pipeline-pglite-${hash.digest('hex').slice(0, 16)}.tar.gz`);
  if (!existsSync(path)) {
    const database = await openPGlite();
    await migrateToLatest(database.db);
    const image = await database.pglite.dumpDataDir('gzip');
    writeFileSync(path, Buffer.from(await image.arrayBuffer()));
    await database.close();
  }
  process.env.PGLITE_TEMPLATE = path;
}
