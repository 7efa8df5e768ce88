import { type LoggerService } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import pino, { type Logger } from 'pino';
import pinoHttp from 'pino-http';

export function createLogger(level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { service: 'opportunity-pipeline' }, timestamp: pino.stdTimeFunctions.isoTime });
}

/** Nest's logger interface over pino: JSON lines, the Nest context as a field. */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}
  log(message: unknown, context?: string) {
    this.logger.info({ context }, String(message));
  }
  error(message: unknown, trace?: string, context?: string) {
    this.logger.error({ context, trace }, String(message));
  }
  warn(message: unknown, context?: string) {
    this.logger.warn({ context }, String(message));
  }
  debug(message: unknown, context?: string) {
    this.logger.debug({ context }, String(message));
  }
  verbose(message: unknown, context?: string) {
    this.logger.trace({ context }, String(message));
  }
}

/** One JSON line per request with its correlation id, status and latency (health and metrics left out). */
export function httpLogger(logger: Logger) {
  return pinoHttp({
    logger,
    genReqId: (req) => (req as IncomingMessage & { context?: { requestId: string } }).context?.requestId ?? '',
    customProps: (req) => ({ correlation_id: (req as IncomingMessage & { context?: { correlationId: string } }).context?.correlationId }),
    autoLogging: { ignore: (req) => /\/(health|metrics)(\/|$|\?)/.test(req.url ?? '') },
    serializers: {
      req: (req: IncomingMessage & { method?: string; url?: string }) => ({ method: req.method, url: req.url }),
      res: (res: ServerResponse) => ({ statusCode: res.statusCode }),
    },
  });
}
