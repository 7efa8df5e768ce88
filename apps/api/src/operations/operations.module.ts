import { type MiddlewareConsumer, Module, type NestModule } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { HttpMetricsMiddleware, OperationsController } from './operations';
import { ProjectionsController } from './projections.controller';

/** Health, readiness, metrics and the projections' state. */
@Module({
  imports: [TerminusModule.forRoot({ logger: false })],
  controllers: [OperationsController, ProjectionsController],
})
export class OperationsModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(HttpMetricsMiddleware).forRoutes('{*path}');
  }
}
