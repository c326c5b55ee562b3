/**
 * When each record was last deleted for good (Cosmos DB container or SQLite table), so no repair or
 * move brings back an archived copy older than its deletion.
 */
export interface DeletionNotes {
  init(): Promise<void>;
  close(): Promise<void>;
  /** Notes that the record was deleted at `at`; an earlier note never replaces a later one. */
  note(id: string, at: string): Promise<void>;
  /** When the record was last deleted, or undefined. */
  deletedAt(id: string): Promise<string | undefined>;
  /**
   * Notes that a delete ended at `at` with the record removed (a note alone may belong to a delete
   * that then failed); an earlier confirmation never replaces a later one.
   */
  confirm(id: string, at: string): Promise<void>;
  /** When a delete of the record last ended with it removed, or undefined. */
  confirmedAt(id: string): Promise<string | undefined>;
  /** Readiness probe: resolves when the notes answer, cheaply. */
  ping(): Promise<void>;
}
