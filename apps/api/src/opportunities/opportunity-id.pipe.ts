import { Injectable, PipeTransform } from '@nestjs/common';
import { DomainError, isUuid } from '@app/domain';

/** Path ids are UUIDs in any case; they are normalised to lower case before use. */
@Injectable()
export class ParseOpportunityIdPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (!isUuid(value)) throw DomainError.validation({ id: ['id must be a UUID'] });
    return value.toLowerCase();
  }
}
