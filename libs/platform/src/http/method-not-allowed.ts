import type { Application, NextFunction, Request, Response } from 'express';
import { sendProblem } from './problem';

/** The order methods are listed in `Allow`; any other method follows, sorted. */
const METHOD_ORDER = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

/** What this file reads of an Express 5 router layer (router 2.x). */
interface RouterLayer {
  route?: { path: string | string[]; methods: Record<string, boolean | undefined> };
  /** One matcher per path of the layer: the exact matching the router itself does (case, trailing slash). */
  matchers?: Array<(path: string) => unknown>;
}

interface RouteEntry {
  matches: (path: string) => boolean;
  methods: string[];
}

/**
 * The methods the app serves on a path, read from the Express router itself once every route is
 * registered (so from the real routes, the global prefix included, never from a list kept by hand).
 * Read on first use: Nest registers its routes during init, after the middleware is mounted.
 */
export class RouteMethods {
  private routes: RouteEntry[] | null = null;

  constructor(private readonly app: Application) {}

  /** The methods of every route that matches `path`, with HEAD where GET is and OPTIONS; null for a path no route matches. */
  allowed(path: string): string[] | null {
    this.routes ??= this.read();
    const methods = new Set<string>();
    for (const route of this.routes) if (route.matches(path)) for (const method of route.methods) methods.add(method);
    if (methods.size === 0) return null;
    if (methods.has('GET')) methods.add('HEAD');
    methods.add('OPTIONS');
    const known = METHOD_ORDER.filter((m) => methods.has(m));
    return [...known, ...[...methods].filter((m) => !METHOD_ORDER.includes(m)).sort()];
  }

  private read(): RouteEntry[] {
    const stack = (this.app as unknown as { router?: { stack?: RouterLayer[] } }).router?.stack ?? [];
    const routes: RouteEntry[] = [];
    for (const layer of stack) {
      if (!layer.route || !layer.matchers) continue;
      const { methods } = layer.route;
      // A catch-all (app.all) serves every method: it says nothing about what the path allows.
      if (methods._all) continue;
      const matchers = layer.matchers;
      routes.push({
        matches: (path) => matchers.some((match) => Boolean(match(path))),
        methods: Object.keys(methods)
          .filter((m) => methods[m])
          .map((m) => m.toUpperCase()),
      });
    }
    return routes;
  }
}

/**
 * Reached only by requests no route took. On a known path: OPTIONS is a 204 with `Allow`, another
 * method the path does not serve is a 405 problem (`method_not_allowed`) with `Allow`. Neither needs
 * a token: they tell only which methods the path has. An unknown path goes on to the 404.
 */
export function methodNotAllowedMiddleware(routes: RouteMethods) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const allowed = routes.allowed(req.path);
    if (!allowed) return next();
    if (req.method === 'OPTIONS') {
      res.setHeader('Allow', allowed.join(', '));
      res.status(204).end();
      return;
    }
    // A route of this method matched but passed the request on: not ours to answer.
    if (allowed.includes(req.method)) return next();
    res.setHeader('Allow', allowed.join(', '));
    sendProblem(res, 405, {
      message: `${req.method} is not allowed on this path; it allows ${allowed.join(', ')}`,
      code: 'method_not_allowed',
    });
  };
}
