import { NotFoundError } from '../domain/errors.js';
import type { ArchiveIndex } from '../ports/archive-index.js';
import type { AuditEntry } from '../ports/audit-trail.js';
import type { LegalHold, LegalHolds } from '../ports/legal-holds.js';
import type { AuditLog } from './audit-log.js';
import type { LiveStore } from '../ports/live-store.js';

/** How many of a record's audit entries its history shows, the oldest first (GET /audit pages on). */
export const HISTORY_AUDIT_LIMIT = 500;

/** One thing that happened to a record. `by` is left out where the caller may not see who. */
export interface HistoryEvent {
  at: string;
  /** `created`, `updated`, `archived`, `restored`, `hold placed`, `hold lifted`, or an audit action. */
  event: string;
  by?: string;
  detail?: string;
}

export interface RecordHistoryView {
  record_id: string;
  /** Where the record is now; `absent` once deleted (its history stays). */
  where: 'live' | 'archive' | 'absent';
  events: HistoryEvent[];
  /** True when the audit trail's actors were left out: only admins see who did what. */
  audit_hidden: boolean;
  /** True when the record has more audit entries than the history shows: `GET /audit` lists them all. */
  audit_truncated: boolean;
}

/**
 * A record's history for the console, oldest first: the times the live record carries (created,
 * updated, restored), or the archived one's creation and archival from its index entry (never
 * reading archived bytes, so a look never starts a rehydration), its legal hold's changes, and the
 * audit trail's entries about it since it was created (a credential that failed is no part of it).
 */
export class RecordHistory {
  constructor(
    private readonly live: LiveStore,
    private readonly index: ArchiveIndex,
    private readonly holds: LegalHolds,
    private readonly audit: AuditLog,
  ) {}

  /**
   * `showActors`: who made each audited change (admins). `showHoldDetails`: who placed or lifted a
   * hold and why (admins and the legal role), as GET /billing/{id}/legal-hold shows them.
   */
  async of(
    id: string,
    options: { showActors: boolean; showHoldDetails: boolean },
  ): Promise<RecordHistoryView> {
    const [stored, entry, holdEvents] = await Promise.all([
      this.live.get(id),
      this.index.get(id),
      this.holds.history(id),
    ]);
    const createdAt = stored?.doc.created_at ?? entry?.created_at;
    // Nothing about a record is audited before it was created: the scan starts there.
    const from = createdAt !== undefined && !Number.isNaN(Date.parse(createdAt)) ? createdAt : undefined;
    const trail = await this.audit.query({ recordId: id, from, limit: HISTORY_AUDIT_LIMIT });
    const audited = trail.items.filter((item) => item.action !== 'auth.failed');
    if (!stored && !entry && holdEvents.length === 0 && audited.length === 0)
      throw new NotFoundError(`record '${id}' not found, and nothing about it is in the audit trail`);
    const events: HistoryEvent[] = [];
    if (stored) {
      const { created_at: created, updated_at: updated, restored_at: restored } = stored.doc;
      events.push({ at: created, event: 'created' });
      if (updated !== created) events.push({ at: updated, event: 'updated', detail: 'the latest change' });
      if (typeof restored === 'string') events.push({ at: restored, event: 'restored' });
    } else if (entry) {
      events.push(
        { at: entry.created_at, event: 'created' },
        {
          at: entry.archived_at,
          event: 'archived',
          detail: `by run ${entry.run_id}, into ${entry.location.blob}`,
        },
      );
    }
    for (const change of holdEvents)
      events.push({
        at: change.at,
        event: change.action === 'set' ? 'hold placed' : 'hold lifted',
        ...(options.showHoldDetails && { by: change.by, detail: change.reason }),
      });
    for (const item of audited) events.push(auditEvent(item, options.showActors));
    events.sort((a, b) => a.at.localeCompare(b.at));
    return {
      record_id: id,
      where: stored ? 'live' : entry ? 'archive' : 'absent',
      events,
      audit_hidden: !options.showActors && audited.length > 0,
      audit_truncated: trail.nextCursor !== undefined,
    };
  }

  /** The holds in force, by record id, a page at a time. */
  async holdsInForce(
    limit: number,
    after: string | undefined,
  ): Promise<{ items: LegalHold[]; next_after: string | null }> {
    const items = await this.holds.list({ limit, afterId: after });
    return { items, next_after: items.length === limit ? (items.at(-1)?.record_id ?? null) : null };
  }
}

function auditEvent(entry: AuditEntry, showActors: boolean): HistoryEvent {
  const status = entry.status === undefined ? '' : ` (HTTP ${entry.status})`;
  return {
    at: entry.at,
    event: entry.action,
    ...(showActors && { by: entry.actor_name ? `${entry.actor_name} (${entry.actor})` : entry.actor }),
    detail: `${entry.outcome}${status}`,
  };
}
