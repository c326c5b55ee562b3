// The concurrency soak, shared by bench/soak.mjs and test/system/soak.test.ts: the built server
// over HTTP on real stores, with writers (create, update, delete, racing conditional pairs),
// readers (get, list), restores, archival runs (older_than_days 0: every record untouched since the
// run began is eligible, so records cycle live → archived → live), compaction and verify (the CLI)
// all at once. Every answer goes through the model (model.mjs); when the load stops, the final
// check (final-check.mjs) reads everything back.
import { setTimeout as sleep } from 'node:timers/promises';
import pMap from 'p-map';
import { Api } from './api.mjs';
import { finalCheck, verifyFailure } from './final-check.mjs';
import { GONE, RecordModel } from './model.mjs';
import { createKey, runCli, startServer } from './processes.mjs';
import { Tally } from './tally.mjs';
import { parseJson } from './json.mjs';

/** @typedef {import('./api.mjs').Answer} Answer */
/** @typedef {import('./model.mjs').RecordState} RecordState */
/** @typedef {import('./model.mjs').Write} Write */
/** @typedef {import('./tally.mjs').KindFigures} KindFigures */
/** @typedef {import('./final-check.mjs').FinalFigures} FinalFigures */

/**
 * @typedef {object} SoakOptions
 * @property {Record<string, string>} env the stores' environment: DATA_DIR, or the Azure variables
 * @property {string} serverPath the built server (dist/server.js)
 * @property {string} cliPath the built CLI (dist/cli.js)
 * @property {number} durationMs the soak: everything at once
 * @property {number} [baselineMs] before it, writers and readers alone, to compare against; 0 skips it
 * @property {number} [writers] concurrent writers; 4
 * @property {number} [readers] concurrent readers; 2
 * @property {number} [restorers] concurrent restorers (in the soak, not the baseline); 2
 * @property {number} [population] records the writers keep about (creating more while fewer exist); 2000
 * @property {number} [seedRecords] records created and archived before the load, so restores and
 *   compaction have work from the start; 200
 * @property {number} [compactEveryMs] pause between compactions (and verifies); 3000
 * @property {number} [verifyEveryMs] pause between verifies under load; 20000
 * @property {(line: string) => void} [progress]
 */

/**
 * @typedef {object} PhaseFigures
 * @property {string} name
 * @property {number} seconds
 * @property {KindFigures[]} kinds
 */

/**
 * @typedef {object} BackgroundFigures
 * @property {number} runs archival runs that ran (not refused for a held lock)
 * @property {number} archived records they archived
 * @property {number} skipped records they left live because they changed meanwhile
 * @property {number} compactions compactions that ran
 * @property {number} compactionsThatMoved of which moved at least one record
 * @property {number} recordsMoved
 * @property {number} segmentsCompacted
 * @property {number} verifies verifies that ran under load
 */

/**
 * @typedef {object} SoakResult
 * @property {PhaseFigures[]} phases
 * @property {BackgroundFigures} background
 * @property {FinalFigures} final
 * @property {string[]} serverLog warnings and errors the server logged, with counts
 * @property {{ ok: boolean, problems: string[], violations: string[], violationCount: number }} check
 *   violations: the first few described in full, with their records' histories
 */

const DAY_MS = 24 * 60 * 60 * 1000;
const CURRENCIES = ['EUR', 'USD', 'GBP', 'CHF', 'SEK'];
const STATUSES = ['pending', 'paid', 'overdue', 'cancelled', 'refunded'];
const DUE_DATES = [null, '2026-12-31', '2027-01-15T17:00:00+01:00'];
const SERVER_DIED = 'the server process exited during the soak';
/** Violations printed in full; the count is always complete. */
const SHOWN_VIOLATIONS = 10;

/** @param {number} below */
const randomInt = (below) => Math.floor(Math.random() * below);
/**
 * @template T
 * @param {readonly T[]} items
 * @returns {T}
 */
const pickOne = (items) => /** @type {T} */ (items[randomInt(items.length)]);

/** Ids with O(1) add, remove and random pick. */
class IdPool {
  /** @type {string[]} */
  #ids = [];
  /** @type {Map<string, number>} */
  #at = new Map();

  get size() {
    return this.#ids.length;
  }

  /** @param {string} id */
  add(id) {
    if (this.#at.has(id)) return;
    this.#at.set(id, this.#ids.length);
    this.#ids.push(id);
  }

  /** @param {string} id */
  remove(id) {
    const at = this.#at.get(id);
    if (at === undefined) return;
    const last = /** @type {string} */ (this.#ids.pop());
    if (last !== id) {
      this.#ids[at] = last;
      this.#at.set(last, at);
    }
    this.#at.delete(id);
  }

  random() {
    return this.#ids.length === 0 ? undefined : pickOne(this.#ids);
  }
}

/**
 * @param {string} id
 * @param {number} n
 */
function newRecordBody(id, n) {
  const createdMs = Date.now() - (100 + Math.random() * 90) * DAY_MS;
  return {
    id,
    customer_id: `cust-${randomInt(50)}`,
    amount: randomInt(10_000_000) / 100,
    currency: pickOne(CURRENCIES),
    status: pickOne(STATUSES),
    description: `soak write ${n}: Rechnung für Müller & Söhne, ${randomInt(1_000_000)}`,
    due_date: pickOne(DUE_DATES),
    created_at: new Date(createdMs).toISOString(),
    ...(Math.random() < 0.3 && { metadata: newMetadata() }),
  };
}

function newMetadata() {
  return { po: `PO-${randomInt(100_000)}`, lines: [{ sku: `SKU-${randomInt(100)}`, qty: randomInt(9) + 1 }] };
}

/**
 * A PUT body: the record as read, with changes (metadata sometimes dropped or replaced).
 * @param {Record<string, unknown>} base
 * @param {number} n
 */
function changedBody(base, n) {
  /** @type {Record<string, unknown>} */
  const next = {
    ...base,
    amount: randomInt(10_000_000) / 100,
    status: pickOne(STATUSES),
    description: `soak write ${n}: geändert`,
  };
  const roll = Math.random();
  if (roll < 0.15) delete next.metadata;
  else if (roll < 0.3) next.metadata = newMetadata();
  return next;
}

/**
 * @param {SoakOptions} options
 * @returns {Promise<SoakResult>}
 */
export async function runSoak(options) {
  const say = options.progress ?? (() => undefined);
  const roles = /** @type {const} */ (['reader', 'writer', 'operator', 'admin']);
  const keys = await Promise.all(roles.map((role) => createKey(options.cliPath, `soak-${role}`, role)));
  const apiKeys = keys.map(({ entry }) => entry).join(',');
  const cliEnv = { ...options.env, LOG_LEVEL: 'warn' };
  const server = await startServer(options.serverPath, { ...options.env, API_KEYS: apiKeys });
  const api = new Api(
    server.base,
    /** @type {Record<import('./api.mjs').Role, string>} */ (
      Object.fromEntries(roles.map((role, i) => [role, keys[i]?.key ?? '']))
    ),
  );
  const soak = new Soak(api, options, cliEnv, server.running);
  try {
    /** @type {PhaseFigures[]} */
    const phases = [];
    const seeded = options.seedRecords ?? 200;
    say(`seeding: ${seeded} records created and archived`);
    await soak.seed(seeded);
    const baselineMs = options.baselineMs ?? 0;
    if (baselineMs > 0) {
      say(`baseline: writers and readers alone for ${Math.round(baselineMs / 1000)} s`);
      phases.push(await soak.phase('baseline', baselineMs, false));
    }
    say(`soak: everything at once for ${Math.round(options.durationMs / 1000)} s`);
    phases.push(await soak.phase('soak', options.durationMs, true));
    say('load stopped: final archival run, reading every record back, verify');
    const final = await finalCheck({
      api,
      model: soak.model,
      problems: soak.problems,
      verify: () => runCli(options.cliPath, ['verify'], cliEnv),
    });
    const exitCode = await server.stop();
    if (exitCode !== 0) soak.problems.push(`the server exited with ${String(exitCode)} on SIGTERM`);
    const violations = soak.describeViolations();
    return {
      phases,
      background: soak.background,
      final,
      serverLog: [...server.logged].map(([message, count]) => `${count}× ${message}`),
      check: {
        ok: soak.problems.length === 0 && soak.model.violations.length === 0,
        problems: soak.problems,
        violations,
        violationCount: soak.model.violations.length,
      },
    };
  } finally {
    await server.stop();
  }
}

class Soak {
  model = new RecordModel();
  /**
   * Failures of the check other than the model's violations, one sentence each.
   * @type {string[]}
   */
  problems = [];
  /** @type {BackgroundFigures} */
  background = {
    runs: 0,
    archived: 0,
    skipped: 0,
    compactions: 0,
    compactionsThatMoved: 0,
    recordsMoved: 0,
    segmentsCompacted: 0,
    verifies: 0,
  };
  /**
   * Archival runs, compactions and verifies with their times, to set beside a violation.
   * @type {{ what: string, begunMs: number, endedMs: number }[]}
   */
  timeline = [];
  live = new IdPool();
  gone = new IdPool();
  /**
   * Every id ever written, for readers.
   * @type {string[]}
   */
  everyId = [];
  writes = 0;
  /**
   * Unexpected answers by kind and answer, so one cause is one problem with a count.
   * @type {Map<string, number>}
   */
  unexpected = new Map();
  tally = new Tally();
  /** A maintenance command (compact, verify) is running: no archival run starts meanwhile. */
  archivalWaits = false;
  /** When verify last ran under load (or the phase began). */
  verifiedAtMs = 0;
  /**
   * The next cursor of GET /billing by its filters, so readers page on while records move.
   * @type {Map<string, string>}
   */
  #cursors = new Map();

  /**
   * @param {Api} api
   * @param {SoakOptions} options
   * @param {Record<string, string>} cliEnv
   * @param {() => boolean} serverRunning
   */
  constructor(api, options, cliEnv, serverRunning) {
    this.api = api;
    this.options = options;
    this.cliEnv = cliEnv;
    this.serverRunning = serverRunning;
    this.population = options.population ?? 2000;
  }

  /**
   * Creates `count` records and archives them, outside any phase's figures.
   * @param {number} count
   */
  async seed(count) {
    this.tally = new Tally();
    await pMap(Array.from({ length: count }), () => this.#create(`inv-${this.everyId.length}`, 'create'), {
      concurrency: 8,
    });
    for (;;) {
      const answer = await this.api.request('admin', 'POST', '/archive/sync', {
        body: { older_than_days: 0 },
        timeoutMs: 10 * 60_000,
      });
      if (answer.status === 200) return;
      if (answer.status !== 409) {
        this.problems.push(`the seeding archival run answered ${answer.label}: ${answer.text.slice(0, 300)}`);
        return;
      }
      await sleep(500);
    }
  }

  /**
   * @param {string} name
   * @param {number} ms
   * @param {boolean} everything false: writers and readers only
   * @returns {Promise<PhaseFigures>}
   */
  async phase(name, ms, everything) {
    this.tally = new Tally();
    const stop = new AbortController();
    const { signal } = stop;
    /** @type {Promise<void>[]} */
    const workers = [];
    for (let i = 0; i < (this.options.writers ?? 4); i++)
      workers.push(this.#repeat(signal, () => this.#write()));
    for (let i = 0; i < (this.options.readers ?? 2); i++)
      workers.push(this.#repeat(signal, () => this.#read()));
    if (everything) {
      for (let i = 0; i < (this.options.restorers ?? 2); i++)
        workers.push(this.#repeat(signal, () => this.#restore()));
      workers.push(this.#repeat(signal, () => this.#archive(signal)));
      workers.push(this.#repeat(signal, () => this.#maintain(signal)));
    }
    const started = performance.now();
    this.verifiedAtMs = this.model.elapsed();
    const timer = setTimeout(() => {
      stop.abort();
    }, ms);
    try {
      await Promise.all(workers);
    } finally {
      clearTimeout(timer);
    }
    const seconds = Math.min(ms, performance.now() - started) / 1000;
    this.#noteUnexpected();
    return { name, seconds, kinds: this.tally.figures(seconds) };
  }

  /**
   * @param {AbortSignal} signal
   * @param {() => Promise<void>} step
   */
  async #repeat(signal, step) {
    while (!signal.aborted) {
      if (!this.serverRunning()) {
        if (!this.problems.includes(SERVER_DIED)) this.problems.push(SERVER_DIED);
        return;
      }
      await step();
    }
  }

  // Writers.

  async #write() {
    const weights = /** @type {const} */ ([
      ['create', this.live.size < this.population ? 6 : 1],
      ['recreate', this.gone.size > 0 ? 1 : 0],
      ['update', 6],
      ['update if-match', 2],
      ['delete', 1],
      ['delete if-match', 1],
      ['race', 2],
    ]);
    const total = weights.reduce((sum, [, weight]) => sum + weight, 0);
    let roll = Math.random() * total;
    const [choice] = weights.find(([, weight]) => (roll -= weight) < 0) ?? weights[0];
    const id = choice === 'create' ? undefined : this.#claim(choice === 'recreate' ? this.gone : this.live);
    if (id === undefined) {
      await this.#create(`inv-${this.everyId.length}`, 'create');
      return;
    }
    try {
      if (choice === 'recreate') await this.#create(id, 'recreate');
      else if (choice === 'update') await this.#update(id, undefined);
      else if (choice === 'delete') await this.#delete(id, undefined);
      else {
        const read = await this.#checkedGet(id, `${choice} read`);
        if (read === undefined) return;
        if (choice === 'update if-match') await this.#update(id, read);
        else if (choice === 'delete if-match') await this.#delete(id, read.etag);
        else await this.#race(id, read);
      }
    } finally {
      this.model.release(id);
    }
  }

  /**
   * A random id of `pool` that no other write holds, claimed; undefined when none was found.
   * @param {IdPool} pool
   */
  #claim(pool) {
    for (let tries = 0; tries < 8; tries++) {
      const id = pool.random();
      if (id !== undefined && this.model.claim(id)) return id;
    }
    return undefined;
  }

  /**
   * @param {string} id a new id (claimed here) or a deleted one (claimed by the caller)
   * @param {'create' | 'recreate'} kind
   */
  async #create(id, kind) {
    if (kind === 'create') {
      this.everyId.push(id);
      this.model.claim(id);
    }
    const n = ++this.writes;
    const body = newRecordBody(id, n);
    const write = this.model.beginWrite(id, `${kind} #${n}`, {
      kind: 'like',
      doc: { ...body, updated_at: body.created_at },
      free: [],
    });
    const answer = await this.api.request('writer', 'POST', '/billing', { body });
    this.#settle(kind, write, answer, { kind: 'exact', text: answer.text });
    if (answer.label === '409 duplicate_id')
      this.model.report(id, `${kind} #${n} was refused as a duplicate of a record that does not exist`);
    if (kind === 'create') this.model.release(id);
  }

  /**
   * @param {string} id
   * @param {{ text: string, etag: string | undefined } | undefined} read the read an If-Match comes from; none: unconditional
   */
  async #update(id, read) {
    const base = this.#baseOf(id, read);
    if (base === undefined) return;
    const n = ++this.writes;
    const body = changedBody(base, n);
    const kind = read ? 'update if-match' : 'update';
    const write = this.model.beginWrite(
      id,
      `${kind} #${n}${read ? ` (If-Match ${String(read.etag)})` : ''}`,
      {
        kind: 'like',
        doc: body,
        free: ['updated_at'],
      },
    );
    const answer = await this.api.request('writer', 'PUT', `/billing/${id}`, {
      body,
      ...(read?.etag !== undefined && { ifMatch: read.etag }),
    });
    this.#settle(kind, write, answer, { kind: 'exact', text: answer.text });
    if (answer.status === 404) this.model.report(id, `${kind} #${n} answered 404 for a record that exists`);
  }

  /**
   * @param {string} id
   * @param {string | undefined} ifMatch
   */
  async #delete(id, ifMatch) {
    const n = ++this.writes;
    const kind = ifMatch ? 'delete if-match' : 'delete';
    const write = this.model.beginWrite(id, `${kind} #${n}${ifMatch ? ` (If-Match ${ifMatch})` : ''}`, GONE);
    const answer = await this.api.request('writer', 'DELETE', `/billing/${id}`, {
      ...(ifMatch !== undefined && { ifMatch }),
    });
    this.#settle(kind, write, answer, GONE);
    if (answer.status === 404) this.model.report(id, `${kind} #${n} answered 404 for a record that exists`);
  }

  /**
   * Two writes with the same If-Match at once (update and update, or update and delete): at most one
   * may succeed.
   * @param {string} id
   * @param {{ text: string, etag: string | undefined }} read
   */
  async #race(id, read) {
    const base = this.#baseOf(id, read);
    if (base === undefined || read.etag === undefined) return;
    const ifMatch = read.etag;
    const n = ++this.writes;
    const first = changedBody(base, n);
    const second = Math.random() < 0.5 ? changedBody(base, n) : undefined;
    const writes = [
      this.model.beginWrite(id, `race #${n}: update A (If-Match ${ifMatch})`, {
        kind: 'like',
        doc: first,
        free: ['updated_at'],
      }),
      second
        ? this.model.beginWrite(id, `race #${n}: update B (If-Match ${ifMatch})`, {
            kind: 'like',
            doc: second,
            free: ['updated_at'],
          })
        : this.model.beginWrite(id, `race #${n}: delete (If-Match ${ifMatch})`, GONE),
    ];
    const answers = await Promise.all([
      this.api.request('writer', 'PUT', `/billing/${id}`, { body: first, ifMatch }),
      second
        ? this.api.request('writer', 'PUT', `/billing/${id}`, { body: second, ifMatch })
        : this.api.request('writer', 'DELETE', `/billing/${id}`, { ifMatch }),
    ]);
    answers.forEach((answer, i) => {
      const write = /** @type {Write} */ (writes[i]);
      const isDelete = i === 1 && !second;
      this.#settle(
        isDelete ? 'race delete' : 'race update',
        write,
        answer,
        isDelete
          ? GONE
          : {
              kind: 'exact',
              text: answer.text,
            },
      );
    });
    const won = answers.filter((answer) => answer.status >= 200 && answer.status < 300).length;
    this.tally.add('race pair', `${won} of 2 succeeded`, Math.max(...answers.map((answer) => answer.ms)));
    if (won === 2)
      this.model.report(id, `both writes of race #${n} succeeded, each with If-Match ${ifMatch}`);
    // Only the pair's own delete, once it succeeded, may make the other write find nothing.
    const deleted = !second && answers[1].status >= 200 && answers[1].status < 300;
    if (!deleted && answers.some((answer) => answer.status === 404))
      this.model.report(id, `race #${n} answered 404 for a record that exists`);
  }

  /**
   * The document a write starts from: the read's, or the model's last acknowledged one.
   * @param {string} id
   * @param {{ text: string } | undefined} read
   * @returns {Record<string, unknown> | undefined}
   */
  #baseOf(id, read) {
    if (read) return /** @type {Record<string, unknown>} */ (parseJson(read.text));
    const current = this.model.current(id);
    return current.kind === 'exact'
      ? /** @type {Record<string, unknown>} */ (parseJson(current.text))
      : undefined;
  }

  /**
   * Records a write's answer: 2xx acknowledged, 4xx refused, anything else ambiguous.
   * @param {string} kind
   * @param {Write} write
   * @param {Answer} answer
   * @param {RecordState} acked the record's content if the write succeeded
   */
  #settle(kind, write, answer, acked) {
    this.tally.add(kind, answer.label, answer.ms);
    this.#judgeStatus(kind, answer);
    if (answer.status >= 200 && answer.status < 300) this.model.acknowledge(write, acked, answer.label);
    else if (answer.status >= 400 && answer.status < 500) this.model.refuse(write, answer.label);
    else this.model.leaveOpen(write, answer.label);
    const { id } = write;
    this.live.remove(id);
    this.gone.remove(id);
    if (!this.model.writable(id)) return;
    if (this.model.current(id).kind === 'gone') this.gone.add(id);
    else this.live.add(id);
  }

  // Restores and reads.

  /**
   * Restores a few of a page of archived records, as an operator would pick them from
   * GET /archive/records.
   */
  async #restore() {
    const query = new URLSearchParams({ limit: '20' });
    if (Math.random() < 0.7 && this.everyId.length > 0) query.set('after', pickOne(this.everyId));
    const answer = await this.api.request('reader', 'GET', `/archive/records?${query.toString()}`);
    this.tally.add('archive list', answer.label, answer.ms);
    this.#judgeStatus('archive list', answer);
    const page =
      answer.status === 200 ? /** @type {{ items: { id: string }[] }} */ (parseJson(answer.text)).items : [];
    if (page.length === 0) {
      // Past the last archived id, or nothing archived yet.
      if (!query.has('after')) await sleep(100);
      return;
    }
    const ids = page.map((entry) => entry.id);
    for (let i = 0; i < 5 && ids.length > 0; i++) {
      const id = /** @type {string} */ (ids.splice(randomInt(ids.length), 1)[0]);
      if (!this.model.claim(id)) continue;
      try {
        await this.#restoreOne(id);
      } finally {
        this.model.release(id);
      }
    }
  }

  /** @param {string} id claimed by the caller */
  async #restoreOne(id) {
    const base = this.#baseOf(id, undefined);
    if (base === undefined) return;
    const n = ++this.writes;
    const write = this.model.beginWrite(id, `restore #${n}`, {
      kind: 'like',
      doc: { ...base, restored_at: '' },
      free: ['restored_at'],
    });
    const answer = await this.api.request('operator', 'POST', `/restore/${id}`);
    this.#settle('restore', write, answer, { kind: 'exact', text: answer.text });
    if (answer.status === 404) this.model.report(id, `restore #${n} answered 404 for a record that exists`);
  }

  async #read() {
    if (this.everyId.length === 0) {
      await sleep(20);
      return;
    }
    if (Math.random() < 0.85) {
      await this.#checkedGet(pickOne(this.everyId), 'get');
      return;
    }
    const from = this.model.beginRead();
    const query = new URLSearchParams({ limit: '50' });
    if (Math.random() < 0.2) query.set('customer_id', `cust-${randomInt(50)}`);
    // A later page: from the cursor of a page this worker read before, with the same filters.
    const cursor = this.#cursors.get(query.toString());
    if (cursor !== undefined && Math.random() < 0.7) query.set('cursor', cursor);
    const filters = new URLSearchParams(query);
    filters.delete('cursor');
    const answer = await this.api.request('reader', 'GET', `/billing?${query.toString()}`);
    this.tally.add('list', answer.label, answer.ms);
    this.#judgeStatus('list', answer);
    if (answer.status !== 200) return;
    const page =
      /** @type {{ items: { record?: Record<string, unknown> }[], next_cursor: string | null }} */ (
        parseJson(answer.text)
      );
    if (page.next_cursor === null) this.#cursors.delete(filters.toString());
    else this.#cursors.set(filters.toString(), page.next_cursor);
    for (const { record } of page.items)
      if (record)
        this.model.checkRead(String(record.id), from, { kind: 'doc', text: JSON.stringify(record) }, 'list');
  }

  /**
   * GET one record and judge it; the read when it found the record as the model allows.
   * @param {string} id
   * @param {string} kind
   * @returns {Promise<{ text: string, etag: string | undefined } | undefined>}
   */
  async #checkedGet(id, kind) {
    const from = this.model.beginRead();
    const answer = await this.api.request('reader', 'GET', `/billing/${id}`);
    this.tally.add(kind, answer.label, answer.ms);
    this.#judgeStatus(kind, answer);
    if (answer.status === 404) this.model.checkRead(id, from, GONE, kind);
    if (answer.status !== 200) return undefined;
    const fits = this.model.checkRead(id, from, { kind: 'doc', text: answer.text }, kind);
    return fits ? { text: answer.text, etag: answer.etag } : undefined;
  }

  // Archival runs, compaction and verify.

  /** @param {AbortSignal} signal */
  async #archive(signal) {
    while (this.archivalWaits && !signal.aborted) await pause(100, signal);
    if (signal.aborted) return;
    const begunMs = this.model.elapsed();
    const answer = await this.api.request('admin', 'POST', '/archive/sync', {
      body: { older_than_days: 0 },
      timeoutMs: 10 * 60_000,
    });
    this.tally.add('archive run', answer.label, answer.ms);
    this.#judgeStatus('archive run', answer);
    if (answer.status === 200) {
      const run =
        /** @type {{ run_id: string, status: string, archived: number, skipped: number, errors?: unknown }} */ (
          parseJson(answer.text)
        );
      this.background.runs += 1;
      this.background.archived += run.archived;
      this.background.skipped += run.skipped;
      this.timeline.push({
        what: `archival run ${run.run_id}: ${run.archived} archived`,
        begunMs,
        endedMs: this.model.elapsed(),
      });
      if (run.status !== 'succeeded')
        this.problems.push(`archival run ${run.run_id} ended ${run.status}: ${JSON.stringify(run.errors)}`);
    }
    await pause(200 + randomInt(600), signal);
  }

  /**
   * Compaction every so often, and verify less often, one after the other (each takes every
   * archival lock), through the CLI.
   * @param {AbortSignal} signal
   */
  async #maintain(signal) {
    await pause(this.options.compactEveryMs ?? 3000, signal);
    const compaction = await this.#maintenance(['compact', '--min-dead-share', '0.3'], signal);
    if (compaction) this.#compacted(compaction.result, compaction.begunMs);
    if (signal.aborted || this.model.elapsed() - this.verifiedAtMs < (this.options.verifyEveryMs ?? 20_000))
      return;
    this.verifiedAtMs = this.model.elapsed();
    const verification = await this.#maintenance(['verify'], signal);
    if (verification) this.#verified(verification.result, verification.begunMs);
  }

  /**
   * Runs one CLI command that takes the archival locks. Runs follow each other closely, so none
   * starts while the command runs; one already in flight may still hold the lock when the command
   * asks for it (exit 3), and the command tries again, three times at most.
   * @param {string[]} args
   * @param {AbortSignal} signal
   * @returns {Promise<{ result: import('./processes.mjs').CliResult, begunMs: number } | undefined>}
   */
  async #maintenance(args, signal) {
    const kind = args[0] ?? '';
    this.archivalWaits = true;
    try {
      for (let attempt = 0; attempt < 3 && !signal.aborted; attempt++) {
        const begunMs = this.model.elapsed();
        const result = await runCli(this.options.cliPath, args, this.cliEnv);
        this.tally.add(kind, exitLabel(result.code), this.model.elapsed() - begunMs);
        if (result.code !== 3) return { result, begunMs };
      }
      return undefined;
    } finally {
      this.archivalWaits = false;
    }
  }

  /**
   * @param {import('./processes.mjs').CliResult} result
   * @param {number} begunMs
   */
  #compacted(result, begunMs) {
    if (result.code !== 0) {
      this.problems.push(`compact exited with ${String(result.code)}: ${result.stderr.slice(0, 500)}`);
      return;
    }
    const report = /** @type {{ records_moved: number, segments_compacted: number, skipped: unknown[] }} */ (
      parseJson(result.stdout)
    );
    this.background.compactions += 1;
    this.background.recordsMoved += report.records_moved;
    this.background.segmentsCompacted += report.segments_compacted;
    if (report.records_moved > 0) this.background.compactionsThatMoved += 1;
    if (report.skipped.length > 0)
      this.problems.push(`compact skipped segments: ${JSON.stringify(report.skipped).slice(0, 500)}`);
    this.timeline.push({
      what: `compaction: ${report.segments_compacted} segments, ${report.records_moved} records moved`,
      begunMs,
      endedMs: this.model.elapsed(),
    });
  }

  /**
   * @param {import('./processes.mjs').CliResult} result
   * @param {number} begunMs
   */
  #verified(result, begunMs) {
    this.background.verifies += 1;
    this.timeline.push({
      what: `verify (exit ${String(result.code)})`,
      begunMs,
      endedMs: this.model.elapsed(),
    });
    const failure = verifyFailure(result);
    if (failure) this.problems.push(`under load, ${failure}`);
  }

  /**
   * Answers that say the server or the workload is broken: any 5xx but 503 (a store that stayed
   * unavailable), a refused request (400, 401, 403, 413: the workload sends only valid ones), 410
   * (an archived blob gone) and 202 (no tier here needs rehydrating).
   * @param {string} kind
   * @param {Answer} answer
   */
  #judgeStatus(kind, answer) {
    const { status } = answer;
    const broken =
      [400, 401, 403, 405, 410, 413, 415, 202].includes(status) || (status >= 500 && status !== 503);
    if (!broken) return;
    const key = `${kind} answered ${answer.label}`;
    const seen = (this.unexpected.get(key) ?? 0) + 1;
    this.unexpected.set(key, seen);
    if (seen === 1) this.problems.push(`${key}: ${answer.text.slice(0, 300)}`);
  }

  #noteUnexpected() {
    for (const [key, count] of this.unexpected)
      if (count > 1) this.problems.push(`${key} ${count} times in all`);
    this.unexpected.clear();
  }

  /** Each violation with its record's whole history and the background work beside it. */
  describeViolations() {
    return this.model.violations.slice(0, SHOWN_VIOLATIONS).map((violation) => {
      const history = this.model.history(violation.id);
      const since = Math.max(0, violation.atMs - 10_000);
      const beside = this.timeline
        .filter((event) => event.endedMs >= since && event.begunMs <= violation.atMs)
        .map((event) => `    ${event.begunMs}–${event.endedMs} ms ${event.what}`);
      return [
        `${violation.id} at ${violation.atMs} ms: ${violation.what}`,
        ...(violation.observed !== undefined ? [`  observed: ${violation.observed}`] : []),
        '  history:',
        ...history.map((line) => `    ${line}`),
        '  background work in the 10 s before:',
        ...beside,
      ].join('\n');
    });
  }
}

/** @param {number | null} code */
function exitLabel(code) {
  return code === 0 ? 'exit 0' : code === 3 ? 'exit 3 (lock held)' : `exit ${String(code)}`;
}

/**
 * Waits, unless the load stops first.
 * @param {number} ms
 * @param {AbortSignal} signal
 */
async function pause(ms, signal) {
  try {
    await sleep(ms, undefined, { signal });
  } catch {
    // Stopped: the caller's loop ends.
  }
}
