/** Three projects: unit (pure, fast), int (database + event store), e2e (HTTP over the real app). */
const moduleNameMapper = {
  '^@app/(domain|event-store|read-models|webhooks|platform)(|/.*)$': '<rootDir>/libs/$1/src$2',
};
// NestJS 12 ships ES modules only and Jest's module loader cannot require() ESM on Node 20,
// so its packages are compiled to CommonJS like our own sources (cached after the first run).
const transform = {
  '^.+\\.(ts|js)$': ['<rootDir>/test/support/esm-transformer.js', { tsconfig: '<rootDir>/tsconfig.jest.json', diagnostics: false }],
};
const transformIgnorePatterns = ['/node_modules/(?!@nestjs/)'];
const base = {
  rootDir: __dirname,
  testEnvironment: 'node',
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper,
  transform,
  transformIgnorePatterns,
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
