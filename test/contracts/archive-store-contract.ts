import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/domain/billing-record.js';
import { IntegrityError, NotFoundError } from '../../src/domain/errors.js';
import {
  ACCESS_TIERS,
  type ArchiveStore,
  type ArchiveTiers,
  type TieredBlobInfo,
} from '../../src/ports/archive-store.js';
import { useFreshStore, type StoreFixture } from './store-fixture.js';

const bytes = (text: string): Buffer => Buffer.from(text, 'utf8');

/** The optional capabilities a store declares; their cases are skipped for a store without them. */
export interface ArchiveStoreFeatures {
  tiers: boolean;
}

/** What every ArchiveStore adapter must do, run unchanged over each of them. */
export function describeArchiveStoreContract(
  name: string,
  make: () => Promise<StoreFixture<ArchiveStore>>,
  features: ArchiveStoreFeatures,
): void {
  describe(`ArchiveStore contract: ${name}`, () => {
    const current = useFreshStore(make);
    const tiers = (): ArchiveTiers => {
      const declared = current().tiers;
      if (!declared) throw new Error('the store declares no access tiers');
      return declared;
    };

    it('stores create-only and reads back the exact bytes', async () => {
      const body = bytes('{"id":"a","amount":1}');
      expect(
        await current().putIfAbsent('records/2026/01/a.json', body, {
          sha256: sha256Hex(body),
        }),
      ).toEqual({
        created: true,
      });
      expect(await current().get('records/2026/01/a.json')).toEqual(body);
      const other = bytes('other');
      expect(
        await current().putIfAbsent('records/2026/01/a.json', other, {
          sha256: sha256Hex(other),
        }),
      ).toEqual({
        created: false,
      });
      expect(await current().get('records/2026/01/a.json')).toEqual(body);
    });

    it('refuses bytes that do not match the given SHA-256 and stores nothing', async () => {
      await expect(
        current().putIfAbsent('x/bad.json', bytes('abc'), {
          sha256: sha256Hex(bytes('abd')),
        }),
      ).rejects.toBeInstanceOf(IntegrityError);
      await expect(current().get('x/bad.json')).rejects.toBeInstanceOf(NotFoundError);
    });

    it('reads a byte range', async () => {
      const body = bytes('0123456789');
      await current().putIfAbsent('r/range.bin', body, { sha256: sha256Hex(body) });
      expect((await current().get('r/range.bin', { offset: 3, length: 4 })).toString()).toBe('3456');
    });

    it('refuses a range the blob does not hold with IntegrityError: it is not the blob written', async () => {
      const body = bytes('0123456789');
      await current().putIfAbsent('r/short.bin', body, { sha256: sha256Hex(body) });
      await expect(current().get('r/short.bin', { offset: 20, length: 4 })).rejects.toBeInstanceOf(
        IntegrityError,
      );
      await expect(current().get('r/short.bin', { offset: 8, length: 4 })).rejects.toBeInstanceOf(
        IntegrityError,
      );
    });

    it('answers NotFoundError for a missing blob and deletes idempotently', async () => {
      await expect(current().get('nope/missing.json')).rejects.toBeInstanceOf(NotFoundError);
      const body = bytes('x');
      await current().putIfAbsent('d/x.json', body, { sha256: sha256Hex(body) });
      await current().delete('d/x.json');
      await current().delete('d/x.json');
      await expect(current().get('d/x.json')).rejects.toBeInstanceOf(NotFoundError);
    });

    it('lists by prefix in name order with sizes', async () => {
      for (const name of ['records/2026/02/b.json', 'records/2026/01/a.json', 'other/c.json']) {
        const body = bytes(name);
        await current().putIfAbsent(name, body, { sha256: sha256Hex(body) });
      }
      const listed = [];
      for await (const info of current().list('records/')) listed.push([info.name, info.size]);
      expect(listed).toEqual([
        ['records/2026/01/a.json', 'records/2026/01/a.json'.length],
        ['records/2026/02/b.json', 'records/2026/02/b.json'.length],
      ]);
      // A prefix is text, not a folder: it may end inside a name, and a missing folder lists nothing.
      const names = async (prefix: string): Promise<string[]> => {
        const found = [];
        for await (const info of current().list(prefix)) found.push(info.name);
        return found;
      };
      expect(await names('records/2026/0')).toEqual(['records/2026/01/a.json', 'records/2026/02/b.json']);
      expect(await names('records/2026/02/')).toEqual(['records/2026/02/b.json']);
      expect(await names('rec')).toEqual(['records/2026/01/a.json', 'records/2026/02/b.json']);
      expect(await names('records/2027/')).toEqual([]);
      expect(await names('records/2026/01/a.json/')).toEqual([]);
      expect(await names('Records/')).toEqual([]);
    });

    it('goes on listing when a blob is deleted while the listing is under way', async () => {
      for (const name of ['l/a.json', 'l/b.json', 'l/c.json']) {
        const body = bytes(name);
        await current().putIfAbsent(name, body, { sha256: sha256Hex(body) });
      }
      const seen: string[] = [];
      for await (const info of current().list('l/')) {
        seen.push(info.name);
        if (info.name === 'l/a.json') await current().delete('l/b.json');
      }
      // The deleted blob may be listed or not; the others are, in order.
      expect(seen.filter((name) => name !== 'l/b.json')).toEqual(['l/a.json', 'l/c.json']);
    });

    it(features.tiers ? 'declares access tiers' : 'declares no access tiers', () => {
      expect(current().tiers !== undefined).toBe(features.tiers);
    });

    it.skipIf(!features.tiers)(
      'moves a blob between tiers and lists its tier, creation and last tier change',
      async () => {
        const before = Date.now();
        for (const name of ['t/a.json', 't/b.json']) {
          const body = bytes(name);
          await current().putIfAbsent(name, body, { sha256: sha256Hex(body) });
        }
        const listed = async (): Promise<TieredBlobInfo[]> => {
          const infos: TieredBlobInfo[] = [];
          for await (const info of tiers().list('')) infos.push(info);
          return infos;
        };
        const [fresh] = await listed();
        expect(ACCESS_TIERS).toContain(fresh?.tier);
        // Seconds apart at most; the servers keep whole seconds.
        expect(Math.abs((fresh?.createdOn.getTime() ?? 0) - before)).toBeLessThan(60_000);

        await tiers().setTier('t/a.json', 'Archive');
        await tiers().setTier('t/b.json', 'Cool');
        const [a, b] = await listed();
        expect([a?.name, a?.tier, b?.name, b?.tier]).toEqual(['t/a.json', 'Archive', 't/b.json', 'Cool']);
        expect([await tiers().tierOf('t/a.json'), await tiers().tierOf('t/b.json')]).toEqual([
          'Archive',
          'Cool',
        ]);
        await expect(tiers().tierOf('t/missing.json')).rejects.toBeInstanceOf(NotFoundError);
        expect(Math.abs((a?.tierChangedOn?.getTime() ?? 0) - Date.now())).toBeLessThan(60_000);
        expect((await listed()).map((info) => info.name)).toEqual(['t/a.json', 't/b.json']);
        const names: string[] = [];
        for await (const info of current().list('')) names.push(info.name);
        expect(names).toEqual(['t/a.json', 't/b.json']);
        await expect(tiers().setTier('t/missing.json', 'Cool')).rejects.toBeInstanceOf(NotFoundError);

        await current().delete('t/a.json');
        await current().putIfAbsent('t/a.json', bytes('again'), {
          sha256: sha256Hex(bytes('again')),
        });
        // A blob made again under the same name starts over in the upload tier, not where the old one was.
        expect((await listed())[0]?.tier).not.toBe('Archive');
      },
    );

    it('answers the readiness probe', async () => {
      await expect(current().ping()).resolves.toBeUndefined();
    });
  });
}
