import type { Application } from 'express';
import { ExpressAdapter } from '@nestjs/platform-express';
import { methodNotAllowedMiddleware, RouteMethods } from './method-not-allowed';

type NotFoundArguments = Parameters<ExpressAdapter['setNotFoundHandler']>;

/**
 * Nest's Express adapter with the API's fallbacks. Nest calls setNotFoundHandler once every route
 * is registered, so what is mounted here sees only requests no route took: OPTIONS and methods a
 * known path does not serve are answered from the router's own route table (204 or 405 with
 * `Allow`), and a path outside the global prefix reaches the same not-found handler as one inside
 * it (so its 404 is a problem document from the error filter too, not Express's HTML page).
 */
export class ApiExpressAdapter extends ExpressAdapter {
  override setNotFoundHandler(handler: NotFoundArguments[0], prefix?: string, excludedRoutes?: NotFoundArguments[2]) {
    this.use(methodNotAllowedMiddleware(new RouteMethods(this.getInstance<Application>())));
    const mounted: unknown = super.setNotFoundHandler(handler, prefix, excludedRoutes);
    if (prefix) this.use(handler);
    return mounted;
  }
}
