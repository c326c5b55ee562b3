import type { Container, OperationInput, OperationResponse } from '@azure/cosmos';
import { describe, expect, it } from 'vitest';
import { runBulk } from '../../src/adapters/cosmos/cosmos-bulk.js';

/** A container whose bulk calls answer from a script: faults injected on purpose, per operation. */
function scripted(answers: ((ops: OperationInput[], signal: AbortSignal) => Promise<number[]>)[]) {
  const calls: { ids: string[]; signal: AbortSignal }[] = [];
  const container = {
    items: {
      bulk: async (ops: OperationInput[], _options: unknown, request: { abortSignal: AbortSignal }) => {
        calls.push({ ids: ops.map(idOf), signal: request.abortSignal });
        const answer = answers.shift();
        if (!answer) throw new Error('no more answers scripted');
        const statuses = await answer(ops, request.abortSignal);
        return statuses.map((statusCode, i): OperationResponse => ({
          statusCode,
          requestCharge: 1,
          eTag: statusCode < 300 ? `etag-${idOf(ops[i])}` : undefined,
        }));
      },
    },
  } as unknown as Container;
  return { container, calls };
}

function idOf(op: OperationInput | undefined): string {
  if (op && 'id' in op && typeof op.id === 'string') return op.id;
  const body = (op && 'resourceBody' in op ? op.resourceBody : undefined) as { id?: unknown } | undefined;
  return typeof body?.id === 'string' ? body.id : '?';
}

const deletes = (...ids: string[]): OperationInput[] =>
  ids.map((id) => ({ operationType: 'Delete', id, partitionKey: id, ifMatch: `v-${id}` }));

describe('runBulk', () => {
  it('sends again only the operations throttled or failed transiently, and keeps every other status', async () => {
    const { container, calls } = scripted([
      () => Promise.resolve([204, 429, 412, 503, 404]),
      () => Promise.resolve([204, 204]),
    ]);
    const outcomes = await runBulk(container, deletes('a', 'b', 'c', 'd', 'e'));
    expect(calls.map((call) => call.ids)).toEqual([
      ['a', 'b', 'c', 'd', 'e'],
      ['b', 'd'],
    ]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual([204, 204, 412, 204, 404]);
  });

  it('waits out throttling beyond the attempts a failing store gets', async () => {
    const throttledRounds = 6;
    const { container, calls } = scripted([
      ...Array.from({ length: throttledRounds }, () => () => Promise.resolve([429])),
      () => Promise.resolve([204]),
    ]);
    expect((await runBulk(container, deletes('a')))[0]?.status).toBe(204);
    expect(calls).toHaveLength(throttledRounds + 1);
  }, 30_000);

  it('gives up on operations that keep failing, after the attempts of any Cosmos DB request', async () => {
    const { container, calls } = scripted(Array.from({ length: 10 }, () => () => Promise.resolve([503])));
    await expect(runBulk(container, deletes('a'))).rejects.toMatchObject({ code: 503 });
    expect(calls).toHaveLength(5);
  });

  it('aborts a call that broke before sending its operations again, so no late copy lands after them', async () => {
    const { container, calls } = scripted([
      () => Promise.reject(new Error('Bulk request errored with: socket hang up')),
      () => Promise.resolve([201, 201]),
    ]);
    const outcomes = await runBulk(container, [
      { operationType: 'Upsert', partitionKey: 'a', resourceBody: { id: 'a' } },
      { operationType: 'Upsert', partitionKey: 'b', resourceBody: { id: 'b' } },
    ]);
    expect(calls).toHaveLength(2);
    expect(calls[0]?.signal.aborted).toBe(true);
    expect(outcomes).toEqual([
      { status: 201, etag: 'etag-a' },
      { status: 201, etag: 'etag-b' },
    ]);
  });

  it('sends 100 operations a call, and answers in input order', async () => {
    const ids = Array.from({ length: 250 }, (_, i) => `r-${i}`);
    const { container, calls } = scripted(
      Array.from({ length: 3 }, () => (ops: OperationInput[]) => Promise.resolve(ops.map(() => 204))),
    );
    const outcomes = await runBulk(container, deletes(...ids));
    expect(calls.map((call) => call.ids.length)).toEqual([100, 100, 50]);
    expect(calls.flatMap((call) => call.ids)).toEqual(ids);
    expect(outcomes).toHaveLength(250);
  });
});
