import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { verifyProjection } from '@app/read-models';
import { progressBar, selectKinds, withStores } from './cli-support';

/**
 * npm run verify -- [--projection <name>|all]
 * Rebuilds into a scratch schema up to the live checkpoint and prints every row that differs.
 * Exit code 1 when anything differs.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({ options: { projection: { type: 'string', default: 'all' } } });
  let differences = 0;
  await withStores(async (database, store) => {
    for (const kind of selectKinds(values.projection)) {
      const bar = progressBar(`verify ${kind.name}`);
      const found = await verifyProjection(database, store, kind, { onProgress: bar.update }).finally(() => bar.stop());
      differences += found.length;
      for (const d of found) {
        const detail =
          d.side === 'differs'
            ? Object.entries(d.columns)
                .filter(([c]) => c !== 'state')
                .map(([c, [live, rebuilt]]) => `${c}: live ${JSON.stringify(live)} ≠ rebuild ${JSON.stringify(rebuilt)}`)
                .join('; ') + ('state' in d.columns ? '; state differs' : '')
            : '';
        process.stdout.write(`${kind.name} ${d.table} ${JSON.stringify(d.key)} ${d.side}${detail ? `: ${detail}` : ''}\n`);
      }
      process.stdout.write(`${kind.name}: ${found.length === 0 ? 'no differences' : `${found.length} differing row(s)`}\n`);
    }
  });
  process.exit(differences === 0 ? 0 : 1);
}

main().catch((error) => {
  process.stderr.write(`\n${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(2);
});
