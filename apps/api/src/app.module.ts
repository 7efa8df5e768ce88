import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import { CqrsModule } from '@nestjs/cqrs';
import { AuthGuard, ErrorFilter, IdempotencyInterceptor, RateLimitGuard, ResponseHeadersInterceptor } from '@app/platform';
import { AdminModule } from './admin/admin.module';
import { AuditModule } from './audit/audit.module';
import { CoreModule, type CoreModuleOptions } from './core.module';
import { CustomFieldsModule } from './custom-fields/custom-fields.module';
import { DirectoryModule } from './directory/directory.module';
import { OperationsModule } from './operations/operations.module';
import { OpportunitiesModule } from './opportunities/opportunities.module';
import { PipelinesModule } from './pipelines/pipelines.module';
import { ReadSideModule } from './read-side.module';
import { TimelineModule } from './timeline/timeline.module';
import { WebhooksModule } from './webhooks/webhooks.module';

export type AppModuleOptions = CoreModuleOptions;

/**
 * The HTTP API: the shared core and read side, one module per feature, and the request pipeline
 * (auth guard, rate limit, error filter, idempotency and response headers). Routes are registered most
 * specific first (see createApp), so no feature depends on the order of these imports.
 */
@Module({})
export class AppModule {
  static forRoot(options: AppModuleOptions): DynamicModule {
    return {
      module: AppModule,
      imports: [
        CqrsModule.forRoot(),
        CoreModule.forRoot(options),
        ReadSideModule,
        OperationsModule,
        OpportunitiesModule,
        PipelinesModule,
        CustomFieldsModule,
        TimelineModule,
        AuditModule,
        DirectoryModule,
        WebhooksModule,
        AdminModule,
      ],
      providers: [
        { provide: APP_GUARD, useClass: AuthGuard },
        // After the auth guard: its key is the caller's token.
        { provide: APP_GUARD, useClass: RateLimitGuard },
        { provide: APP_FILTER, useClass: ErrorFilter },
        { provide: APP_INTERCEPTOR, useClass: IdempotencyInterceptor },
        // Inside the idempotency interceptor, so the stored response has the headers and status.
        { provide: APP_INTERCEPTOR, useClass: ResponseHeadersInterceptor },
      ],
    };
  }
}
