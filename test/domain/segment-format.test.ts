import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/domain/billing-record.js';
import { IntegrityError } from '../../src/domain/errors.js';
import { creationMonth } from '../../src/domain/creation-month.js';
import {
  MEMBER_MAX_BYTES,
  placeOf,
  recordFromMember,
  SegmentBuilder,
  verifiedRecordHashes,
} from '../../src/domain/segment-format.js';
import { parseManifest, type SegmentManifest } from '../../src/domain/segment-manifest.js';

function line(id: string, padding: number): Buffer {
  return Buffer.from(
    JSON.stringify({
      id,
      customer_id: 'c',
      created_at: '2026-01-05T00:00:00.000Z',
      pad: 'x'.repeat(padding),
    }),
  );
}

function build(lines: Buffer[]): ReturnType<SegmentBuilder['seal']> {
  const builder = new SegmentBuilder();
  lines.forEach((bytes, i) => {
    builder.add(bytes, {
      id: `r${i}`,
      customer_id: 'c',
      created_at: '2026-01-05T00:00:00.000Z',
      sha256: sha256Hex(bytes),
    });
  });
  return builder.seal('segments/created=2026-01/run-0001.ndjson.gz', {
    runId: 'run',
    archivedAt: '2026-11-01T00:00:00.000Z',
  });
}

describe('segment format', () => {
  const lines = Array.from({ length: 400 }, (_, i) => line(`r${i}`, 200 + (i % 50)));

  it('is one NDJSON stream to any gzip reader, in the order records were added', () => {
    const { bytes } = build(lines);
    expect(gunzipSync(bytes).toString()).toBe(lines.map((l) => `${l.toString()}\n`).join(''));
  });

  it('cuts members of at most 64 KiB of whole lines, each of which decompresses alone', () => {
    const { bytes, manifest } = build(lines);
    expect(manifest.members.length).toBeGreaterThan(1);
    for (const member of manifest.members) {
      expect(member.uncompressed_length).toBeLessThanOrEqual(MEMBER_MAX_BYTES);
      const text = gunzipSync(bytes.subarray(member.offset, member.offset + member.length)).toString();
      expect(text.length).toBe(member.uncompressed_length);
      expect(text.endsWith('\n')).toBe(true);
      expect(text.trimEnd().split('\n')).toHaveLength(member.records);
    }
    const last = manifest.members.at(-1);
    expect((last?.offset ?? 0) + (last?.length ?? 0)).toBe(bytes.length);
  });

  it('finds every record from its member alone, and its manifest describes the whole blob', () => {
    const { bytes, manifest } = build(lines);
    expect(manifest).toMatchObject({ record_count: 400, bytes: bytes.length, sha256: sha256Hex(bytes) });
    manifest.records.forEach((record, i) => {
      const member = manifest.members[record.member];
      if (!member) throw new Error('no member');
      const found = recordFromMember(
        bytes.subarray(member.offset, member.offset + member.length),
        record,
        'seg',
      );
      expect(found.equals(lines[i] ?? Buffer.alloc(0))).toBe(true);
      expect(record.sha256).toBe(sha256Hex(found));
    });
  });

  it('stores its manifest gzipped in columns, hashing members, and reads back every place from it', () => {
    const { bytes, manifest, manifestBytes } = build(lines);
    const stored = JSON.parse(gunzipSync(manifestBytes).toString()) as Record<string, unknown>;
    expect(stored).toMatchObject({
      format: 'billing-archive.segment-manifest/2',
      records: { id: lines.map((_, i) => `r${i}`) },
      members: {
        sha256: manifest.members.map((m) => sha256Hex(bytes.subarray(m.offset, m.offset + m.length))),
      },
    });
    // The writer's per-record hashes stay out of it; offsets follow from lengths.
    expect(JSON.stringify(stored)).not.toContain(manifest.records[0]?.sha256);
    // Format 1 wrote the in-memory manifest as JSON.
    expect(manifestBytes.length).toBeLessThan(JSON.stringify(manifest).length / 10);
    const read = parseManifest(manifestBytes, 'm');
    expect(read).toEqual({ ...manifest, records: manifest.records.map(({ sha256: _, ...place }) => place) });
  });

  it('still reads format 1 manifests, which hash each record', () => {
    const { bytes, manifest } = build(lines.slice(0, 5));
    const v1 = {
      ...manifest,
      format: 'billing-archive.segment-manifest/1',
      members: manifest.members.map(({ sha256: _, ...member }) => member),
    };
    const read = parseManifest(Buffer.from(JSON.stringify(v1)), 'm');
    expect(read).toEqual(v1);
    expect([...verifiedRecordHashes(bytes, read).values()]).toEqual(manifest.records.map((r) => r.sha256));
    const wrong = {
      ...v1,
      records: v1.records.map((r, i) => (i === 2 ? { ...r, sha256: 'f'.repeat(64) } : r)),
    };
    const hashes = verifiedRecordHashes(bytes, parseManifest(Buffer.from(JSON.stringify(wrong)), 'm'));
    expect(hashes.size).toBe(4);
    expect(hashes.has(placeOf(read, read.records[2] ?? expect.fail()))).toBe(false);
  });

  it('verifies records by their member: a damaged member loses its own records only', () => {
    const { bytes, manifestBytes } = build(lines);
    const manifest = parseManifest(manifestBytes, 'm');
    const intact = verifiedRecordHashes(bytes, manifest);
    expect([...intact.values()]).toEqual(lines.map((l) => sha256Hex(l)));
    const second = manifest.members[1] ?? expect.fail('one member only');
    const damaged = Buffer.from(bytes);
    const at = second.offset + second.length - 5;
    damaged.writeUInt8(damaged.readUInt8(at) ^ 0xff, at);
    const left = verifiedRecordHashes(damaged, manifest);
    expect(left.size).toBe(lines.length - second.records);
    for (const record of manifest.records)
      expect(left.has(placeOf(manifest, record))).toBe(record.member !== 1);
  });

  it('gives a record longer than a member a member of its own', () => {
    const big = line('big', MEMBER_MAX_BYTES * 2);
    const { manifest } = build([line('a', 10), big, line('b', 10)]);
    expect(manifest.members.map((m) => m.records)).toEqual([1, 1, 1]);
    expect(manifest.members[1]?.uncompressed_length).toBe(big.length + 1);
  });

  it('refuses a damaged member or a line that is not there', () => {
    const { bytes, manifest } = build(lines.slice(0, 3));
    const member = bytes.subarray(0, manifest.members[0]?.length);
    expect(() => recordFromMember(Buffer.from('not gzip'), { offset: 0, length: 5 }, 'seg')).toThrow(
      IntegrityError,
    );
    expect(() => recordFromMember(member, { offset: 1, length: 5 }, 'seg')).toThrow(/no record line/);
    expect(() => recordFromMember(member, { offset: 0, length: 10_000 }, 'seg')).toThrow(IntegrityError);
  });

  it('verifies no record of a manifest changed to point ids at other bytes, merge lines, hide one or redate one', () => {
    const { bytes, manifestBytes } = build(lines.slice(0, 6));
    type Stored = {
      record_count: number;
      members: { uncompressed_length: number[]; records: number[] };
      records: { id: string[]; customer_id: string[]; created_at: string[]; length: number[] };
    };
    const stored = JSON.parse(gunzipSync(manifestBytes).toString()) as Stored;
    const verified = (change: (m: Stored) => void): string[] => {
      const copy = structuredClone(stored);
      change(copy);
      const manifest = parseManifest(gzipSync(JSON.stringify(copy)), 'm');
      const hashes = verifiedRecordHashes(bytes, manifest);
      return manifest.records.filter((r) => hashes.has(placeOf(manifest, r))).map((r) => r.id);
    };
    expect(verified(() => undefined)).toEqual(['r0', 'r1', 'r2', 'r3', 'r4', 'r5']);
    // Two ids swapped: each names bytes whose document has the other id.
    expect(verified((m) => m.records.id.splice(0, 2, 'r1', 'r0'))).toEqual(['r2', 'r3', 'r4', 'r5']);
    // Records 0 and 1 made one "record": a line with a newline inside.
    expect(
      verified((m) => {
        m.records.length.splice(0, 2, (m.records.length[0] ?? 0) + 1 + (m.records.length[1] ?? 0));
        for (const column of [m.records.id, m.records.customer_id, m.records.created_at]) column.splice(1, 1);
        m.members.records[0] = (m.members.records[0] ?? 0) - 1;
        m.record_count -= 1;
      }),
    ).toEqual(['r2', 'r3', 'r4', 'r5']);
    // The last record hidden: the member then holds more than the manifest says.
    expect(
      verified((m) => {
        const hidden = m.records.length.pop() ?? 0;
        for (const column of [m.records.id, m.records.customer_id, m.records.created_at]) column.pop();
        m.members.records[0] = (m.members.records[0] ?? 0) - 1;
        m.members.uncompressed_length[0] = (m.members.uncompressed_length[0] ?? 0) - hidden - 1;
        m.record_count -= 1;
      }),
    ).toEqual([]);
    // A creation time moved (which would let retention remove it early), or another customer named.
    expect(verified((m) => (m.records.created_at[3] = '2019-01-05T00:00:00.000Z'))).not.toContain('r3');
    expect(verified((m) => (m.records.customer_id[4] = 'someone else'))).not.toContain('r4');
  });

  it('refuses a format 2 manifest whose columns contradict each other or the segment', () => {
    const { manifestBytes } = build(lines);
    const stored = JSON.parse(gunzipSync(manifestBytes).toString()) as {
      bytes: number;
      members: { uncompressed_length: number[] };
      records: { id: string[]; length: number[] };
    };
    const parse = (change: (m: typeof stored) => void): SegmentManifest => {
      const copy = structuredClone(stored);
      change(copy);
      return parseManifest(gzipSync(JSON.stringify(copy)), 'm');
    };
    expect(() => parse((m) => m.records.id.pop())).toThrow(/record columns of different lengths/);
    expect(() => parse((m) => (m.bytes += 1))).toThrow(/members take/);
    expect(() => parse((m) => (m.records.length[0] = (m.records.length[0] ?? 0) + 1))).toThrow(
      /member 0 holds \d+ bytes but its records' lines take/,
    );
    expect(() => parse((m) => (m.members.uncompressed_length = [1]))).toThrow(/member columns/);
    expect(() => parseManifest(gzipSync('{'), 'm')).toThrow(/not a valid segment manifest/);
  });

  it('refuses a format 1 manifest of the wrong shape or that contradicts itself', () => {
    const { manifest: sealed } = build(lines.slice(0, 3));
    const manifest = {
      ...sealed,
      format: 'billing-archive.segment-manifest/1',
      members: sealed.members.map(({ sha256: _, ...member }) => member),
    };
    expect(() => parseManifest(Buffer.from('{'), 'm')).toThrow(/not a valid segment manifest/);
    expect(() => parseManifest(Buffer.from(JSON.stringify({ ...manifest, extra: 1 })), 'm')).toThrow(
      /unknown field 'extra'/,
    );
    expect(() => parseManifest(Buffer.from(JSON.stringify({ ...manifest, record_count: 4 })), 'm')).toThrow(
      /counts 4 records but lists 3/,
    );
    const moved = { ...manifest, records: manifest.records.map((r) => ({ ...r, member: 9 })) };
    expect(() => parseManifest(Buffer.from(JSON.stringify(moved)), 'm')).toThrow(/member 9/);
  });

  it('groups by creation month in UTC, and says when a time does not parse', () => {
    expect(creationMonth('2026-03-31T23:59:59.999Z')).toBe('2026-03');
    expect(creationMonth('2026-04-01T01:00:00+02:00')).toBe('2026-03');
    expect(creationMonth('0999-12-01T00:00:00.000Z')).toBe('0999-12');
    expect(creationMonth('not a date')).toBe('undated');
  });
});
