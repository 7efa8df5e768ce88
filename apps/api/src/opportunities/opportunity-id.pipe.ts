import { Injectable, PipeTransform } from '@nestjs/common';
import { DomainError } from '@app/domain';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Path ids are UUIDs in any case; they are normalised to lower case before use. */
@Injectable()
export class ParseOpportunityIdPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (!UUID.test(value)) throw DomainError.validation({ id: ['id must be a UUID'] });
    return value.toLowerCase();
  }
}
