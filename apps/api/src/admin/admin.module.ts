import { Module } from '@nestjs/common';
import { CategoriesController, TokensController } from './admin.controller';

/** API tokens and deal categories. */
@Module({ controllers: [TokensController, CategoriesController] })
export class AdminModule {}
