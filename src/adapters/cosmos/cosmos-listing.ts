import type { SqlParameter } from '@azure/cosmos';
import type { CreationOrder } from '../../domain/creation-order.js';

/** The filters and order the live store and the archive index list by alike. */
export interface ListingQuery {
  afterId?: string | undefined;
  customerId?: string | undefined;
  byCreation?: CreationOrder | undefined;
  createdFrom?: string | undefined;
  createdBefore?: string | undefined;
}

/**
 * The WHERE terms, parameters and ORDER BY of a listing in id order or in creation order. Creation
 * order sorts on two paths, which Cosmos DB serves only from a composite index (`created_at`, `id`)
 * in the container's indexing policy (docs/DEPLOYING.md).
 */
export function listingFilter(query: ListingQuery): {
  where: string[];
  parameters: SqlParameter[];
  orderBy: string;
} {
  const where: string[] = [];
  const parameters: SqlParameter[] = [];
  const { byCreation } = query;
  if (byCreation) {
    if (byCreation.after) {
      // The range term first, so the index seeks to the key; the OR only settles ties.
      where.push('c.created_at >= @afterCreatedAt AND (c.created_at > @afterCreatedAt OR c.id > @afterId)');
      parameters.push(
        { name: '@afterCreatedAt', value: byCreation.after.createdAt },
        { name: '@afterId', value: byCreation.after.id },
      );
    }
  } else {
    where.push('c.id > @afterId');
    parameters.push({ name: '@afterId', value: query.afterId ?? '' });
  }
  if (byCreation || query.createdFrom !== undefined || query.createdBefore !== undefined)
    where.push('IS_STRING(c.created_at)');
  if (query.customerId !== undefined) {
    where.push('c.customer_id = @customerId');
    parameters.push({ name: '@customerId', value: query.customerId });
  }
  if (query.createdFrom !== undefined) {
    where.push('c.created_at >= @createdFrom');
    parameters.push({ name: '@createdFrom', value: query.createdFrom });
  }
  if (query.createdBefore !== undefined) {
    where.push('c.created_at < @createdBefore');
    parameters.push({ name: '@createdBefore', value: query.createdBefore });
  }
  return { where, parameters, orderBy: orderOf(query) };
}

/**
 * One customer's records in creation order sort on the composite index that leads with the
 * customer (the same order, as the customer is fixed), so a page seeks to them instead of walking
 * every customer's.
 */
function orderOf(query: ListingQuery): string {
  if (!query.byCreation) return 'c.id';
  return query.customerId === undefined ? 'c.created_at, c.id' : 'c.customer_id, c.created_at, c.id';
}
