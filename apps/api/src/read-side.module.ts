import { type BeforeApplicationShutdown, Global, Inject, Injectable, Logger, Module, type OnApplicationBootstrap } from '@nestjs/common';
import { EventStore } from '@app/event-store';
import { APP_CONFIG, AppConfig, Database, DATABASE, Metrics } from '@app/platform';
import { ConsistencyService, ProjectionRunner, type ReadModelTables } from '@app/read-models';
import { AddressPolicy, dispatcherOptionsFrom, serviceProjections, WebhookDispatcher, type WebhookTables } from '@app/webhooks';

/**
 * Runs the projectors and the webhook dispatcher in this process unless RUN_PROJECTORS /
 * RUN_WEBHOOK_DISPATCHER say false (the API then leaves them to apps/worker, which runs both).
 */
@Injectable()
export class BackgroundWorkers implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private offProgress: (() => void) | null = null;

  constructor(
    private readonly runner: ProjectionRunner,
    private readonly dispatcher: WebhookDispatcher,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    metrics: Metrics,
  ) {
    runner.onDeadLetter = (projection) => metrics.deadLetters.inc({ projection });
    dispatcher.onOutcome = (outcome) => metrics.webhookDeliveries.inc({ outcome });
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.runner.ensureCheckpoints();
    if (this.config.runProjectors) await this.runner.start();
    if (this.config.runWebhookDispatcher) {
      this.offProgress = this.runner.onProgress(() => this.dispatcher.wake());
      this.dispatcher.start();
    }
  }

  /** Graceful: the projector finishes its batch, the dispatcher its deliveries in flight. */
  async beforeApplicationShutdown(signal?: string): Promise<void> {
    this.offProgress?.();
    await this.runner.stop();
    await this.dispatcher.stop();
    if (signal) new Logger('Workers').log(`${signal}: projectors and webhook dispatcher stopped after the work in flight`);
  }
}

/** Readiness fails when a projection is further behind than this many events. */
export const MAX_READY_LAG = Number(process.env.READINESS_MAX_LAG ?? 10_000);

/** Events appended but not applied, per projection, counted by the event store (PostgreSQL or EventStoreDB). */
@Injectable()
export class ProjectionLag {
  constructor(
    @Inject(DATABASE) private readonly database: Database,
    private readonly store: EventStore,
    private readonly runner: ProjectionRunner,
    private readonly metrics: Metrics,
  ) {}

  async measure(): Promise<{ projection: string; behind: number; halted: string | null }[]> {
    const names = new Set(this.runner.projections.map((p) => p.name));
    const checkpoints = (
      await this.database
        .tables<ReadModelTables>()
        .selectFrom('projection_checkpoints')
        .select(['projection', 'checkpoint', 'halted_reason'])
        .execute()
    ).filter((c) => names.has(c.projection));
    return Promise.all(
      checkpoints.map(async (c) => ({
        projection: c.projection,
        // Counted up to just past the readiness bound: beyond it the exact figure changes nothing.
        behind: await this.store.behindBy(c.checkpoint as string | null, { max: MAX_READY_LAG + 1 }),
        halted: c.halted_reason as string | null,
      })),
    );
  }

  /** The Prometheus exposition of this process's metrics, with the lag gauge measured now. */
  async prometheus(): Promise<{ contentType: string; body: string }> {
    for (const { projection, behind } of await this.measure()) this.metrics.projectionLag.set({ projection }, behind);
    return { contentType: this.metrics.registry.contentType, body: await this.metrics.registry.metrics() };
  }
}

/** The projection runner, read-your-writes waits and the webhook dispatcher, for the API and the worker alike. */
@Global()
@Module({
  providers: [
    {
      provide: ProjectionRunner,
      inject: [DATABASE, EventStore, APP_CONFIG],
      useFactory: (database: Database, store: EventStore, config: AppConfig) =>
        new ProjectionRunner(database.tables<ReadModelTables>(), store, serviceProjections(store), {
          batchSize: config.projectionBatchSize,
          pollMs: config.projectionPollMs,
          maxAttempts: 3,
          haltOnPoison: config.projectionHaltOnPoison,
          // A batch and its checkpoint commit together, so a crash that loses the last batches
          // loses their checkpoint with them: they are applied again from the log. No fsync wait.
          synchronousCommit: false,
          gatherMs: config.projectionGatherMs,
        }),
    },
    {
      provide: ConsistencyService,
      inject: [DATABASE, EventStore, ProjectionRunner, APP_CONFIG],
      useFactory: (database: Database, store: EventStore, runner: ProjectionRunner, config: AppConfig) =>
        new ConsistencyService(database.tables<ReadModelTables>(), store, runner, config.consistencyTimeoutMs),
    },
    { provide: AddressPolicy, inject: [APP_CONFIG], useFactory: (config: AppConfig) => new AddressPolicy(config.webhookAllowedHosts) },
    {
      provide: WebhookDispatcher,
      inject: [DATABASE, AddressPolicy, APP_CONFIG],
      useFactory: (database: Database, policy: AddressPolicy, config: AppConfig) =>
        new WebhookDispatcher(database.tables<WebhookTables>(), policy, dispatcherOptionsFrom(config)),
    },
    BackgroundWorkers,
    ProjectionLag,
  ],
  exports: [ProjectionRunner, ConsistencyService, AddressPolicy, WebhookDispatcher, ProjectionLag],
})
export class ReadSideModule {}
