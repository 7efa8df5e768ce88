import { type DynamicModule, Global, Inject, Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import { EventStore, openEventStore } from '@app/event-store';
import { APP_CONFIG, type AppConfig, type Database, DATABASE, Metrics, openDatabase, TokenService } from '@app/platform';
import { SCHEMA_MIGRATIONS } from './database-schema';

export interface CoreModuleOptions {
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

/** What every process shares: configuration, the database, the event store, metrics and tokens. */
@Global()
@Module({})
export class CoreModule {
  static forRoot(options: CoreModuleOptions): DynamicModule {
    return {
      module: CoreModule,
      providers: [
        { provide: APP_CONFIG, useValue: options.config },
        options.database
          ? { provide: DATABASE, useValue: options.database }
          : { provide: DATABASE, useFactory: () => openDatabase(options.config, SCHEMA_MIGRATIONS) },
        options.eventStore
          ? { provide: EventStore, useValue: options.eventStore }
          : { provide: EventStore, useFactory: (db: Database) => openEventStore(options.config, db), inject: [DATABASE] },
        {
          provide: TokenService,
          useFactory: async (db: Database) => {
            const tokens = new TokenService(db.db, { database: db, entries: options.config.tokenCacheEntries });
            await tokens.start();
            return tokens;
          },
          inject: [DATABASE],
        },
        { provide: Metrics, useFactory: () => new Metrics() },
        { provide: OWNS_DATABASE, useValue: !options.database },
        ResourceCloser,
      ],
      exports: [APP_CONFIG, DATABASE, EventStore, TokenService, Metrics],
    };
  }
}
