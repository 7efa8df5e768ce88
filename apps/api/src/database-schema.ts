import { EVENT_STORE_MIGRATIONS } from '@app/event-store';
import { mergeMigrations, PLATFORM_MIGRATIONS } from '@app/platform';
import { READ_MODEL_MIGRATIONS } from '@app/read-models';
import { WEBHOOK_MIGRATIONS } from '@app/webhooks';

/**
 * The service's schema: every library's migrations, one list sorted by name (the order they run
 * in, whichever library they come from). The API, the worker, the CLIs and the tests open their
 * database with it.
 */
export const SCHEMA_MIGRATIONS = mergeMigrations(PLATFORM_MIGRATIONS, EVENT_STORE_MIGRATIONS, READ_MODEL_MIGRATIONS, WEBHOOK_MIGRATIONS);
