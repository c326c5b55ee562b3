import { createHash } from 'node:crypto';
import { AppendBlobClient, newPipeline, RestError, type ContainerClient } from '@azure/storage-blob';
import pRetry from 'p-retry';
import { auditDay, auditLine, queryAuditFiles, type AuditDayFile } from '../../domain/audit-query.js';
import { DomainError } from '../../domain/errors.js';
import type { AuditEntry, AuditPage, AuditQuery, AuditTrail } from '../../ports/audit-trail.js';
import { ensureContainer } from './blob-container.js';
import { brokeInTransit, storageErrorCode, unavailable } from './blob-errors.js';

const PART_NAME = /^(\d{4,})\.ndjson$/;
/** Key lengths of a year, month and day prefix: '2026', '2026/03', '2026/03/15'. */
const LEVELS = [4, 7, 10];
/** Tries of one append; before each retry the line is looked for, as the last try may have landed. */
const APPEND_ATTEMPTS = 5;
/** How far back from a blob's end a line that may have landed is looked for. */
const LANDED_WINDOW_BYTES = 256 * 1024;
/** Statuses worth another try; a request without one broke on the way. */
const TRANSIENT_STATUSES = new Set([408, 500, 502, 503, 504]);

/**
 * AuditTrail on append blobs in a container of its own: `YYYY/MM/DD/NNNN.ndjson`, one per UTC day
 * until it holds the 50,000 blocks an append blob can, then the next part. Each entry is one
 * block, so lines never interleave or tear. Appends carry no append-position condition, so several
 * processes can append at once; they are retried here rather than by the SDK, so that a retry
 * after a lost answer first looks whether its line landed (lines are unique: time to the
 * millisecond, actor, action, request or run id) instead of writing it twice. A line can still be
 * written twice when the service applies a try only after the client gave up on it (30 s) and
 * looked, or when more than LANDED_WINDOW_BYTES of other lines came after it meanwhile.
 */
export class AppendBlobAuditTrail implements AuditTrail {
  /** The part each day is appended to, as this process last learnt it (another may be ahead). */
  private readonly partOfDay = new Map<string, Promise<number>>();

  constructor(private readonly container: ContainerClient) {}

  async init(): Promise<void> {
    await ensureContainer(this.container);
  }

  async close(): Promise<void> {
    await Promise.resolve();
  }

  async append(entry: AuditEntry): Promise<void> {
    const day = auditDay(entry.at).replaceAll('-', '/');
    const body = Buffer.from(auditLine(entry), 'utf8');
    const md5 = createHash('md5').update(body).digest();
    let part = await this.currentPart(day);
    for (;;) {
      const name = partName(day, part);
      try {
        await this.appendBlock(name, body, md5);
        return;
      } catch (error) {
        if (storageErrorCode(error) !== 'BlockCountExceedsLimit')
          throw unavailable(`appending to audit blob '${name}'`, error);
        part = await this.moveBeyond(day, part);
      }
    }
  }

  async query(query: AuditQuery): Promise<AuditPage> {
    try {
      return await queryAuditFiles(query, (first, last) => this.dayFiles(first, last));
    } catch (error) {
      if (error instanceof DomainError) throw error;
      throw unavailable(`reading the audit trail in container '${this.container.containerName}'`, error);
    }
  }

  async ping(): Promise<void> {
    try {
      await this.container.getProperties();
    } catch (error) {
      throw unavailable(`reaching container '${this.container.containerName}'`, error);
    }
  }

  /** Appends to the part, retrying a try that failed on the way unless its line landed after all. */
  private async appendBlock(name: string, body: Buffer, md5: Buffer): Promise<void> {
    // The SDK would retry blindly: this client does not retry at all.
    const blob = new AppendBlobClient(
      this.container.getAppendBlobClient(name).url,
      newPipeline(this.container.credential, { retryOptions: { maxTries: 1, tryTimeoutInMs: 30_000 } }),
    );
    await pRetry(
      async (attempt) => {
        if (attempt > 1 && (await holdsLine(blob, body))) return;
        await appendOnce(blob, body, md5);
      },
      {
        retries: APPEND_ATTEMPTS - 1,
        minTimeout: 200,
        factor: 2,
        maxTimeout: 3_000,
        randomize: true,
        shouldRetry: ({ error }) => isTransient(error),
      },
    );
  }

  /** On a day's first append, the highest part there is; shared by the appends that race to it. */
  private currentPart(day: string): Promise<number> {
    const known = this.partOfDay.get(day);
    if (known) return known;
    const listing = this.parts(day).then(
      (parts) => parts.at(-1) ?? 0,
      (error: unknown) => {
        this.partOfDay.delete(day);
        throw unavailable(`listing audit blobs under '${day}/'`, error);
      },
    );
    this.partOfDay.set(day, listing);
    return listing;
  }

  /** After `full` refused a block: the part after it, unless a concurrent append moved further. */
  private moveBeyond(day: string, full: number): Promise<number> {
    const next = this.currentPart(day).then((known) => Math.max(known, full + 1));
    this.partOfDay.set(day, next);
    return next;
  }

  private async parts(day: string): Promise<number[]> {
    const parts: number[] = [];
    for await (const blob of this.container.listBlobsFlat({ prefix: `${day}/` })) {
      const match = PART_NAME.exec(blob.name.slice(day.length + 1));
      if (match) parts.push(Number(match[1]));
    }
    return parts.sort((a, b) => a - b);
  }

  private async *dayFiles(first: string | undefined, last: string | undefined): AsyncIterable<AuditDayFile> {
    for await (const day of this.days(first?.replaceAll('-', '/'), last?.replaceAll('-', '/'), '', LEVELS)) {
      for (const part of await this.parts(day)) {
        const read = async () =>
          (await this.container.getBlobClient(partName(day, part)).downloadToBuffer()).toString('utf8');
        yield { day: day.replaceAll('/', '-'), part, read };
      }
    }
  }

  /**
   * The days (YYYY/MM/DD) in the range, in order: a walk down the year, month and day prefixes that
   * lists only the children of those in range, and nothing at a level the range pins to one value
   * (so a day yielded may hold no blobs).
   */
  private async *days(
    first: string | undefined,
    last: string | undefined,
    parent: string,
    levels: number[],
  ): AsyncIterable<string> {
    const [length, ...deeper] = levels;
    if (length === undefined) {
      yield parent.slice(0, -1);
      return;
    }
    const lowest = first?.slice(0, length);
    const highest = last?.slice(0, length);
    if (lowest !== undefined && lowest === highest) {
      yield* this.days(first, last, `${lowest}/`, deeper);
      return;
    }
    for await (const item of this.container.listBlobsByHierarchy('/', { prefix: parent })) {
      if (item.kind !== 'prefix') continue;
      const key = item.name.slice(0, -1);
      if (lowest !== undefined && key < lowest) continue;
      if (highest !== undefined && key > highest) return;
      yield* this.days(first, last, item.name, deeper);
    }
  }
}

function partName(day: string, part: number): string {
  return `${day}/${String(part).padStart(4, '0')}.ndjson`;
}

/** One try: appends to the part, creating it on its first line (the service checks the MD5 in transit). */
async function appendOnce(blob: AppendBlobClient, body: Buffer, md5: Buffer): Promise<void> {
  try {
    await blob.appendBlock(body, body.length, { transactionalContentMD5: md5 });
  } catch (error) {
    if (storageErrorCode(error) !== 'BlobNotFound') throw error;
    await blob.createIfNotExists({ blobHTTPHeaders: { blobContentType: 'application/x-ndjson' } });
    await blob.appendBlock(body, body.length, { transactionalContentMD5: md5 });
  }
}

/** Whether the line is in the part's last LANDED_WINDOW_BYTES (other processes may have appended since). */
async function holdsLine(blob: AppendBlobClient, line: Buffer): Promise<boolean> {
  let length: number;
  try {
    length = (await blob.getProperties()).contentLength ?? 0;
  } catch (error) {
    if (storageErrorCode(error) === 'BlobNotFound') return false;
    throw error;
  }
  if (length === 0) return false;
  const from = Math.max(0, length - LANDED_WINDOW_BYTES);
  return (await blob.downloadToBuffer(from, length - from)).includes(line);
}

/** A try that failed on the way (no status), timed out, or was refused for now: it may be tried again. */
function isTransient(error: unknown): boolean {
  if (brokeInTransit(error)) return true;
  return (
    error instanceof RestError && error.statusCode !== undefined && TRANSIENT_STATUSES.has(error.statusCode)
  );
}
