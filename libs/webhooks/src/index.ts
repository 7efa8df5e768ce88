export * from './address-policy';
export * from './signing';
export * from './schedule';
export * from './payload';
export * from './outbox.projection';
export * from './dispatcher';
export * from './endpoints';
export * from './service-projections';
