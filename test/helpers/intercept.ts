import type { Adapters } from '../../src/composition-root.js';
import type { LiveStore } from '../../src/ports/live-store.js';

/**
 * Wraps a real adapter for fault injection: the overridden methods replace the adapter's, every
 * other call goes to the adapter itself (so its state, init and close stay its own).
 */
export function intercept<T extends object>(target: T, overrides: Partial<T>): T {
  return new Proxy(target, {
    get(object, property, receiver) {
      if (Object.hasOwn(overrides, property)) return overrides[property as keyof T];
      const value: unknown = Reflect.get(object, property, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(object) : value;
    },
  });
}

/** A step a test arms to run once inside a store call: a race at the instant the test chooses. */
export interface ArmedStep {
  next?: (() => Promise<unknown>) | undefined;
}

/** The adapters with the live store's create running the armed step once, right after it wrote the record. */
export function afterLiveCreate(armed: ArmedStep): (adapters: Adapters) => Adapters {
  return (adapters) => ({
    ...adapters,
    live: intercept<LiveStore>(adapters.live, {
      create: async (doc) => {
        const stored = await adapters.live.create(doc);
        const step = armed.next;
        armed.next = undefined;
        await step?.();
        return stored;
      },
    }),
  });
}
