import { DeletionUnderWayError } from '../../domain/errors.js';
import type { DeletionClaim, HoldChange, HoldEvent, LegalHold, LegalHolds } from '../../ports/legal-holds.js';
import { attempt } from './open-database.js';
import { SqliteAdapter } from './sqlite-file.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS legal_holds (
  record_id TEXT PRIMARY KEY,
  since TEXT NOT NULL,
  by TEXT NOT NULL,
  reason TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS legal_hold_events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  record_id TEXT NOT NULL,
  action TEXT NOT NULL,
  at TEXT NOT NULL,
  by TEXT NOT NULL,
  reason TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS legal_hold_events_by_record ON legal_hold_events (record_id, seq);
CREATE TABLE IF NOT EXISTS deletion_claims (
  record_id TEXT PRIMARY KEY,
  token TEXT NOT NULL,
  expires_at TEXT NOT NULL
) STRICT;
`;

interface ClaimRow {
  token: string;
  expires_at: string;
}

/**
 * Legal holds on a SQLite file; a hold change and its audit event commit in one transaction, and
 * so do a delete's claim and the look at the hold it excludes.
 */
export class SqliteLegalHolds extends SqliteAdapter implements LegalHolds {
  constructor(path: string) {
    super(path, SCHEMA, 'SqliteLegalHolds');
  }

  get(recordId: string): Promise<LegalHold | undefined> {
    return attempt(() => this.select(recordId));
  }

  set(recordId: string, change: HoldChange): Promise<{ hold: LegalHold; changed: boolean }> {
    return attempt(() =>
      this.file.db
        .transaction(() => {
          const existing = this.select(recordId);
          if (existing) return { hold: existing, changed: false };
          if (this.standingClaim(recordId, change.at)) {
            throw new DeletionUnderWayError(`record '${recordId}' is being deleted`);
          }
          const hold: LegalHold = {
            record_id: recordId,
            since: change.at,
            by: change.by,
            reason: change.reason,
          };
          this.file
            .prepare('INSERT INTO legal_holds (record_id, since, by, reason) VALUES (?, ?, ?, ?)')
            .run(recordId, hold.since, hold.by, hold.reason);
          this.addEvent(recordId, 'set', change);
          return { hold, changed: true };
        })
        .immediate(),
    );
  }

  clear(recordId: string, change: HoldChange): Promise<{ changed: boolean }> {
    return attempt(() =>
      this.file.db
        .transaction(() => {
          const { changes } = this.file.prepare('DELETE FROM legal_holds WHERE record_id = ?').run(recordId);
          if (changes === 0) return { changed: false };
          this.addEvent(recordId, 'cleared', change);
          return { changed: true };
        })
        .immediate(),
    );
  }

  claimDeletion(recordId: string, claim: DeletionClaim): Promise<{ claimed: boolean; hold?: LegalHold }> {
    return attempt(() =>
      this.file.db
        .transaction(() => {
          const hold = this.select(recordId);
          if (hold) return { claimed: false, hold };
          const standing = this.standingClaim(recordId, claim.at);
          if (standing && standing.token !== claim.token) return { claimed: false };
          this.file
            .prepare('INSERT OR REPLACE INTO deletion_claims (record_id, token, expires_at) VALUES (?, ?, ?)')
            .run(recordId, claim.token, claim.expiresAt);
          return { claimed: true };
        })
        .immediate(),
    );
  }

  releaseDeletion(recordId: string, token: string): Promise<void> {
    return attempt(() => {
      this.file.prepare('DELETE FROM deletion_claims WHERE record_id = ? AND token = ?').run(recordId, token);
    });
  }

  history(recordId: string): Promise<HoldEvent[]> {
    return attempt(() =>
      this.file
        .prepare<[string], HoldEvent>(
          'SELECT record_id, action, at, by, reason FROM legal_hold_events WHERE record_id = ? ORDER BY seq',
        )
        .all(recordId),
    );
  }

  list(query: { limit: number; afterId?: string | undefined }): Promise<LegalHold[]> {
    return attempt(() =>
      this.file
        .prepare<[string, number], LegalHold>(
          'SELECT * FROM legal_holds WHERE record_id > ? ORDER BY record_id LIMIT ?',
        )
        .all(query.afterId ?? '', query.limit),
    );
  }

  private select(recordId: string): LegalHold | undefined {
    return this.file
      .prepare<[string], LegalHold>('SELECT * FROM legal_holds WHERE record_id = ?')
      .get(recordId);
  }

  /** The claim on the record that has not expired at `at`. */
  private standingClaim(recordId: string, at: string): ClaimRow | undefined {
    return this.file
      .prepare<[string, string], ClaimRow>(
        'SELECT token, expires_at FROM deletion_claims WHERE record_id = ? AND expires_at > ?',
      )
      .get(recordId, at);
  }

  private addEvent(recordId: string, action: HoldEvent['action'], change: HoldChange): void {
    this.file
      .prepare('INSERT INTO legal_hold_events (record_id, action, at, by, reason) VALUES (?, ?, ?, ?, ?)')
      .run(recordId, action, change.at, change.by, change.reason);
  }
}
