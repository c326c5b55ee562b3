import { describe, expect, it } from 'vitest';
import { addRequest, addUsage, emptyUsage, usagePerRecord } from '../../src/domain/usage.js';

describe('usage', () => {
  it('counts Cosmos DB requests and their charges by kind, and archive store operations by kind', () => {
    const usage = emptyUsage();
    addRequest(usage, { store: 'cosmos', kind: 'billing/batch', requestUnits: 512.38 });
    addRequest(usage, { store: 'cosmos', kind: 'billing/batch', requestUnits: 0.1 });
    addRequest(usage, { store: 'cosmos', kind: 'index/query', requestUnits: 0.2 });
    addRequest(usage, { store: 'archive_store', kind: 'write' });
    addRequest(usage, { store: 'archive_store', kind: 'list', count: 3 });
    expect(usage).toEqual({
      cosmos: {
        requests: 3,
        request_units: 512.68,
        by_kind: {
          'billing/batch': { requests: 2, request_units: 512.48 },
          'index/query': { requests: 1, request_units: 0.2 },
        },
      },
      archive_store: { operations: 4, by_kind: { write: 1, list: 3 } },
    });
  });

  it('adds one usage to another, kind by kind', () => {
    const a = emptyUsage();
    addRequest(a, { store: 'cosmos', kind: 'k1', requestUnits: 1.5 });
    addRequest(a, { store: 'archive_store', kind: 'read' });
    const b = emptyUsage();
    addRequest(b, { store: 'cosmos', kind: 'k1', requestUnits: 2.25 });
    addRequest(b, { store: 'cosmos', kind: 'k2', requestUnits: 1 });
    addRequest(b, { store: 'archive_store', kind: 'read' });
    addRequest(b, { store: 'archive_store', kind: 'delete' });
    addUsage(a, b);
    expect(a.cosmos).toEqual({
      requests: 3,
      request_units: 4.75,
      by_kind: { k1: { requests: 2, request_units: 3.75 }, k2: { requests: 1, request_units: 1 } },
    });
    expect(a.archive_store).toEqual({ operations: 3, by_kind: { read: 2, delete: 1 } });
  });

  it('divides by the records archived, and says null when none were', () => {
    const usage = emptyUsage();
    for (let i = 0; i < 3; i++) addRequest(usage, { store: 'cosmos', kind: 'k', requestUnits: 10 });
    addRequest(usage, { store: 'archive_store', kind: 'write' });
    expect(usagePerRecord(usage, 300)).toEqual({
      cosmos_requests: 0.01,
      request_units: 0.1,
      archive_store_operations: 0.0033,
    });
    expect(usagePerRecord(usage, 0)).toBeNull();
  });
});
