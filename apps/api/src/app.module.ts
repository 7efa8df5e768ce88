import { DynamicModule, Inject, Injectable, MiddlewareConsumer, Module, NestModule, OnApplicationShutdown, Provider } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import { CqrsModule } from '@nestjs/cqrs';
import { TerminusModule } from '@nestjs/terminus';
import { EventStore, openEventStore } from '@app/event-store';

import {
  APP_CONFIG,
  AppConfig,
  AuthGuard,
  Database,
  DATABASE,
  ErrorFilter,
  IdempotencyInterceptor,
  ResponseHeadersInterceptor,
  Metrics,
  openDatabase,
  TokenService,
} from '@app/platform';
import { AuditController } from './audit/audit.controller';
import { AuditService } from './audit/audit.service';
import { CustomersController, UsersController } from './directory/directory.controller';
import { HttpMetricsMiddleware, OperationsController, ProjectionLag } from './operations/operations';
import { ProjectionsController } from './operations/projections.controller';
import { OpportunityQueriesController } from './opportunities/opportunity-queries.controller';
import { QUERY_HANDLERS } from './opportunities/queries/opportunity-queries';
import { READ_SIDE_PROVIDERS } from './read-side';
import { WebhooksController } from './webhooks/webhooks.controller';
import { CategoriesController, TokensController } from './admin/admin.controller';
import { BulkActionsController } from './bulk/bulk-actions.controller';
import { CommandDispatcher } from './command-handling/command-dispatcher';
import { PipelineRepository } from './pipelines/pipeline.repository';
import { StaleRules } from './pipelines/stale-rules.service';
import { PipelinesController } from './pipelines/pipelines.controller';
import { TimelineController } from './timeline/timeline.controller';
import { OpportunityCommandHandler } from './opportunities/opportunity-commands';
import { PipelineCommandHandler } from './pipelines/pipeline-commands';
import { OpportunitiesController } from './opportunities/opportunities.controller';
import { OpportunityRepository } from './opportunities/opportunity.repository';
import { OpportunityViews } from './opportunities/opportunity-views.service';

export interface AppModuleOptions {
  config: AppConfig;
  /** An already-open database (tests); otherwise the configured one is opened and migrated. */
  database?: Database;
  /** An event store to use instead of the configured one (contract tests of other adapters). */
  eventStore?: EventStore;
}

const OWNS_DATABASE = Symbol('OWNS_DATABASE');

/** Closes what the module opened, after the workers have stopped (they are shut down first). */
@Injectable()
class ResourceCloser implements OnApplicationShutdown {
  constructor(
    private readonly store: EventStore,
    @Inject(DATABASE) private readonly database: Database,
    @Inject(OWNS_DATABASE) private readonly ownsDatabase: boolean,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.store.close();
    if (this.ownsDatabase) await this.database.close();
  }
}

@Module({})
export class AppModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(HttpMetricsMiddleware).forRoutes('{*path}');
  }

  static forRoot(options: AppModuleOptions): DynamicModule {
    const providers: Provider[] = [
      { provide: APP_CONFIG, useValue: options.config },
      options.database
        ? { provide: DATABASE, useValue: options.database }
        : { provide: DATABASE, useFactory: () => openDatabase(options.config) },
      options.eventStore
        ? { provide: EventStore, useValue: options.eventStore }
        : { provide: EventStore, useFactory: (db: Database) => openEventStore(options.config, db), inject: [DATABASE] },
      { provide: TokenService, useFactory: (db: Database) => new TokenService(db.db), inject: [DATABASE] },
      { provide: APP_GUARD, useClass: AuthGuard },
      { provide: APP_FILTER, useClass: ErrorFilter },
      { provide: APP_INTERCEPTOR, useClass: IdempotencyInterceptor },
      // Inside the idempotency interceptor, so the stored response has the headers and status.
      { provide: APP_INTERCEPTOR, useClass: ResponseHeadersInterceptor },
      { provide: OWNS_DATABASE, useValue: !options.database },
      { provide: Metrics, useFactory: () => new Metrics() },
      ProjectionLag,
      ResourceCloser,
      OpportunityRepository,
      PipelineRepository,
      StaleRules,
      CommandDispatcher,
      AuditService,
      OpportunityViews,
      OpportunityCommandHandler,
      PipelineCommandHandler,
      ...QUERY_HANDLERS,
      ...READ_SIDE_PROVIDERS,
    ];
    return {
      module: AppModule,
      imports: [CqrsModule.forRoot(), TerminusModule.forRoot({ logger: false })],
      // Query routes first: /opportunities/pipeline-data must not be taken for an id.
      controllers: [
        OperationsController,
        BulkActionsController,
        OpportunityQueriesController,
        OpportunitiesController,
        UsersController,
        CustomersController,
        ProjectionsController,
        AuditController,
        WebhooksController,
        TimelineController,
        PipelinesController,
        TokensController,
        CategoriesController,
      ],
      providers,
    };
  }
}
