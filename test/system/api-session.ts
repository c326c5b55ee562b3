import { STATUS_CODES } from 'node:http';
import { isDeepStrictEqual } from 'node:util';
import { compareCreation } from '../../src/domain/creation-order.js';
import type { RawAnswer, RawHttpClient, RawRequest } from '../helpers/raw-http.js';
import { TEST_KEYS } from '../helpers/keys.js';
import {
  createdAtText,
  DAY_MS,
  STATUSES,
  type Body,
  type Command,
  type CreatedAt,
  type ListQuery,
  type Who,
} from './api-commands.js';
import {
  archiveStep,
  bodyVerdict,
  codePoints,
  createdMs,
  idOf,
  judge,
  lastTouch,
  linearizations,
  NOTHING,
  sha256Hex,
  sweepStep,
  type IdState,
  type Outcome,
  type RaceStep,
  type Sent,
  type Single,
} from './api-model.js';

/** The server's configuration the model relies on. */
export const SERVER_SETTINGS = { archivalDaysThreshold: 90, retentionDays: 2555 };

/** Requests sent, by why: the generated commands, and the reads that check the stores against the model. */
export interface Counts {
  generated: number;
  checks: number;
  /** What the generated commands met, by command and answer: `update 200 archived` and such. */
  outcomes: Record<string, number>;
}

type Why = 'generated' | 'checks';

/** A wrong answer: what was sent, what came back, and why it is wrong. */
export class WrongAnswer extends Error {}

const JARGON =
  /anyOf|oneOf|allOf|must be null|must match (pattern|format)|must NOT have|must have required|must be equal to one of|additionalProperties|instancePath|schemaPath|#\/|\bundefined\b|\[object Object\]/;

/**
 * What is wrong with an answer whatever was asked: a 5xx, or a 4xx that is not JSON with a stable
 * `error` code and plain sentences (`message`, and `problems` when given). Undefined when nothing.
 */
export function answerProblem(answer: RawAnswer): string | undefined {
  if (answer.status >= 500) return `a ${answer.status}, which is a bug`;
  if (answer.status < 400) return undefined;
  if (!/^application\/json/.test(String(answer.headers['content-type'])))
    return `a ${answer.status} that is not JSON (${String(answer.headers['content-type'])})`;
  let body: { error?: unknown; message?: unknown; problems?: unknown };
  try {
    body = JSON.parse(answer.body) as typeof body;
  } catch {
    return `a ${answer.status} whose body is not JSON`;
  }
  if (typeof body.error !== 'string' || !/^[a-z_]+$/.test(body.error))
    return `error ${String(body.error)} is not a stable code`;
  if (typeof body.message !== 'string' || body.message.trim() === '') return 'no message';
  const sentences = Array.isArray(body.problems) ? (body.problems as unknown[]) : [body.message];
  for (const sentence of [body.message, ...sentences]) {
    if (typeof sentence !== 'string' || sentence.trim() === '') return 'an empty problem';
    if (JARGON.test(sentence)) return `schema jargon in "${sentence}"`;
    if (Object.values(STATUS_CODES).includes(sentence) || sentence === 'Client Error')
      return `"${sentence}" names the status, not the problem`;
  }
  return undefined;
}

function credentials(who: Who): Record<string, string> {
  if (who === 'none') return {};
  if (who === 'bad') return { authorization: `Bearer bkarch_${'A'.repeat(43)}` };
  return { authorization: `Bearer ${TEST_KEYS[who]}` };
}

function isCreatedAt(value: unknown): value is CreatedAt {
  return typeof value === 'object' && value !== null && 'days' in value && 'extraMs' in value;
}

/** The text of a JSON body: its created_at age turned into a time, then spelled as the body says. */
function bodyText(body: Extract<Body, { form: 'json' }>, now: number): string {
  const value = body.value;
  const resolved =
    typeof value === 'object' && value !== null && isCreatedAt((value as { created_at?: unknown }).created_at)
      ? { ...value, created_at: createdAtText((value as { created_at: CreatedAt }).created_at, now) }
      : value;
  const text = JSON.stringify(resolved);
  switch (body.spelling) {
    case undefined:
      return text;
    case 'pretty':
      return JSON.stringify(resolved, null, '\t').replaceAll('\n', '\r\n');
    case 'escaped':
      return text.replace(
        /[\u007f-\uffff]/g,
        (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
      );
    case 'escapedKey':
      return text.replace('"customer_id":', '"\\u0063ustomer_id":');
    case 'exponent': {
      const amount = (resolved as { amount?: unknown }).amount;
      const cents = typeof amount === 'number' ? Math.round(amount * 100) : Number.NaN;
      if (!Number.isSafeInteger(cents) || cents / 100 !== amount) return text;
      const marker = '@@amount@@';
      return JSON.stringify({ ...(resolved as object), amount: marker }).replace(
        `"${marker}"`,
        `${cents}e-2`,
      );
    }
  }
}

function pathOf(id: string, encoded: boolean): string {
  if (!encoded) return `/billing/${id}`;
  return `/billing/${id.replace(/[\s\S]/g, (char) => `%${char.charCodeAt(0).toString(16).padStart(2, '0')}`)}`;
}

/** A command's request; `state` is the model's view of its record before it, for If-Match. */
function requestFor(command: Single, state: IdState, now: number): { request: RawRequest; sent: Sent } {
  const headers = credentials(command.who);
  const sent: Sent = { now, racing: false };
  const withBody = (body: Body, type: string | undefined): Pick<RawRequest, 'body'> => {
    if (type !== undefined) headers['content-type'] = type;
    const bytes = body.form === 'refused' ? body.bytes : bodyText(body, now);
    sent.verdict = bodyVerdict(body, typeof bytes === 'string' ? bytes : undefined, type);
    return { body: bytes };
  };
  if (command.op === 'update' || command.op === 'delete') {
    const etag = state.record?.etag ?? '"never-issued"';
    const header = {
      none: undefined,
      current: etag,
      weak: `W/${etag}`,
      star: '*',
      stale: '"0-stale"',
      malformed: '"unterminated',
    }[command.ifMatch];
    if (header !== undefined) headers['if-match'] = header;
    sent.ifMatch = { kind: command.ifMatch, header };
  }
  switch (command.op) {
    case 'create':
      return {
        request: { method: 'POST', path: '/billing', headers, ...withBody(command.body, command.type) },
        sent,
      };
    case 'read':
      return { request: { method: 'GET', path: pathOf(command.id, command.encoded), headers }, sent };
    case 'update':
      return {
        request: {
          method: 'PUT',
          path: pathOf(command.id, command.encoded),
          headers,
          ...withBody(command.body, command.type),
        },
        sent,
      };
    case 'delete':
      return { request: { method: 'DELETE', path: pathOf(command.id, command.encoded), headers }, sent };
    case 'restore':
      return { request: { method: 'POST', path: `/restore/${command.id}`, headers }, sent };
    case 'hold':
      return {
        request: {
          method: 'PUT',
          path: `/billing/${command.id}/legal-hold`,
          headers,
          ...withBody(command.body, 'application/json'),
        },
        sent,
      };
    case 'readHold':
      return { request: { method: 'GET', path: `/billing/${command.id}/legal-hold`, headers }, sent };
  }
}

/** Short text for a command in failure reports. */
export function describeCommand(command: Command): string {
  const clip = (text: string) => (text.length > 100 ? `${text.slice(0, 100)}…(${text.length} chars)` : text);
  const body = (value: Body) =>
    value.form === 'refused'
      ? `refused body (${value.why})`
      : `${value.spelling ?? 'json'} ${clip(JSON.stringify(value.value))}`;
  switch (command.op) {
    case 'together':
      return `together [${command.commands.map(describeCommand).join(' | ')}]`;
    case 'create':
      return `create as ${command.who} (${String(command.type)}) ${body(command.body)}`;
    case 'update':
      return `update ${command.id}${command.encoded ? ' (encoded)' : ''} as ${command.who} If-Match ${command.ifMatch} (${String(command.type)}) ${body(command.body)}`;
    case 'delete':
      return `delete ${command.id}${command.encoded ? ' (encoded)' : ''} as ${command.who} If-Match ${command.ifMatch}`;
    case 'hold':
      return `hold ${command.id} as ${command.who} ${body(command.body)}`;
    case 'archive':
      return `archive as ${command.who} ${body(command.body)}`;
    case 'list':
      return `list as ${command.who} ${JSON.stringify(command.query)}`;
    case 'listArchived':
      return `list archived by ${command.limit}`;
    case 'hostile':
      return `${command.method} ${clip(command.path)}${command.body ? ` ${body(command.body)}` : ''}`;
    case 'read':
    case 'restore':
    case 'readHold':
      return `${command.op} ${command.id}${'encoded' in command && command.encoded ? ' (encoded)' : ''} as ${command.who}`;
  }
}

function describeAnswer(answer: RawAnswer): string {
  const body = answer.body.length > 700 ? `${answer.body.slice(0, 700)}…` : answer.body;
  return `${answer.status} etag=${String(answer.headers.etag)} source=${String(answer.headers['x-record-source'])} ${body}`;
}

/**
 * One round of commands against a running server: sends each, judges each answer against the
 * model, keeps the model, and compares the stores with it at checkpoints and at the end.
 */
export class Session {
  private readonly ids = new Map<string, IdState>();
  private readonly trace: string[] = [];

  constructor(
    private readonly client: RawHttpClient,
    private readonly counts: Counts,
    /** Ids whose hold history the server keeps from earlier rounds. */
    private readonly everHeld: Set<string>,
    private readonly serverLog: () => string,
  ) {}

  state(id: string): IdState {
    return this.ids.get(id) ?? { ...NOTHING, everHeld: this.everHeld.has(id) };
  }

  private set(id: string, state: IdState): void {
    this.ids.set(id, state);
    if (state.everHeld) this.everHeld.add(id);
  }

  private async send(request: RawRequest, why: Why): Promise<RawAnswer> {
    this.counts[why] += 1;
    const answer = await this.client.send(request);
    const problem = answerProblem(answer);
    if (problem) this.fail(`${request.method} ${request.path}: ${problem}`, answer);
    return answer;
  }

  private tally(outcome: string, times = 1): void {
    this.counts.outcomes[outcome] = (this.counts.outcomes[outcome] ?? 0) + times;
  }

  private fail(why: string, answer?: RawAnswer): never {
    const log = answer && answer.status >= 500 ? `\nserver log:\n${this.serverLog().slice(-4000)}` : '';
    throw new WrongAnswer(
      `${why}${answer ? `\n  answer: ${describeAnswer(answer)}` : ''}\n  last commands:\n    ${this.trace.slice(-12).join('\n    ')}${log}`,
    );
  }

  private expectOk(outcome: Outcome, answer: RawAnswer, command: Command): IdState {
    if (!outcome.ok) this.fail(`${describeCommand(command)}: ${outcome.why}`, answer);
    return outcome.next;
  }

  async run(command: Command): Promise<void> {
    this.trace.push(describeCommand(command));
    switch (command.op) {
      case 'together':
        return this.together(command.commands);
      case 'archive':
        return this.archive(command.body, command.who);
      case 'list':
        return this.list(command.query, command.who);
      case 'listArchived':
        return this.listArchived(command.limit, 'generated');
      case 'hostile':
        return this.hostile(command);
      case 'create':
      case 'read':
      case 'update':
      case 'delete':
      case 'restore':
      case 'hold':
      case 'readHold':
        return this.single(command);
    }
  }

  private async single(command: Single): Promise<void> {
    const id = idOf(command);
    const before = id === undefined ? NOTHING : this.state(id);
    const { request, sent } = requestFor(command, before, Date.now());
    const answer = await this.send(request, 'generated');
    const next = this.expectOk(judge(command, before, answer, sent), answer, command);
    this.tally(`${command.op} ${answer.status}${before.record?.where === 'archive' ? ' archived' : ''}`);
    const made = id ?? (next.record && (JSON.parse(next.record.json) as { id: string }).id);
    if (made === undefined) return;
    if (id === undefined && this.ids.has(made)) this.fail(`the server made id ${made} a second time`, answer);
    this.set(made, next);
  }

  /**
   * Sends the commands at once. Per id, some order of the commands (and of the run's steps, when
   * a run is among them) must explain every answer; when several orders leave different states,
   * reading the record tells which happened.
   */
  private async together(commands: Command[]): Promise<void> {
    const singles = commands.filter(
      (command): command is Single => !['archive', 'together'].includes(command.op),
    );
    const runs = commands.flatMap((command) =>
      command.op === 'archive' && command.body.form === 'json'
        ? [command.body.value as { older_than_days: number }]
        : [],
    );
    const now = Date.now();
    const requests = singles.map((command) => {
      const id = idOf(command);
      const { request, sent } = requestFor(command, id === undefined ? NOTHING : this.state(id), now);
      return { command, id, request, sent: { ...sent, racing: true } };
    });
    const sent = await Promise.all([
      ...runs.map((body) => this.send(jsonRequest('POST', '/archive/sync', body), 'generated')),
      ...requests.map(({ request }) => this.send(request, 'generated')),
    ]);
    const answers = sent.slice(runs.length);
    // A run meeting another's lock is refused (409 archival_running) and changes nothing.
    const cutoffs = runs.flatMap((body, i) => {
      const answer = sent[i] ?? NO_ANSWER;
      if (answer.status === 200 && parseObject(answer.body).status === 'succeeded')
        return [now - body.older_than_days * DAY_MS];
      if (answer.status === 409 && parseObject(answer.body).error === 'archival_running') return [];
      return this.fail(
        'an archival run beside other requests neither succeeded nor met a running one',
        answer,
      );
    });
    if (runs.length > 0 && cutoffs.length === 0) this.fail('every archival run was refused, none ran');
    for (const [i, { command }] of requests.entries())
      this.tally(`racing ${command.op} ${answers[i]?.status ?? 0}${runs.length > 0 ? ' beside a run' : ''}`);
    if (runs.length > 1) this.tally(`racing runs, ${cutoffs.length} of ${runs.length} ran`);
    const retention = now - SERVER_SETTINGS.retentionDays * DAY_MS;
    const runSteps = cutoffs.flatMap((cutoff, k): RaceStep[] => [
      { label: `archive ${k}`, apply: (state) => ({ ok: true, next: archiveStep(state, cutoff) }) },
      {
        label: `sweep ${k}`,
        after: `archive ${k}`,
        apply: (state) => ({ ok: true, next: sweepStep(state, retention) }),
      },
    ]);
    const touched = new Set(requests.flatMap(({ id }) => (id === undefined ? [] : [id])));
    for (const [i, { command, id, sent: facts }] of requests.entries()) {
      const answer = answers[i];
      if (id === undefined && answer) this.expectOk(judge(command, NOTHING, answer, facts), answer, command);
    }
    for (const [id, state] of this.ids)
      if (!touched.has(id)) this.set(id, linearizations(state, runSteps)[0] ?? state);
    for (const id of touched) {
      const steps: RaceStep[] = requests.flatMap(({ command, id: target, sent: facts }, i): RaceStep[] => {
        const answer = answers[i];
        if (target !== id || !answer) return [];
        return [{ label: `${i}`, apply: (state) => judge(command, state, answer, facts) }];
      });
      const finals = linearizations(this.state(id), [...steps, ...runSteps]);
      if (finals.length === 0) {
        const seen = requests
          .map(({ command, id: target }, i) =>
            target === id
              ? `${describeCommand(command)}\n      → ${describeAnswer(answers[i] ?? NO_ANSWER)}`
              : '',
          )
          .filter(Boolean);
        this.fail(
          `no order of the concurrent commands on ${id} explains their answers:\n    ${seen.join('\n    ')}`,
        );
      }
      if (finals.length > 1) this.tally('racing outcomes told apart by a read');
      this.set(id, finals.length === 1 ? (finals[0] ?? NOTHING) : await this.settle(id, finals));
    }
  }

  /** Which of `candidates` the server is in, read from the record and its hold. */
  private async settle(id: string, candidates: IdState[]): Promise<IdState> {
    const read = await this.send(jsonRequest('GET', `/billing/${id}`), 'checks');
    const hold = parseObject(
      (await this.send(jsonRequest('GET', `/billing/${id}/legal-hold`), 'checks')).body,
    );
    const matching = candidates.filter(
      (candidate) =>
        (candidate.record
          ? read.status === 200 &&
            read.body === candidate.record.json &&
            read.headers.etag === candidate.record.etag &&
            read.headers['x-record-source'] === candidate.record.where
          : read.status === 404) &&
        (hold.legal_hold ?? false) === candidate.held &&
        (Array.isArray(hold.history) && hold.history.length > 0) === candidate.everHeld,
    );
    if (matching.length !== 1)
      this.fail(`after concurrent commands ${id} is in none of the states they could leave`, read);
    return matching[0] ?? NOTHING;
  }

  private async archive(body: Body, who: Who): Promise<void> {
    const now = Date.now();
    const value = body.form === 'json' ? body.value : undefined;
    const request = {
      ...jsonRequest('POST', '/archive/sync', value),
      headers: { ...credentials(who), 'content-type': 'application/json' },
    };
    const answer = await this.send(request, 'generated');
    const expected = runVerdict(value, who);
    this.tally(`archive ${answer.status}${'dryRun' in expected && expected.dryRun ? ' dry run' : ''}`);
    if ('refused' in expected) {
      if (answer.status !== expected.refused) this.fail(`archive: expected ${expected.refused}`, answer);
      return;
    }
    if (answer.status !== 200) this.fail('archive: expected 200', answer);
    const summary = parseObject(answer.body);
    if (summary.status !== 'succeeded' || summary.failed !== 0 || summary.skipped !== 0)
      this.fail('archive: the run did not succeed cleanly', answer);
    if (expected.dryRun) return;
    await this.applyRun(summary, now - expected.olderThanDays * DAY_MS, now, expected.limit, answer);
  }

  /** Moves the model as the run did, checking its counts; records tied at a `limit` are read back. */
  private async applyRun(
    summary: Record<string, unknown>,
    cutoff: number,
    now: number,
    limit: number | undefined,
    answer: RawAnswer,
  ): Promise<void> {
    const eligible = [...this.ids]
      .filter(([, state]) => state.record?.where === 'live' && lastTouch(state.record.json) < cutoff)
      .sort(([, a], [, b]) => createdMs(a.record?.json ?? '') - createdMs(b.record?.json ?? ''));
    const take = Math.min(limit ?? eligible.length, eligible.length);
    const boundary = take > 0 ? createdMs(eligible[take - 1]?.[1].record?.json ?? '') : Number.NaN;
    const tiedPastLimit =
      take < eligible.length && createdMs(eligible[take]?.[1].record?.json ?? '') === boundary;
    const uncertain = new Set(
      tiedPastLimit
        ? eligible.filter(([, s]) => createdMs(s.record?.json ?? '') === boundary).map(([id]) => id)
        : [],
    );
    const retention = now - SERVER_SETTINGS.retentionDays * DAY_MS;
    let expired = 0;
    let keptOnHold = 0;
    const archived = new Set(eligible.slice(0, take).map(([id]) => id));
    for (const [id, state] of this.ids) {
      if (uncertain.has(id)) continue;
      const moved = archived.has(id) ? archiveStep(state, Number.POSITIVE_INFINITY) : state;
      const swept = sweepStep(moved, retention);
      if (moved.record?.where === 'archive' && createdMs(moved.record.json) < retention) {
        if (swept.record) keptOnHold += 1;
        else expired += 1;
      }
      this.set(id, swept);
    }
    for (const id of uncertain) {
      const state = this.state(id);
      const candidates = [state, sweepStep(archiveStep(state, Number.POSITIVE_INFINITY), retention)];
      const now = await this.settle(id, candidates);
      if (now.record?.where !== 'live' && createdMs(state.record?.json ?? '') < retention) {
        if (now.record) keptOnHold += 1;
        else expired += 1;
      }
      this.set(id, now);
    }
    const counts = { archived: take, expired, kept_on_hold: keptOnHold };
    this.tally('records archived', take);
    this.tally('records expired', expired);
    this.tally('records kept on hold', keptOnHold);
    const actual = {
      archived: summary.archived,
      expired: summary.expired,
      kept_on_hold: summary.kept_on_hold,
    };
    if (!isDeepStrictEqual(actual, counts))
      this.fail(
        `archive: counts ${JSON.stringify(actual)}, the model says ${JSON.stringify(counts)}`,
        answer,
      );
  }

  /**
   * Pages through GET /billing by cursor: the model's records, live and archived, in creation order,
   * each item saying where the record lives and holding its bytes exactly.
   */
  private async list(query: ListQuery, who: Who, why: Why = 'generated'): Promise<void> {
    const valid =
      /^\d+$/.test(query.limit) &&
      Number(query.limit) >= 1 &&
      Number(query.limit) <= 1000 &&
      (query.customerId === undefined ||
        (codePoints(query.customerId) >= 1 && codePoints(query.customerId) <= 128)) &&
      (query.status === undefined || STATUSES.includes(query.status));
    const all = [...this.ids]
      .flatMap(([id, { record }]) => (record ? [{ id, where: record.where, json: record.json }] : []))
      .map((item) => ({
        ...item,
        doc: JSON.parse(item.json) as { customer_id: unknown; status: unknown; created_at: string },
      }))
      .filter(
        ({ doc }) =>
          (query.customerId === undefined || doc.customer_id === query.customerId) &&
          (query.status === undefined || doc.status === query.status),
      )
      .sort((a, b) =>
        compareCreation({ createdAt: a.doc.created_at, id: a.id }, { createdAt: b.doc.created_at, id: b.id }),
      );
    const limit = Number(query.limit);
    let cursor: string | undefined;
    for (let page = 0; ; page++) {
      const parameters = [
        `limit=${encodeURIComponent(query.limit)}`,
        ...(query.customerId === undefined ? [] : [`customer_id=${encodeURIComponent(query.customerId)}`]),
        ...(query.status === undefined ? [] : [`status=${encodeURIComponent(query.status)}`]),
        ...(cursor === undefined ? [] : [`cursor=${encodeURIComponent(cursor)}`]),
      ];
      const answer = await this.send(
        { method: 'GET', path: `/billing?${parameters.join('&')}`, headers: credentials(who) },
        why,
      );
      if (who === 'none' || who === 'bad') {
        if (answer.status !== 401) this.fail('list: expected 401', answer);
        return;
      }
      if (!valid) {
        if (answer.status !== 400) this.fail('list: expected 400', answer);
        return;
      }
      const items = all.slice(page * limit, (page + 1) * limit);
      const last = (page + 1) * limit >= all.length;
      const body = parseObject(answer.body) as { items?: Record<string, unknown>[]; next_cursor?: unknown };
      const actual = (body.items ?? []).map((item) => ({
        source: item.source,
        record: JSON.stringify(item.record),
        ...(item.source === 'archive' && { rehydration_required: item.rehydration_required }),
      }));
      const expected = items.map(({ where, json }) => ({
        source: where,
        record: json,
        ...(where === 'archive' && { rehydration_required: false }),
      }));
      if (
        answer.status !== 200 ||
        !isDeepStrictEqual(actual, expected) ||
        (last ? body.next_cursor !== null : typeof body.next_cursor !== 'string')
      )
        this.fail(
          `list page ${page} differs from the model:\n  expected ${JSON.stringify(expected).slice(0, 1500)}`,
          answer,
        );
      if (last) return;
      cursor = body.next_cursor as string;
    }
  }

  /** Pages through GET /archive/records: the model's archived records, each entry naming its bytes. */
  private async listArchived(limit: number, why: Why): Promise<void> {
    const archived = [...this.ids]
      .flatMap(([id, { record }]) => (record?.where === 'archive' ? [{ id, json: record.json }] : []))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    let after: string | undefined;
    for (let page = 0; ; page++) {
      const path = `/archive/records?limit=${limit}${after === undefined ? '' : `&after=${encodeURIComponent(after)}`}`;
      const answer = await this.send(jsonRequest('GET', path), why);
      const body = parseObject(answer.body) as { items?: Record<string, unknown>[]; next_after?: unknown };
      const items = archived.slice(page * limit, (page + 1) * limit);
      const next = items.length === limit ? (items.at(-1)?.id ?? null) : null;
      const actual = (body.items ?? []).map((entry) => ({
        id: entry.id,
        customer_id: entry.customer_id,
        created_at: entry.created_at,
        sha256: entry.sha256,
        size: entry.size,
      }));
      const expected = items.map(({ id, json }) => {
        const doc = JSON.parse(json) as { customer_id: unknown; created_at: unknown };
        return {
          id,
          customer_id: doc.customer_id,
          created_at: doc.created_at,
          sha256: sha256Hex(json),
          size: Buffer.byteLength(json),
        };
      });
      if (answer.status !== 200 || !isDeepStrictEqual(actual, expected) || body.next_after !== next)
        this.fail(
          `archived entries page ${page} differ from the model:\n  expected ${JSON.stringify(expected).slice(0, 1500)}`,
          answer,
        );
      if (next === null) return;
      after = next;
    }
  }

  private async hostile(command: Extract<Command, { op: 'hostile' }>): Promise<void> {
    const body =
      command.body && command.body.form === 'json' ? JSON.stringify(command.body.value) : undefined;
    const answer = await this.send(
      {
        method: command.method,
        path: command.path,
        headers: {
          ...credentials('root'),
          ...(body !== undefined && { 'content-type': 'application/json' }),
        },
        ...(body !== undefined && { body }),
      },
      'generated',
    );
    if (answer.status < 400) this.fail(`${describeCommand(command)} must be refused`, answer);
    this.tally(`hostile ${answer.status}`);
  }

  /** Every record the model knows reads back exactly; the lists hold exactly the model's records. */
  async checkpoint(): Promise<void> {
    this.trace.push('checkpoint');
    for (const [id, state] of this.ids) {
      const command: Single = { op: 'read', id, encoded: false, who: 'reader' };
      const answer = await this.send(requestFor(command, state, Date.now()).request, 'checks');
      this.expectOk(judge(command, state, answer, { now: Date.now(), racing: false }), answer, command);
      if (state.held || state.everHeld) {
        const hold: Single = { op: 'readHold', id, who: 'root' };
        const holdAnswer = await this.send(requestFor(hold, state, Date.now()).request, 'checks');
        this.expectOk(judge(hold, state, holdAnswer, { now: Date.now(), racing: false }), holdAnswer, hold);
      }
    }
    await this.list({ limit: '1000' }, 'root', 'checks');
    await this.listArchived(1000, 'checks');
  }

  /** Lifts every hold and deletes every record, leaving the stores empty for the next round. */
  async wipe(): Promise<void> {
    this.trace.push('wipe');
    for (const [id, state] of this.ids) {
      if (state.held) {
        const lift = await this.send(
          jsonRequest('PUT', `/billing/${id}/legal-hold`, { held: false, reason: 'end of round' }),
          'checks',
        );
        if (lift.status !== 200) this.fail(`lifting the hold on ${id}`, lift);
      }
      if (state.record) {
        const gone = await this.send(jsonRequest('DELETE', `/billing/${id}`), 'checks');
        if (gone.status !== 204) this.fail(`deleting ${id}`, gone);
      }
      this.set(id, { ...NOTHING, everHeld: state.everHeld });
    }
    // Both lists empty: nothing is left live or archived, not even what the model never knew.
    await this.list({ limit: '1000' }, 'root', 'checks');
    await this.listArchived(1000, 'checks');
  }
}

const NO_ANSWER: RawAnswer = { status: 0, headers: {}, body: '(none)' };

function jsonRequest(method: string, path: string, value?: unknown): RawRequest {
  return {
    method,
    path,
    headers: { ...credentials('root'), ...(value !== undefined && { 'content-type': 'application/json' }) },
    ...(value !== undefined && { body: JSON.stringify(value) }),
  };
}

function parseObject(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

type RunVerdict = { refused: number } | { olderThanDays: number; dryRun: boolean; limit: number | undefined };

/** What POST /archive/sync must do with `value` from `who`, per docs/API.md. */
function runVerdict(value: unknown, who: Who): RunVerdict {
  if (who === 'none' || who === 'bad') return { refused: 401 };
  if (who === 'writer' || who === 'reader') return { refused: 403 };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { refused: 400 };
  const options = value as Record<string, unknown>;
  const integer = (field: unknown) => field === undefined || Number.isInteger(field);
  const shaped =
    Object.keys(options).every((key) => ['older_than_days', 'dry_run', 'limit'].includes(key)) &&
    integer(options.older_than_days) &&
    integer(options.limit) &&
    (options.dry_run === undefined || typeof options.dry_run === 'boolean');
  if (!shaped) return { refused: 400 };
  if (options.older_than_days !== undefined && who !== 'root') return { refused: 403 };
  const days = options.older_than_days as number | undefined;
  const limit = options.limit as number | undefined;
  if ((days !== undefined && (days < 0 || days > 36_500)) || (limit !== undefined && limit < 1))
    return { refused: 400 };
  return {
    olderThanDays: days ?? SERVER_SETTINGS.archivalDaysThreshold,
    dryRun: options.dry_run === true,
    limit,
  };
}
