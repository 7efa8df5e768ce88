import { Module } from '@nestjs/common';
import { ContactsController, CustomersController, UsersController } from './directory.controller';

/** The organisation's users, customers and contacts. */
@Module({ controllers: [UsersController, CustomersController, ContactsController] })
export class DirectoryModule {}
