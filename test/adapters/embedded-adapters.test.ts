import { join } from 'node:path';
import { FilesystemArchiveStore } from '../../src/adapters/filesystem/filesystem-archive-store.js';
import { SqliteArchiveIndex } from '../../src/adapters/sqlite/sqlite-archive-index.js';
import { SqliteFileLock } from '../../src/adapters/sqlite/sqlite-file-lock.js';
import { SqliteLegalHolds } from '../../src/adapters/sqlite/sqlite-legal-holds.js';
import { SqliteLiveStore } from '../../src/adapters/sqlite/sqlite-live-store.js';
import { SqliteRunLog } from '../../src/adapters/sqlite/sqlite-run-log.js';
import { describeArchiveIndexContract } from '../contracts/archive-index-contract.js';
import { describeArchiveStoreContract } from '../contracts/archive-store-contract.js';
import { describeLegalHoldsContract } from '../contracts/legal-holds-contract.js';
import { describeLiveStoreContract } from '../contracts/live-store-contract.js';
import { openedStore, type StoreFixture } from '../contracts/store-fixture.js';
import { describeLockContract } from '../contracts/lock-contract.js';
import { describeRunLogContract } from '../contracts/run-log-contract.js';
import { tempDir } from '../helpers/temp-dir.js';

/** Opens an adapter in a fresh temp directory; disposing closes it and removes the directory. */
function inTempDir<T extends { init(): Promise<void>; close(): Promise<void> }>(
  build: (dir: string) => T,
): () => Promise<StoreFixture<T>> {
  return async () => {
    const dir = await tempDir();
    return openedStore(build(dir.path), dir.remove);
  };
}

describeLiveStoreContract(
  'SQLite',
  inTempDir((dir) => new SqliteLiveStore(join(dir, 'live.sqlite'))),
);
describeArchiveIndexContract(
  'SQLite',
  inTempDir((dir) => new SqliteArchiveIndex(join(dir, 'index.sqlite'))),
);
describeArchiveStoreContract(
  'filesystem',
  inTempDir((dir) => new FilesystemArchiveStore(join(dir, 'archive'))),
);
describeLockContract(
  'SQLite file lock',
  inTempDir((dir) => new SqliteFileLock(join(dir, 'locks'))),
);
describeRunLogContract(
  'SQLite',
  inTempDir((dir) => new SqliteRunLog(join(dir, 'runs.sqlite'))),
);
describeLegalHoldsContract(
  'SQLite',
  inTempDir((dir) => new SqliteLegalHolds(join(dir, 'legal-holds.sqlite'))),
);
