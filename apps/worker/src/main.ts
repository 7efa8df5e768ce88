import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { loadConfig, openDatabase } from '@app/platform';

/** Scale-out process for projectors and the webhook dispatcher (read side lands in the next milestone). */
async function main(): Promise<void> {
  const config = loadConfig();
  const database = await openDatabase(config);
  new Logger('Worker').log(`Worker connected to ${database.kind}; no projections are registered yet`);
  await database.close();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
