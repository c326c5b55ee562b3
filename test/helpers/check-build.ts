import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Vitest global setup. Tests that run real child processes use the built CLI in dist/, so a
 * stale build would test old code: refuse to start instead (npm test builds first).
 */
export default function checkBuild(): void {
  const root = join(import.meta.dirname, '..', '..');
  const built = join(root, 'dist', 'cli.js');
  let builtAt: number;
  try {
    builtAt = statSync(built).mtimeMs;
  } catch {
    throw new Error('dist/cli.js is missing: run `npm run build` (npm test does it for you)');
  }
  const newest = newestMtime(join(root, 'src'));
  if (newest > builtAt)
    throw new Error('dist/ is older than src/: run `npm run build` (npm test does it for you)');
}

function newestMtime(directory: string): number {
  let newest = 0;
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}
