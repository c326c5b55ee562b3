import { Type, type Static } from 'typebox';
import { IntegrityError } from './errors.js';
import { compileAssert } from './schema-validator.js';

/**
 * Where `index migrate` stands, kept in the archive store beside the blob-native index so that a
 * killed migration resumes where it stopped. Checkpoints are create-only and numbered: the newest
 * is the state, and each one written lets the one before it go.
 */
export const INDEX_MIGRATION_FORMAT = 'billing-archive.index-migration/1';
export const INDEX_MIGRATION_PREFIX = 'index/migration/';
const SEQUENCE_DIGITS = 12;
const CHECKPOINT_NAME = new RegExp(`^${INDEX_MIGRATION_PREFIX}(\\d{${SEQUENCE_DIGITS}})\\.json$`);

const TallySchema = Type.Object(
  {
    examined: Type.Integer({ minimum: 0 }),
    copied: Type.Integer({ minimum: 0 }),
    withdrawn: Type.Integer({ minimum: 0 }),
    kept: Type.Integer({ minimum: 0 }),
    /** Blob index files and roots an abandon pass removed. */
    removed: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);

const CheckpointSchema = Type.Object(
  {
    format: Type.Literal(INDEX_MIGRATION_FORMAT),
    sequence: Type.Integer({ minimum: 0 }),
    /** The source index's kind: `cosmos` or `sqlite`. */
    source: Type.String({ minLength: 1 }),
    /**
     * A sync pass makes the blob index a copy of the source; a finish pass, after the switch, takes
     * over only what processes still on the source withdrew since. A pass walks the source index in
     * id order (stage `source`), then the blob index (`target`). An abandon pass, before any finish,
     * gives the source what processes on the blob index withdrew (stage `source`), then removes the
     * blob index (`target`): the archive is the source's again, as if no migration had begun.
     */
    pass: Type.Union([Type.Literal('sync'), Type.Literal('finish'), Type.Literal('abandon')]),
    stage: Type.Union([Type.Literal('source'), Type.Literal('target'), Type.Literal('done')]),
    /** A finish's second walk of the blob index (stage `target`), once the first is done. */
    sweep: Type.Optional(Type.Literal(2)),
    /** The last id the stage finished with; null at the stage's start. */
    after_id: Type.Union([Type.String(), Type.Null()]),
    pass_started_at: Type.String(),
    /**
     * The blob index's newest root when this checkpoint was written: a later sync pass that finds
     * another knows a process on the blob index changed it, and refuses to undo that.
     */
    blob_root: Type.Union([Type.String(), Type.Null()]),
    /** When the newest finished sync pass began; null before one finished (a finish needs one). */
    synced_from: Type.Union([Type.String(), Type.Null()]),
    tally: TallySchema,
  },
  { additionalProperties: false },
);

export type MigrationCheckpoint = Static<typeof CheckpointSchema>;
export type MigrationTally = Static<typeof TallySchema>;
export type MigrationPass = MigrationCheckpoint['pass'];

const assertCheckpoint: (value: unknown) => asserts value is MigrationCheckpoint = compileAssert(
  CheckpointSchema,
  'checkpoint',
);

export function emptyTally(): MigrationTally {
  return { examined: 0, copied: 0, withdrawn: 0, kept: 0 };
}

export function checkpointName(sequence: number): string {
  return `${INDEX_MIGRATION_PREFIX}${String(sequence).padStart(SEQUENCE_DIGITS, '0')}.json`;
}

/** The checkpoint's sequence number, or undefined when the name is not a checkpoint's. */
export function sequenceOfCheckpointName(name: string): number | undefined {
  const match = CHECKPOINT_NAME.exec(name);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

export function encodeCheckpoint(checkpoint: MigrationCheckpoint): Buffer {
  return Buffer.from(`${JSON.stringify(checkpoint)}\n`);
}

export function parseCheckpoint(bytes: Buffer, name: string): MigrationCheckpoint {
  let checkpoint: unknown;
  try {
    checkpoint = JSON.parse(bytes.toString('utf8')) as unknown;
    assertCheckpoint(checkpoint);
  } catch (error) {
    throw new IntegrityError(
      `index migration checkpoint ${name} is not one: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  if (sequenceOfCheckpointName(name) !== checkpoint.sequence)
    throw new IntegrityError(`index migration checkpoint ${name} says it is number ${checkpoint.sequence}`);
  return checkpoint;
}
