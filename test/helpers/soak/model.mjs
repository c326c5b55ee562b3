// The soak's model of what every record must hold: each record's history of writes, each with the
// client's view of its outcome, and the judgement of reads against it. Writes to one record are
// issued one at a time, except a racing pair, which share one If-Match and so may not both succeed.
//
// - An acknowledged write (2xx) is the record's content from its answer on.
// - A refused write (4xx) has no effect.
// - An ambiguous write (5xx, network error, timeout) may or may not have landed: from then on the
//   content it proposed and the content before it are both acceptable, and the record takes no
//   further writes, so nothing else becomes acceptable.
// - A read may return the content acknowledged before it began, or that of any write that was in
//   flight or acknowledged while it ran (the answer comes after the change is made).
import { parseJson } from './json.mjs';

/**
 * What a record holds: nothing (404), exactly the bytes of an answer, or a document known up to the
 * server-set timestamps named in `free` (what a write proposed before its answer came).
 * @typedef {{ kind: 'gone' }
 *   | { kind: 'exact', text: string }
 *   | { kind: 'like', doc: Record<string, unknown>, free: readonly string[] }} RecordState
 */

/** @typedef {{ kind: 'gone' } | { kind: 'doc', text: string }} Observed */

/**
 * @typedef {object} HistoryEntry
 * @property {string} label what the client sent, e.g. "update #123 (If-Match)"
 * @property {RecordState} state
 * @property {'pending' | 'acked' | 'refused' | 'ambiguous'} outcome
 * @property {string} answer status and error code, once answered
 * @property {number} begunMs milliseconds since the soak began
 * @property {number} endedMs
 * @property {number} ackSeq where its acknowledgement falls among all acknowledgements (0: none)
 */

/**
 * @typedef {object} Violation
 * @property {string} id
 * @property {string} what one sentence
 * @property {string} [observed] what was read, when a read is at fault
 * @property {number} atMs
 */

/** Both a state and an observation: the record is not there. @type {{ kind: 'gone' }} */
export const GONE = { kind: 'gone' };

/** @type {HistoryEntry} */
const NEVER_WRITTEN = {
  label: 'never written',
  state: GONE,
  outcome: 'acked',
  answer: '',
  begunMs: 0,
  endedMs: 0,
  ackSeq: 0,
};

/**
 * JSON with object keys sorted, at every level: documents compared regardless of key order.
 * @param {unknown} value
 * @returns {string}
 */
export function canonicalJson(value) {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const record = /** @type {Record<string, unknown>} */ (value);
    const fields = Object.keys(record)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`);
    return `{${fields.join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * @param {RecordState} state
 * @param {Observed} observed
 * @returns {boolean}
 */
export function stateMatches(state, observed) {
  if (state.kind === 'gone' || observed.kind === 'gone') return state.kind === observed.kind;
  if (state.kind === 'exact') return state.text === observed.text;
  const doc = /** @type {Record<string, unknown>} */ (parseJson(observed.text));
  for (const key of state.free) {
    const time = doc[key];
    if (typeof time !== 'string' || Number.isNaN(Date.parse(time))) return false;
  }
  /** @param {Record<string, unknown>} fields */
  const fixed = (fields) =>
    Object.fromEntries(Object.entries(fields).filter(([key]) => !state.free.includes(key)));
  return canonicalJson(fixed(doc)) === canonicalJson(fixed(state.doc));
}

/** @param {RecordState} state */
export function describeState(state) {
  switch (state.kind) {
    case 'gone':
      return 'absent (404)';
    case 'exact':
      return state.text;
    case 'like':
      return `${JSON.stringify(state.doc)} with any ${state.free.join(', ')}`;
  }
}

class Track {
  /** @type {HistoryEntry[]} */
  entries = [NEVER_WRITTEN];
  /** A write of the client's is in flight. */
  busy = false;
  /** An ambiguous write happened: no more writes, so its outcome stays one of two. */
  retired = false;

  /** The entry acknowledged last at or before `seq` (acknowledgement sequence numbers). */
  ackedAt(seq = Number.POSITIVE_INFINITY) {
    let latest = NEVER_WRITTEN;
    for (const entry of this.entries)
      if (entry.outcome === 'acked' && entry.ackSeq <= seq && entry.ackSeq >= latest.ackSeq) latest = entry;
    return latest;
  }
}

/**
 * A write begun on the model; settle it exactly once.
 * @typedef {{ id: string, entry: HistoryEntry }} Write
 */

export class RecordModel {
  /** @type {Map<string, Track>} */
  #tracks = new Map();
  #ackSeq = 0;
  #startedAt;
  /** @type {Violation[]} */
  violations = [];

  /** @param {() => number} [now] milliseconds, monotonic */
  constructor(now = () => performance.now()) {
    this.now = now;
    this.#startedAt = now();
  }

  /** @returns {number} milliseconds since the model was made */
  elapsed() {
    return Math.round(this.now() - this.#startedAt);
  }

  /** @param {string} id */
  #track(id) {
    let track = this.#tracks.get(id);
    if (!track) {
      track = new Track();
      this.#tracks.set(id, track);
    }
    return track;
  }

  /** @returns {string[]} every id the model has seen a write for */
  ids() {
    return [...this.#tracks.keys()];
  }

  /**
   * The record's content as last acknowledged: what writers base their next write on.
   * @param {string} id
   * @returns {RecordState}
   */
  current(id) {
    return this.#track(id).ackedAt().state;
  }

  /**
   * Takes the record for one write (or one racing pair) of the client's; false when another holds
   * it or an ambiguous write retired it.
   * @param {string} id
   */
  claim(id) {
    const track = this.#track(id);
    if (track.busy || track.retired) return false;
    track.busy = true;
    return true;
  }

  /** @param {string} id */
  release(id) {
    this.#track(id).busy = false;
  }

  /**
   * Whether the record still takes writes (no ambiguous write retired it).
   * @param {string} id
   */
  writable(id) {
    return !this.#track(id).retired;
  }

  /**
   * @param {string} id
   * @param {string} label
   * @param {RecordState} proposed what the write makes of the record, as far as known before its answer
   */
  beginWrite(id, label, proposed) {
    /** @type {HistoryEntry} */
    const entry = {
      label,
      state: proposed,
      outcome: 'pending',
      answer: '',
      begunMs: this.elapsed(),
      endedMs: 0,
      ackSeq: 0,
    };
    this.#track(id).entries.push(entry);
    /** @type {Write} */
    const write = { id, entry };
    return write;
  }

  /**
   * The write succeeded; `state` is its answer (exact bytes, or gone for a delete). An answer other
   * than what was proposed is itself a violation: the server stored something else.
   * @param {Write} write
   * @param {RecordState} state
   * @param {string} answer
   */
  acknowledge(write, state, answer) {
    const { entry } = write;
    const observed = state.kind === 'exact' ? { kind: 'doc', text: state.text } : { kind: 'gone' };
    if (!stateMatches(entry.state, /** @type {Observed} */ (observed)))
      this.#violate(
        write.id,
        `${entry.label} was acknowledged (${answer}) with other content than it wrote`,
        {
          observed: describeState(state),
        },
      );
    this.#ackSeq += 1;
    Object.assign(entry, { state, outcome: 'acked', answer, endedMs: this.elapsed(), ackSeq: this.#ackSeq });
  }

  /**
   * @param {Write} write
   * @param {string} answer
   */
  refuse(write, answer) {
    Object.assign(write.entry, { outcome: 'refused', answer, endedMs: this.elapsed() });
  }

  /**
   * @param {Write} write
   * @param {string} answer
   */
  leaveOpen(write, answer) {
    Object.assign(write.entry, { outcome: 'ambiguous', answer, endedMs: this.elapsed() });
    this.#track(write.id).retired = true;
  }

  /** @returns {number} the point a read begins at: it may not see content older than this */
  beginRead() {
    return this.#ackSeq;
  }

  /**
   * Judges one read of `id` begun at `from`; a read that no history explains is a violation.
   * @param {string} id
   * @param {number} from
   * @param {Observed} observed
   * @param {string} label
   */
  checkRead(id, from, observed, label) {
    const track = this.#track(id);
    const allowed = [
      track.ackedAt(from),
      ...track.entries.filter(
        (entry) =>
          entry.outcome === 'pending' ||
          entry.outcome === 'ambiguous' ||
          (entry.outcome === 'acked' && entry.ackSeq > from),
      ),
    ];
    if (allowed.some((entry) => stateMatches(entry.state, observed))) return true;
    this.#violate(id, `${label} read content that no write explains`, {
      observed: observed.kind === 'gone' ? 'absent (404)' : observed.text,
    });
    return false;
  }

  /**
   * Judges the final read of `id`, once every write has been answered: the last acknowledged
   * content, or that of an ambiguous write.
   * @param {string} id
   * @param {Observed} observed
   */
  checkFinal(id, observed) {
    const track = this.#track(id);
    const allowed = [track.ackedAt(), ...track.entries.filter((entry) => entry.outcome === 'ambiguous')];
    if (allowed.some((entry) => stateMatches(entry.state, observed))) return true;
    this.#violate(id, 'the final read differs from the last acknowledged write', {
      observed: observed.kind === 'gone' ? 'absent (404)' : observed.text,
    });
    return false;
  }

  /**
   * Whether the record must exist at the end (true), must not (false), or may either (undefined).
   * @param {string} id
   * @returns {boolean | undefined}
   */
  mustExist(id) {
    const track = this.#track(id);
    const kinds = new Set(
      [track.ackedAt(), ...track.entries.filter((entry) => entry.outcome === 'ambiguous')].map(
        (entry) => entry.state.kind === 'gone',
      ),
    );
    return kinds.size === 2 ? undefined : !kinds.has(true);
  }

  /**
   * A violation found outside a read (e.g. two racing writes both acknowledged).
   * @param {string} id
   * @param {string} what
   */
  report(id, what) {
    this.#violate(id, what, {});
  }

  /**
   * Every write to `id`, in the order begun, for a violation's report.
   * @param {string} id
   * @returns {string[]}
   */
  history(id) {
    return this.#track(id).entries.map((entry) =>
      entry === NEVER_WRITTEN
        ? 'never written'
        : `${entry.begunMs}–${entry.endedMs} ms ${entry.label}: ${entry.outcome}${entry.answer ? ` (${entry.answer})` : ''} → ${describeState(entry.state)}`,
    );
  }

  /**
   * @param {string} id
   * @param {string} what
   * @param {{ observed?: string }} detail
   */
  #violate(id, what, detail) {
    this.violations.push({ id, what, ...detail, atMs: this.elapsed() });
  }
}
