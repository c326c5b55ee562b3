import type { Adapters } from '../../src/composition-root.js';
import { StoreUnavailableError } from '../../src/domain/errors.js';
import type { ArchiveIndex } from '../../src/ports/archive-index.js';
import type { ArchiveStore } from '../../src/ports/archive-store.js';
import { intercept } from './intercept.js';

/** Which write of a sealed segment fails: its manifest upload, or its index entries. */
export type SegmentFault = 'manifest' | 'index' | undefined;

/** The adapters, with a segment's manifest upload or its index write failing while `fault()` says so. */
export function failingSegmentWrites(adapters: Adapters, fault: () => SegmentFault): Adapters {
  return {
    ...adapters,
    store: intercept<ArchiveStore>(adapters.store, {
      putIfAbsent: (name, bytes, facts) =>
        fault() === 'manifest' && name.endsWith('.manifest.json.gz')
          ? Promise.reject(new StoreUnavailableError('injected: manifest upload failed'))
          : adapters.store.putIfAbsent(name, bytes, facts),
    }),
    index: intercept<ArchiveIndex>(adapters.index, {
      putMany: (entries) =>
        fault() === 'index'
          ? Promise.reject(new StoreUnavailableError('injected: index unreachable'))
          : adapters.index.putMany(entries),
    }),
  };
}
