import pMap from 'p-map';
import type { RecordDocument } from '../domain/billing-record.js';
import type { StoredBytes } from '../domain/cost-model.js';
import type { CreationOrder } from '../domain/creation-order.js';
import { recordTimes } from '../domain/record-times.js';

/** A record as the LiveStore holds it, with the version tag conditional writes compare against. */
export interface StoredRecord {
  doc: RecordDocument;
  etag: string;
}

/** A document the archiver must leave live: its timestamps do not read as instants. */
export interface UnarchivableRecord {
  id: string;
  /** Why, for the run history: which field, and what it holds. */
  problem: string;
}

/**
 * One page of eligible records; `continuation` fetches the next page, absent after the last. A page
 * may hold fewer records than asked for, even none, while a continuation follows.
 */
export interface EligiblePage {
  records: StoredRecord[];
  /**
   * Documents met on the way whose timestamps do not read as instants (`recordTimes`), unless one
   * that does read says they were touched at or after the cutoff. Never among `records`.
   */
  unarchivable: UnarchivableRecord[];
  continuation: string | undefined;
}

export interface LiveListQuery {
  limit: number;
  /** Return ids strictly greater than this one (id order only). */
  afterId?: string | undefined;
  customerId?: string | undefined;
  status?: string | undefined;
  /**
   * Creation order (see creation-order.ts) instead of id order: only records whose `created_at` is
   * text, from strictly after `after` when given.
   */
  byCreation?: CreationOrder | undefined;
  /** Records whose `created_at` text is at or after this one (creation order only). */
  createdFrom?: string | undefined;
  /** Records whose `created_at` text is before this one (creation order only). */
  createdBefore?: string | undefined;
  /** Only records of these ids (at most 100). */
  ids?: readonly string[] | undefined;
}

export interface LiveSummary {
  count: number;
  /** Last touch of the least recently touched record, or undefined when the store is empty. */
  oldestTouchedAt: string | undefined;
}

/** The records of today (Cosmos DB container or SQLite table). */
export interface LiveStore {
  init(): Promise<void>;
  close(): Promise<void>;
  /** The record, or undefined when no record has this id. */
  get(id: string): Promise<StoredRecord | undefined>;
  /** Inserts a new record; ConflictError (code duplicate_id) when the id exists. */
  create(doc: RecordDocument): Promise<StoredRecord>;
  /** Replaces the record with doc.id; NotFoundError when absent, PreconditionFailedError when ifMatch differs. */
  replace(doc: RecordDocument, ifMatch?: string): Promise<StoredRecord>;
  /** Deletes; false when absent; PreconditionFailedError when ifMatch is given and differs. */
  delete(id: string, ifMatch?: string): Promise<boolean>;
  /**
   * Deletes each record whose etag still matches; true where this call deleted it, false where it
   * was absent or changed, or where the store cannot tell (a retried delete meeting "gone": the
   * caller looks again). Each record's delete is atomic, not the set; results are in input order.
   */
  deleteMany(items: readonly { id: string; etag: string }[]): Promise<boolean[]>;
  /**
   * Records last touched before `touchedBefore` (judged by the instants `recordTimes` reads, never by
   * text), roughly in creation order, at most `limit` a page, continuing where a page ended. Over a
   * whole pass each eligible record comes once, and each unarchivable document at most once.
   */
  findEligible(query: {
    touchedBefore: Date;
    limit: number;
    continuation?: string | undefined;
    /** Keep a pass to some statuses, or away from some; the same for every page of a pass. */
    statuses?: StatusFilter | undefined;
  }): Promise<EligiblePage>;
  /** Records in id order, or in creation order, filtered by each filter given. */
  list(query: LiveListQuery): Promise<StoredRecord[]>;
  /** Record count and oldest last touch (a scan: for stats, not for probes). */
  summary(): Promise<LiveSummary>;
  /** The bytes the records' documents take (a scan or a metadata read: for the cost model, not for probes). */
  storage(): Promise<StoredBytes>;
  /** Readiness probe: resolves when the store answers, cheaply. */
  ping(): Promise<void>;
}

/**
 * Which statuses a pass of findEligible reads: all but `exclude` (what ARCHIVAL_EXCLUDE_STATUSES
 * keeps live however old), or `only` those (to count what the exclusion keeps). A document whose
 * status is absent or not text is never excluded, and never among `only`.
 */
export type StatusFilter = { exclude: readonly string[] } | { only: readonly string[] };

/** Whether a document's status passes the filter (judged by the document, never a stored column). */
export function passesStatusFilter(doc: RecordDocument, filter: StatusFilter | undefined): boolean {
  if (!filter) return true;
  const status: unknown = doc.status;
  if ('only' in filter) return typeof status === 'string' && filter.only.includes(status);
  return typeof status !== 'string' || !filter.exclude.includes(status);
}

/**
 * Judges candidates a store's query found by the instants their timestamps name, and by the status
 * filter: a store may pre-select cheaply and loosely (by text, by stored columns), never decide by it.
 */
export function judgeEligible(
  candidates: readonly StoredRecord[],
  touchedBefore: Date,
  statuses?: StatusFilter,
): Pick<EligiblePage, 'records' | 'unarchivable'> {
  const cutoff = touchedBefore.getTime();
  const records: StoredRecord[] = [];
  const unarchivable: UnarchivableRecord[] = [];
  for (const candidate of candidates) {
    if (!passesStatusFilter(candidate.doc, statuses)) continue;
    const times = recordTimes(candidate.doc);
    if (times.readable) {
      if (times.lastTouchMs < cutoff) records.push(candidate);
    } else if (times.lastTouchMs === undefined || times.lastTouchMs < cutoff) {
      unarchivable.push({ id: candidate.doc.id, problem: times.problem });
    }
  }
  return { records, unarchivable };
}

/** Ids one `list` by ids asks for (the port's bound). */
const IDS_PER_LIST = 100;

/** The live records among these ids, in any order: a listing by ids per 100, a few at once. */
export async function liveRecordsAmong(live: LiveStore, ids: readonly string[]): Promise<StoredRecord[]> {
  const chunks: string[][] = [];
  for (let start = 0; start < ids.length; start += IDS_PER_LIST)
    chunks.push(ids.slice(start, start + IDS_PER_LIST));
  const found = await pMap(chunks, (chunk) => live.list({ limit: chunk.length, ids: chunk }), {
    concurrency: 8,
  });
  return found.flat();
}
