import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { DATABASE, type Database, DataDirectoryInUseError, loadConfig, reserveDatabase, TokenService } from '@app/platform';
import { createApp } from './bootstrap';

async function main(): Promise<void> {
  const config = loadConfig();
  // The embedded data directory's lock first: in use by another process, this stops here with one line.
  reserveDatabase(config);
  const app = await createApp({ config });
  const logger = new Logger('Bootstrap');
  const { minted, revoked } = await app.get(TokenService).bootstrapAdmin(config.adminToken);
  if (revoked) {
    logger.warn('ADMIN_TOKEN names a token that was revoked; it stays revoked. Unset ADMIN_TOKEN, or set it to a new value.');
  }
  if (minted) {
    // Printed once, on the start that created it: the token is stored only as a hash.
    process.stdout.write(
      `\nAdmin token for org "${minted.orgId}" (user "${minted.userId}"):\n\n    ${minted.token}\n\n` +
        `Use it as: Authorization: Bearer <token>. It is not shown again.\n\n`,
    );
  }
  await app.listen(config.port);
  const database = app.get<Database>(DATABASE);
  logger.log(
    `Listening on http://localhost:${config.port}/api/v1/crm (database: ${database.kind === 'pglite' ? `embedded PGlite in ${config.dataDir}` : 'PostgreSQL server'}, event store: ${config.eventstoreUrl ? 'EventStoreDB' : database.kind})`,
  );
}

main().catch((error) => {
  console.error(error instanceof DataDirectoryInUseError ? error.message : error);
  process.exit(1);
});
