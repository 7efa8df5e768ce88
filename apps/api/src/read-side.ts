import { BeforeApplicationShutdown, Inject, Injectable, OnApplicationBootstrap, Provider } from '@nestjs/common';
import { EventStore } from '@app/event-store';
import { APP_CONFIG, AppConfig, Database, DATABASE, Metrics } from '@app/platform';
import { ConsistencyService, ProjectionRunner } from '@app/read-models';
import { AddressPolicy, dispatcherOptionsFrom, serviceProjections, WebhookDispatcher } from '@app/webhooks';

/**
 * Runs the projectors and the webhook dispatcher inside the API process unless
 * RUN_PROJECTORS / RUN_WEBHOOK_DISPATCHER say false (then apps/worker does).
 */
@Injectable()
export class InProcessWorkers implements OnApplicationBootstrap, BeforeApplicationShutdown {
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
  async beforeApplicationShutdown(): Promise<void> {
    this.offProgress?.();
    await this.runner.stop();
    await this.dispatcher.stop();
  }
}

export const READ_SIDE_PROVIDERS: Provider[] = [
  {
    provide: ProjectionRunner,
    inject: [DATABASE, EventStore, APP_CONFIG],
    useFactory: (database: Database, store: EventStore, config: AppConfig) =>
      new ProjectionRunner(database.db, store, serviceProjections(), {
        batchSize: config.projectionBatchSize,
        pollMs: config.projectionPollMs,
        maxAttempts: 3,
        haltOnPoison: config.projectionHaltOnPoison,
      }),
  },
  {
    provide: ConsistencyService,
    inject: [DATABASE, EventStore, ProjectionRunner, APP_CONFIG],
    useFactory: (database: Database, store: EventStore, runner: ProjectionRunner, config: AppConfig) =>
      new ConsistencyService(database.db, store, runner, config.consistencyTimeoutMs),
  },
  { provide: AddressPolicy, inject: [APP_CONFIG], useFactory: (config: AppConfig) => new AddressPolicy(config.webhookAllowedHosts) },
  {
    provide: WebhookDispatcher,
    inject: [DATABASE, AddressPolicy, APP_CONFIG],
    useFactory: (database: Database, policy: AddressPolicy, config: AppConfig) =>
      new WebhookDispatcher(database.db, policy, dispatcherOptionsFrom(config)),
  },
  InProcessWorkers,
];
