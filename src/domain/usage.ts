/** Requests one kind of Cosmos DB call made, and the request units they were charged. */
export interface CosmosCalls {
  requests: number;
  request_units: number;
}

/**
 * What a piece of work (an archival run, a process's lifetime) asked of the stores that bill per
 * request: every Cosmos DB network request with its charge, and every archive store operation.
 */
export interface Usage {
  cosmos: CosmosCalls & {
    /** By `<container>/<operation>` (`billing_records/batch`), or `<resource>/<operation>` outside containers. */
    by_kind: Record<string, CosmosCalls>;
  };
  archive_store: {
    operations: number;
    /** By operation: `write`, `read`, `list`, `delete`, `set_tier`, `read_properties`. */
    by_kind: Record<string, number>;
  };
}

/** One request a store adapter sent. */
export type MeteredRequest =
  | { store: 'cosmos'; kind: string; requestUnits: number }
  | { store: 'archive_store'; kind: ArchiveStoreOperation; count?: number };

export type ArchiveStoreOperation = 'write' | 'read' | 'list' | 'delete' | 'set_tier' | 'read_properties';

export function emptyUsage(): Usage {
  return {
    cosmos: { requests: 0, request_units: 0, by_kind: {} },
    archive_store: { operations: 0, by_kind: {} },
  };
}

export function addRequest(usage: Usage, request: MeteredRequest): void {
  if (request.store === 'cosmos') {
    const kind = (usage.cosmos.by_kind[request.kind] ??= { requests: 0, request_units: 0 });
    kind.requests += 1;
    kind.request_units = roundUnits(kind.request_units + request.requestUnits);
    usage.cosmos.requests += 1;
    usage.cosmos.request_units = roundUnits(usage.cosmos.request_units + request.requestUnits);
  } else {
    const count = request.count ?? 1;
    usage.archive_store.by_kind[request.kind] = (usage.archive_store.by_kind[request.kind] ?? 0) + count;
    usage.archive_store.operations += count;
  }
}

export interface UsagePerRecord {
  cosmos_requests: number;
  request_units: number;
  archive_store_operations: number;
}

/** Adds what `more` counted to `usage`. */
export function addUsage(usage: Usage, more: Usage): void {
  for (const [kind, calls] of Object.entries(more.cosmos.by_kind)) {
    const into = (usage.cosmos.by_kind[kind] ??= { requests: 0, request_units: 0 });
    into.requests += calls.requests;
    into.request_units = roundUnits(into.request_units + calls.request_units);
  }
  usage.cosmos.requests += more.cosmos.requests;
  usage.cosmos.request_units = roundUnits(usage.cosmos.request_units + more.cosmos.request_units);
  for (const [kind, count] of Object.entries(more.archive_store.by_kind))
    usage.archive_store.by_kind[kind] = (usage.archive_store.by_kind[kind] ?? 0) + count;
  usage.archive_store.operations += more.archive_store.operations;
}

/** Per archived record, for the run summary: null when nothing was archived. */
export function usagePerRecord(usage: Usage, archived: number): UsagePerRecord | null {
  if (archived === 0) return null;
  const per = (total: number) => Math.round((total / archived) * 10_000) / 10_000;
  return {
    cosmos_requests: per(usage.cosmos.requests),
    request_units: per(usage.cosmos.request_units),
    archive_store_operations: per(usage.archive_store.operations),
  };
}

/** Charges come as decimals (2.86 RU); sums keep two places so 0.1 + 0.2 does not print as 0.30000000000000004. */
function roundUnits(units: number): number {
  return Math.round(units * 100) / 100;
}
