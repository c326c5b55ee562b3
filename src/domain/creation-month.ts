import { instantMs } from './record-times.js';

/** YYYY-MM of a creation time (UTC), which archive blob names are grouped by; 'undated' when it does not read as an instant. */
export function creationMonth(createdAt: string): string {
  const ms = instantMs(createdAt);
  if (ms === undefined) return 'undated';
  const created = new Date(ms);
  return `${created.getUTCFullYear().toString().padStart(4, '0')}-${(created.getUTCMonth() + 1).toString().padStart(2, '0')}`;
}
