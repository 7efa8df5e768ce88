import type { NextFunction, Request, Response } from 'express';
import { DomainError, type FieldErrors } from '@app/domain';
import { errorBody } from './error.filter';
import { sendProblem } from './problem';

const MAX_DEPTH = 32;
/** Names that would reach Object.prototype (and that class-validator's whitelist does not catch). */
const RESERVED_KEYS = new Set([...Object.getOwnPropertyNames(Object.prototype), 'prototype']);
/** NUL (PostgreSQL text refuses it) and unpaired UTF-16 surrogates (not valid Unicode). */
const BAD_CHARACTERS = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * A request body is JSON or nothing: a form or text body would otherwise reach validation as an
 * empty object and come back as misleading field errors.
 */
export function jsonBodyOnlyMiddleware(req: Request, res: Response, next: NextFunction): void {
  const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
  if (!hasBody || req.is(['application/json', 'application/*+json'])) return next();
  sendProblem(res, 415, {
    message: `Content-Type must be application/json (got ${req.headers['content-type'] ?? 'none'})`,
    code: 'unsupported_media_type',
  });
}

/**
 * Checks every request's JSON body and query string before validation: nesting depth, field
 * names, characters. A problem is a field-level 400, so no malformed input reaches a handler.
 */
export function inputGuardMiddleware(req: Request, res: Response, next: NextFunction): void {
  const errors: FieldErrors = {};
  inspect(req.body, '', errors);
  inspect(req.query, '', errors);
  if (Object.keys(errors).length === 0) return next();
  const error = DomainError.validation(errors);
  sendProblem(res, 400, errorBody(error));
}

function inspect(root: unknown, rootPath: string, errors: FieldErrors): void {
  const stack: Array<{ value: unknown; path: string; depth: number }> = [{ value: root, path: rootPath, depth: 0 }];
  while (stack.length) {
    const { value, path, depth } = stack.pop()!;
    if (typeof value === 'string') {
      if (BAD_CHARACTERS.test(value)) add(errors, path || 'body', `${path || 'value'} contains a NUL or an unpaired surrogate character`);
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    if (depth > MAX_DEPTH) {
      add(errors, path || 'body', `nested more than ${MAX_DEPTH} levels deep`);
      return;
    }
    for (const key of Object.keys(value)) {
      const child = path ? `${path}.${key}` : key;
      if (!Array.isArray(value) && RESERVED_KEYS.has(key)) {
        add(errors, child, `${key} is not an allowed field`);
        continue;
      }
      if (BAD_CHARACTERS.test(key)) add(errors, path || 'body', 'a field name contains a NUL or an unpaired surrogate character');
      stack.push({ value: (value as Record<string, unknown>)[key], path: child, depth: depth + 1 });
    }
  }
}

function add(errors: FieldErrors, field: string, message: string): void {
  // Own properties only: the field name may be "toString" itself.
  if (!Object.prototype.hasOwnProperty.call(errors, field)) {
    Object.defineProperty(errors, field, { value: [], enumerable: true, writable: true, configurable: true });
  }
  const list = errors[field];
  if (!list.includes(message)) list.push(message);
}
