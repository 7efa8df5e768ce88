import { CanActivate, createParamDecorator, ExecutionContext, Injectable, SetMetadata } from '@nestjs/common';
import { PlatformError, PlatformErrorCode } from '../errors';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { DomainError, ErrorCode } from '@app/domain';
import type { Actor, Role } from './actor';
import { TokenService } from './token.service';

const PUBLIC = 'auth:public';
const ROLES = 'auth:roles';

/** Marks a route that needs no token (health, docs). */
export const Public = () => SetMetadata(PUBLIC, true);
/** Restricts a route to these roles. */
export const Roles = (...roles: Role[]) => SetMetadata(ROLES, roles);

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
    const match = /^Bearer\s+(\S+)$/i.exec(request.header('authorization') ?? '');
    if (!match) throw new PlatformError(PlatformErrorCode.Unauthenticated, 'Missing bearer token');
    const actor = await this.tokens.resolve(match[1]);
    if (!actor) throw new PlatformError(PlatformErrorCode.Unauthenticated, 'Invalid or revoked token');
    request.context.actor = actor;
    const roles = this.reflector.getAllAndOverride<Role[] | undefined>(ROLES, targets);
    if (roles && !roles.includes(actor.role)) {
      throw new DomainError(ErrorCode.Forbidden, `This action needs one of the roles: ${roles.join(', ')}`);
    }
    return true;
  }
}
