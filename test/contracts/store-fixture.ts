import { afterEach, beforeEach } from 'vitest';

export interface StoreFixture<T> {
  store: T;
  /** Closes the store and removes what it stored. */
  dispose(): Promise<void>;
}

/** A fresh store before each test of the suite, disposed after it; call the result to get it. */
export function useFreshStore<T>(make: () => Promise<StoreFixture<T>>): () => T {
  let fixture: StoreFixture<T> | undefined;
  beforeEach(async () => {
    fixture = await make();
  });
  afterEach(async () => {
    await fixture?.dispose();
    fixture = undefined;
  });
  return () => {
    if (!fixture) throw new Error('the store is only available inside a test');
    return fixture.store;
  };
}
