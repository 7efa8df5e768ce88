import { type DynamicModule, Module } from '@nestjs/common';
import { CoreModule, type CoreModuleOptions } from '../../api/src/core.module';
import { ReadSideModule } from '../../api/src/read-side.module';

/**
 * The projectors and the webhook dispatcher without the HTTP API: the same core and read-side
 * providers as the API process, so the same metrics are recorded (dead letters, deliveries, lag).
 */
@Module({})
export class WorkerModule {
  static forRoot(options: CoreModuleOptions): DynamicModule {
    return { module: WorkerModule, imports: [CoreModule.forRoot(options), ReadSideModule] };
  }
}
