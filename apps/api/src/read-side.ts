import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown, Provider } from '@nestjs/common';
import { EventStore } from '@app/event-store';
import { APP_CONFIG, AppConfig, Database, DATABASE } from '@app/platform';
import { allProjections, ConsistencyService, ProjectionRunner } from '@app/read-models';

/** Runs the projectors inside the API process unless RUN_PROJECTORS=false (then apps/worker does). */
@Injectable()
export class InProcessProjectors implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    private readonly runner: ProjectionRunner,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.runner.ensureCheckpoints();
    if (this.config.runProjectors) await this.runner.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.runner.stop();
  }
}

export const READ_SIDE_PROVIDERS: Provider[] = [
  {
    provide: ProjectionRunner,
    inject: [DATABASE, EventStore, APP_CONFIG],
    useFactory: (database: Database, store: EventStore, config: AppConfig) =>
      new ProjectionRunner(database.db, store, allProjections(), {
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
  InProcessProjectors,
];
