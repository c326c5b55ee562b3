import { describe, expect, it } from 'vitest';
import { reportedStorageBytes } from '../../src/adapters/cosmos/cosmos-container.js';

describe('reading Cosmos DB storage use from a quota header', () => {
  it('takes collectionSize (documents and index, in KB), else documentsSize', () => {
    expect(
      reportedStorageBytes(
        'functions=0;storedProcedures=0;triggers=0;documentSize=1;documentsSize=1200;documentsCount=900;collectionSize=1536',
      ),
    ).toBe(1536 * 1024);
    expect(reportedStorageBytes('documentsSize=10;documentsCount=3')).toBe(10 * 1024);
  });

  it('says nothing rather than guess when the header is missing or unreadable', () => {
    expect(reportedStorageBytes(undefined)).toBeUndefined();
    expect(reportedStorageBytes('documentsCount=3')).toBeUndefined();
    expect(reportedStorageBytes('collectionSize=lots')).toBeUndefined();
    expect(reportedStorageBytes('collectionSize=-1')).toBeUndefined();
    expect(reportedStorageBytes('documentsCount=40;collectionSize=0')).toBeUndefined();
    expect(reportedStorageBytes('documentsCount=0;collectionSize=0')).toBe(0);
  });
});
