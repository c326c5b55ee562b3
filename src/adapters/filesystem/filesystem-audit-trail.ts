import { constants } from 'node:fs';
import { access, mkdir, open, readdir, readFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { auditDay, auditLine, queryAuditFiles, type AuditDayFile } from '../../domain/audit-query.js';
import { DomainError, StoreUnavailableError } from '../../domain/errors.js';
import type { AuditEntry, AuditPage, AuditQuery, AuditTrail } from '../../ports/audit-trail.js';
import { fsyncDirectory } from './fsync-directory.js';

const DAY_FILE = /^(\d{4}-\d{2}-\d{2})\.ndjson$/;
const NEWLINE = 0x0a;

/**
 * AuditTrail on a local directory: one NDJSON file per UTC day, `YYYY-MM-DD.ndjson`. Every append
 * is one write() through O_APPEND, so the server and a CLI can append to the same file without
 * their lines interleaving, then a datasync.
 */
export class FilesystemAuditTrail implements AuditTrail {
  constructor(private readonly directory: string) {}

  async init(): Promise<void> {
    try {
      await mkdir(this.directory, { recursive: true, mode: 0o700 });
    } catch (error) {
      throw failed(`creating '${this.directory}'`, error);
    }
  }

  async close(): Promise<void> {
    await Promise.resolve();
  }

  async append(entry: AuditEntry): Promise<void> {
    const path = join(this.directory, `${auditDay(entry.at)}.ndjson`);
    const line = auditLine(entry);
    try {
      // 'a+' is O_APPEND like 'a', and also lets us read the last byte.
      const handle = await open(path, 'a+', 0o600);
      try {
        const { size } = await handle.stat();
        // A line torn by a crash has no newline: end it, or this entry would be glued to it and lost.
        // Racing another appender can at worst add an empty line, which readers skip.
        const torn = size > 0 && (await lastByte(handle, size)) !== NEWLINE;
        const bytes = Buffer.from(torn ? `\n${line}` : line, 'utf8');
        const { bytesWritten } = await handle.write(bytes);
        if (bytesWritten !== bytes.length)
          throw new Error(`wrote ${bytesWritten} of ${bytes.length} bytes of an audit line`);
        await handle.datasync();
        // An empty file is (most likely) one this append created: make its directory entry durable too.
        if (size === 0) await fsyncDirectory(this.directory);
      } finally {
        await handle.close();
      }
    } catch (error) {
      throw failed(`appending to '${path}'`, error);
    }
  }

  async query(query: AuditQuery): Promise<AuditPage> {
    try {
      return await queryAuditFiles(query, (first, last) => this.dayFiles(first, last));
    } catch (error) {
      if (error instanceof DomainError) throw error;
      throw failed(`reading '${this.directory}'`, error);
    }
  }

  async ping(): Promise<void> {
    try {
      await access(this.directory, constants.R_OK | constants.W_OK);
    } catch (error) {
      throw failed(`reaching '${this.directory}'`, error);
    }
  }

  /** One directory listing, filtered to the range: the day files sort by name. */
  private async *dayFiles(first: string | undefined, last: string | undefined): AsyncIterable<AuditDayFile> {
    const days = (await readdir(this.directory))
      .map((name) => DAY_FILE.exec(name)?.[1])
      .filter((day): day is string => !!day && (!first || day >= first) && (!last || day <= last))
      .sort();
    for (const day of days)
      yield { day, part: 0, read: () => readFile(join(this.directory, `${day}.ndjson`), 'utf8') };
  }
}

async function lastByte(handle: FileHandle, size: number): Promise<number | undefined> {
  const buffer = Buffer.alloc(1);
  const { bytesRead } = await handle.read(buffer, 0, 1, size - 1);
  return bytesRead === 1 ? buffer[0] : undefined;
}

function failed(action: string, error: unknown): StoreUnavailableError {
  return StoreUnavailableError.failed('audit trail', action, error);
}
