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

/** Inits `store`; disposing closes it, then removes the data it was given. */
export async function openedStore<T extends { init(): Promise<void>; close(): Promise<void> }>(
  store: T,
  removeData: () => Promise<void>,
): Promise<StoreFixture<T>> {
  await store.init();
  return {
    store,
    dispose: async () => {
      await store.close();
      await removeData();
    },
  };
}
