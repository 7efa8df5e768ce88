import { CanActivate, createParamDecorator, ExecutionContext, Injectable, SetMetadata } from '@nestjs/common';
import { PlatformError, PlatformErrorCode } from '../errors';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import { DomainError, ErrorCode } from '@app/domain';
import type { Actor, Role } from './actor';
import { TokenService } from './token.service';

const PUBLIC = 'auth:public';
const ROLES = 'auth:roles';

/** Marks a route that needs no token (health, docs). */
export const Public = () => SetMetadata(PUBLIC, true);
/** Restricts a route to these roles. */
export const Roles = (...roles: Role[]) => SetMetadata(ROLES, roles);

/** The protection space every 401 names in its WWW-Authenticate challenge. */
export const AUTH_REALM = 'opportunity-pipeline';

/**
 * The WWW-Authenticate challenge of a 401 (RFC 9110 §11.6.1, RFC 6750 §3): the scheme and realm
 * alone when no token was sent, with `error="invalid_token"` and a description when one was sent
 * but is malformed, unknown or revoked.
 */
export function bearerChallenge(invalidToken?: string): string {
  const challenge = `Bearer realm="${AUTH_REALM}"`;
  return invalidToken === undefined ? challenge : `${challenge}, error="invalid_token", error_description="${invalidToken}"`;
}

export const CurrentActor = createParamDecorator((_: unknown, ctx: ExecutionContext): Actor => {
  const actor = ctx.switchToHttp().getRequest<Request>().context?.actor;
  if (!actor) throw new PlatformError(PlatformErrorCode.Unauthenticated, 'Unauthenticated');
  return actor;
});

@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly tokens: TokenService,
    private readonly reflector: Reflector,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC, targets)) return true;
    const request = context.switchToHttp().getRequest<Request>();
    const response = context.switchToHttp().getResponse<Response>();
    const authorization = request.header('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(authorization);
    if (!match) {
      // "Bearer" with something that is not one token (spaces inside): a token was sent, malformed.
      const malformed = /^Bearer\s+\S/i.test(authorization);
      response.setHeader('WWW-Authenticate', bearerChallenge(malformed ? 'The bearer token is malformed' : undefined));
      throw new PlatformError(PlatformErrorCode.Unauthenticated, malformed ? 'Malformed bearer token' : 'Missing bearer token');
    }
    const actor = await this.tokens.resolve(match[1]);
    if (!actor) {
      response.setHeader('WWW-Authenticate', bearerChallenge('The token is unknown or revoked'));
      throw new PlatformError(PlatformErrorCode.Unauthenticated, 'Invalid or revoked token');
    }
    request.context.actor = actor;
    const roles = this.reflector.getAllAndOverride<Role[] | undefined>(ROLES, targets);
    if (roles && !roles.includes(actor.role)) {
      throw new DomainError(ErrorCode.Forbidden, `This action needs one of the roles: ${roles.join(', ')}`);
    }
    return true;
  }
}
