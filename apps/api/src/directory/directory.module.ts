import { Module } from '@nestjs/common';
import { ContactsController, CustomersController, LeadsController, UsersController } from './directory.controller';

/** The organisation's users, customers, contacts and leads. */
@Module({ controllers: [UsersController, CustomersController, ContactsController, LeadsController] })
export class DirectoryModule {}
