/**
 * ts-jest, plus rewrites for NestJS 12's ES-module sources: a `require` made with
 * createRequire(import.meta.url) is dropped (CommonJS has its own), and import.meta.url /
 * dirname / filename / resolve() become their CommonJS equivalents.
 */
const { TsJestTransformer } = require('ts-jest');

const IMPORT_META_URL = /\bimport\.meta\.url\b/g;
const CJS_URL = "require('node:url').pathToFileURL(__filename).href";
const OWN_REQUIRE = /^\s*const require = createRequire\(import\.meta\.url\);?\s*$/gm;

const rewrite = (source) =>
  source
    .replace(OWN_REQUIRE, '')
    .replace(/\bimport\.meta\.resolve\(/g, "((s) => require('node:url').pathToFileURL(require.resolve(s)).href)(")
    .replace(/\bimport\.meta\.dirname\b/g, '__dirname')
    .replace(/\bimport\.meta\.filename\b/g, '__filename')
    .replace(IMPORT_META_URL, CJS_URL);

class EsmAwareTransformer extends TsJestTransformer {
  process(source, path, options) {
    return super.process(rewrite(source), path, options);
  }
  processAsync(source, path, options) {
    return super.processAsync(rewrite(source), path, options);
  }
  getCacheKey(source, path, options) {
    return super.getCacheKey(rewrite(source), path, options);
  }
}

module.exports = { createTransformer: (config) => new EsmAwareTransformer(config) };
