import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { link, mkdir, open, readdir, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { sha256Hex } from '../../domain/billing-record.js';
import { IntegrityError, NotFoundError, ValidationError } from '../../domain/errors.js';
import type { ArchiveStore, BlobFacts, BlobInfo, ByteRange } from '../../ports/archive-store.js';
import { fsyncDirectory } from './fsync-directory.js';

const TEMP_SUFFIX = '.partial';
/** Temporary files older than this are leftovers of a crashed writer, not a write in progress. */
const STALE_TEMP_MS = 60 * 60 * 1000;

/**
 * ArchiveStore on a local directory: each blob is a file of the same name, so any tool can read the
 * archive. Writes go to a temporary file that is fsynced, then hard-linked to its final name (which
 * fails if the name exists: create-only without a race), then the directory is fsynced. A directory
 * has no access tiers, so the store declares none: every blob is always readable.
 */
export class FilesystemArchiveStore implements ArchiveStore {
  constructor(private readonly root: string) {}

  async init(): Promise<void> {
    await mkdir(this.root, { recursive: true });
    await this.removeStaleTemporaryFiles();
  }

  async close(): Promise<void> {
    await Promise.resolve();
  }

  async putIfAbsent(name: string, bytes: Uint8Array, { sha256 }: BlobFacts): Promise<{ created: boolean }> {
    const actual = sha256Hex(bytes);
    if (actual !== sha256) {
      throw new IntegrityError(`bytes for blob '${name}' hash to ${actual}, not ${sha256}`);
    }
    const path = this.pathOf(name);
    const directory = dirname(path);
    await mkdirDurably(directory, this.root);
    const temp = join(directory, `.${randomBytes(8).toString('hex')}${TEMP_SUFFIX}`);
    try {
      const handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
      try {
        await handle.writeFile(bytes);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await link(temp, path);
    } catch (error) {
      if (errorCode(error) === 'EEXIST') return { created: false };
      throw error;
    } finally {
      await rm(temp, { force: true });
    }
    await fsyncDirectory(directory);
    return { created: true };
  }

  async get(name: string, range?: ByteRange): Promise<Buffer> {
    const path = this.pathOf(name);
    let handle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      if (errorCode(error) === 'ENOENT')
        throw new NotFoundError(`blob '${name}' not found`, { cause: error });
      throw error;
    }
    try {
      if (!range) return await handle.readFile();
      const buffer = Buffer.alloc(range.length);
      const { bytesRead } = await handle.read(buffer, 0, range.length, range.offset);
      if (bytesRead !== range.length) {
        throw new IntegrityError(
          `blob '${name}' is shorter than the range ${range.offset}+${range.length} (read ${bytesRead} bytes)`,
        );
      }
      return buffer;
    } finally {
      await handle.close();
    }
  }

  async delete(name: string): Promise<void> {
    await rm(this.pathOf(name), { force: true });
  }

  async *list(prefix: string): AsyncIterable<BlobInfo> {
    const directory = await this.directoryOf(prefix);
    if (directory === undefined) return;
    const names: string[] = [];
    for await (const path of walk(directory)) {
      if (path.endsWith(TEMP_SUFFIX)) continue;
      const name = relative(this.root, path).split(sep).join('/');
      if (name.startsWith(prefix)) names.push(name);
    }
    names.sort();
    for (const name of names) {
      // Deleted since the walk saw it (a commit replacing index files, a prune): no longer listed.
      const info = await stat(this.pathOf(name)).catch((error: unknown) => {
        if (errorCode(error) === 'ENOENT') return undefined;
        throw error;
      });
      if (info) yield { name, size: info.size, lastModified: info.mtime };
    }
  }

  async ping(): Promise<void> {
    await stat(this.root);
  }

  /**
   * The deepest directory every name starting with `prefix` is in, so a listing walks only that
   * (listing `index/roots/` must not walk the whole archive); undefined when no such directory
   * exists. Each folder is looked up by its exact spelling, as a blob name is matched, also on a
   * file system that ignores case.
   */
  private async directoryOf(prefix: string): Promise<string | undefined> {
    const folders = prefix.split('/').slice(0, -1);
    if (folders.some((f) => f === '' || f === '.' || f === '..' || f.includes('\\'))) return this.root;
    let directory = this.root;
    for (const folder of folders) {
      const entries = await readdir(directory, { withFileTypes: true }).catch((error: unknown) => {
        if (errorCode(error) === 'ENOENT') return [];
        throw error;
      });
      if (!entries.some((entry) => entry.name === folder && entry.isDirectory())) return undefined;
      directory = join(directory, folder);
    }
    return directory;
  }

  private pathOf(name: string): string {
    const segments = name.split('/');
    if (name.endsWith(TEMP_SUFFIX) || segments.some((s) => s === '' || s === '.' || s === '..')) {
      throw new ValidationError(`blob name '${name}' is not a valid relative name`);
    }
    return join(this.root, ...segments);
  }

  private async removeStaleTemporaryFiles(): Promise<void> {
    for await (const path of walk(this.root)) {
      if (!path.endsWith(TEMP_SUFFIX)) continue;
      // Another process's write may finish (and remove its temp file) while this one looks.
      const info = await stat(path).catch((error: unknown) => {
        if ((error as { code?: unknown }).code === 'ENOENT') return undefined;
        throw error;
      });
      if (info && Date.now() - info.mtimeMs > STALE_TEMP_MS) await rm(path, { force: true });
    }
  }
}

async function* walk(directory: string): AsyncIterable<string> {
  let entries;
  try {
    entries = await readdir(directory, { withFileTypes: true });
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return;
    throw error;
  }
  for (const entry of entries) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else if (entry.isFile()) yield path;
  }
}

/** Creates missing directories up to `directory`, each made durable in its parent. */
async function mkdirDurably(directory: string, root: string): Promise<void> {
  const first = await mkdir(directory, { recursive: true });
  if (first === undefined) return;
  const created: string[] = [];
  for (let dir = directory; dir.length >= first.length && dir !== root; dir = dirname(dir))
    created.unshift(dir);
  // A new directory's own entry lives in its parent: fsync each parent so the path survives a crash.
  for (const dir of created) await fsyncDirectory(dirname(dir));
}

function errorCode(error: unknown): unknown {
  return (error as { code?: unknown }).code;
}
