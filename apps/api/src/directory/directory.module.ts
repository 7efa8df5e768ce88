import { Module } from '@nestjs/common';
import { CustomersController, UsersController } from './directory.controller';

/** The organisation's users and customers. */
@Module({ controllers: [UsersController, CustomersController] })
export class DirectoryModule {}
