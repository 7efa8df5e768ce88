/**
 * ts-jest, plus one rewrite for NestJS 12's ES-module sources: `import.meta.url` has no
 * CommonJS form in TypeScript's transpiler, so it becomes the file URL of __filename.
 */
const { TsJestTransformer } = require('ts-jest');

const IMPORT_META_URL = /\bimport\.meta\.url\b/g;
const CJS_URL = "require('node:url').pathToFileURL(__filename).href";

class EsmAwareTransformer extends TsJestTransformer {
  process(source, path, options) {
    return super.process(source.replace(IMPORT_META_URL, CJS_URL), path, options);
  }
  processAsync(source, path, options) {
    return super.processAsync(source.replace(IMPORT_META_URL, CJS_URL), path, options);
  }
  getCacheKey(source, path, options) {
    return super.getCacheKey(source.replace(IMPORT_META_URL, CJS_URL), path, options);
  }
}

module.exports = { createTransformer: (config) => new EsmAwareTransformer(config) };
