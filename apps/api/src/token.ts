import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { loadConfig, openDatabase, type Role, ROLES, TokenService } from '@app/platform';
import { SCHEMA_MIGRATIONS } from './database-schema';

/** npm run token -- --org <org> --user <id> --role <admin|manager|rep|viewer> [--label text] */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      org: { type: 'string', default: 'default' },
      user: { type: 'string' },
      role: { type: 'string', default: 'rep' },
      label: { type: 'string' },
    },
  });
  if (!values.user) throw new Error('--user is required');
  if (!ROLES.includes(values.role as Role)) throw new Error(`--role must be one of ${ROLES.join(', ')}`);
  const database = await openDatabase(loadConfig(), SCHEMA_MIGRATIONS);
  try {
    const minted = await new TokenService(database.db).mint({
      orgId: values.org!,
      userId: values.user,
      role: values.role as Role,
      label: values.label,
    });
    process.stdout.write(`${minted.token}\n`);
    process.stderr.write(`token for org "${minted.orgId}", user "${minted.userId}", role ${minted.role}\n`);
  } finally {
    await database.close();
  }
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
