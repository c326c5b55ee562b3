import { setTimeout as wait } from 'node:timers/promises';

/** The current time; injected so tests and the archiver agree on "now". */
export type Clock = () => Date;

export const systemClock: Clock = () => new Date();

export const DAY_MS = 24 * 60 * 60 * 1000;

/** Waits; injected beside the clock, so a test can let time pass without waiting for it. */
export type Sleep = (ms: number) => Promise<void>;

export const systemSleep: Sleep = async (ms) => {
  await wait(ms);
};
