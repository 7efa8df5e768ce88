export * from './event-store.port';
export * from './postgres/postgres-event-store';
export * from './wake-up';
export * from './eventstoredb/eventstoredb-event-store';
export * from './open';
export * from './migrations';
export * from './tables';
