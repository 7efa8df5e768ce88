/**
 * Three projects: unit (pure, fast), int (database + event store), e2e (HTTP over the real app).
 *
 * NestJS 12 ships ES modules only. On Node 24 Jest loads them natively through vm.SourceTextModule,
 * which is why `npm test` runs Jest with --experimental-vm-modules; our own TypeScript goes through
 * plain ts-jest (type errors are `npm run typecheck`'s job, so ts-jest only transpiles).
 *
 * Suites named `*.server.{int,e2e}.spec.ts` need a PostgreSQL server (many connections at once);
 * without TEST_DATABASE_URL they are left out, each with one line saying so. The other database suites
 * run on PGlite, and on the server too when it is set (test/support/test-database.ts).
 */
const { readdirSync } = require('node:fs');
const { join, relative } = require('node:path');

const moduleNameMapper = {
  '^@app/(domain|event-store|read-models|webhooks|platform)(|/.*)$': '<rootDir>/libs/$1/src$2',
};
const transform = {
  '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.jest.json' }],
};

const SERVER_SUITE = /\.server\.(int|e2e)\.spec\.ts$/;
const withServer = Boolean(process.env.TEST_DATABASE_URL);

function serverSuites(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : serverSuites(path);
    return SERVER_SUITE.test(entry.name) ? [path] : [];
  });
}

if (!process.env.JEST_WORKER_ID) {
  if (!withServer) {
    process.stderr.write('not run: the PostgreSQL-server half of each backend suite (set TEST_DATABASE_URL); PGlite runs\n');
    for (const suite of serverSuites(join(__dirname, 'test'))) {
      process.stderr.write(`not run: ${relative(__dirname, suite)} needs a PostgreSQL server (set TEST_DATABASE_URL)\n`);
    }
  }
  if (!process.env.EVENTSTORE_URL) {
    process.stderr.write('not run: the event-store contract suite against EventStoreDB (set EVENTSTORE_URL)\n');
  }
}

const base = {
  rootDir: __dirname,
  testEnvironment: 'node',
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper,
  transform,
  testPathIgnorePatterns: withServer ? ['/node_modules/'] : ['/node_modules/', SERVER_SUITE.source],
};

module.exports = {
  // Hooks start apps and databases; Jest applies the timeout to hooks from the root config.
  testTimeout: 120000,
  projects: [
    { ...base, displayName: 'unit', testMatch: ['<rootDir>/{apps,libs,test}/**/*.unit.spec.ts'] },
    {
      ...base,
      displayName: 'int',
      testMatch: ['<rootDir>/{apps,libs,test}/**/*.int.spec.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      testTimeout: 120000,
    },
    {
      ...base,
      displayName: 'e2e',
      testMatch: ['<rootDir>/{apps,libs,test}/**/*.e2e.spec.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      testTimeout: 120000,
    },
  ],
};
