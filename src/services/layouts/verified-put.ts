import { sha256Hex } from '../../domain/billing-record.js';
import { IntegrityError } from '../../domain/errors.js';
import type { ArchiveStore } from '../../ports/archive-store.js';

/**
 * Writes `bytes` under `name` create-only and durably. When the name exists (an earlier attempt of
 * this very write landed, say before a crash), its bytes must be exactly these before an entry may
 * point at it: `refusal` says why not otherwise.
 */
export async function putVerified(
  store: ArchiveStore,
  name: string,
  bytes: Buffer,
  refusal: string,
): Promise<{ sha256: string }> {
  const sha256 = sha256Hex(bytes);
  const { created } = await store.putIfAbsent(name, bytes, { sha256 });
  if (!created && sha256Hex(await store.get(name)) !== sha256) throw new IntegrityError(refusal);
  return { sha256 };
}
