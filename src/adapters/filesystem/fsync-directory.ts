import { open } from 'node:fs/promises';

/** Makes a directory's entries (a file just created in it) durable: fsync of the directory itself. */
export async function fsyncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
