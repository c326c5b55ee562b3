import type { Logger } from 'pino';
import type { AuditEntry, AuditPage, AuditQuery, AuditTrail } from '../ports/audit-trail.js';
import { printable } from '../domain/printable.js';
import type { Clock } from './clock.js';

export type AuditFacts = Omit<AuditEntry, 'at'>;

/** Writes the audit trail for every edge, stamping the time; reads it back for admins. */
export class AuditLog {
  constructor(
    private readonly trail: AuditTrail,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  /**
   * Appends one entry. The change it describes has happened already and cannot be undone, so a
   * failure to write is logged with the entry (which holds no secret) rather than thrown.
   */
  async record(facts: AuditFacts): Promise<void> {
    // Names and details may carry text a caller chose: kept printable and bounded, for every edge.
    const entry: AuditEntry = {
      at: this.clock().toISOString(),
      ...facts,
      actor_name: facts.actor_name === undefined ? undefined : printable(facts.actor_name, 128),
      detail: facts.detail === undefined ? undefined : printable(facts.detail, 500),
    };
    try {
      await this.trail.append(entry);
    } catch (error) {
      this.logger.error({ err: error, audit: entry }, 'audit entry could not be written');
    }
  }

  query(query: AuditQuery): Promise<AuditPage> {
    return this.trail.query(query);
  }
}
