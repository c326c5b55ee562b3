/** YYYY-MM of a creation time (UTC), which archive blob names are grouped by; 'undated' when it does not parse. */
export function creationMonth(createdAt: string): string {
  const created = new Date(createdAt);
  if (Number.isNaN(created.getTime())) return 'undated';
  return `${created.getUTCFullYear().toString().padStart(4, '0')}-${(created.getUTCMonth() + 1).toString().padStart(2, '0')}`;
}
