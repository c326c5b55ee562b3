import { grants, type Identity } from '../auth/roles.js';
import type { RunRecord, VerificationRecord } from '../ports/run-log.js';
import type { LegalHold } from '../ports/legal-holds.js';
import type { HoldView } from '../services/record-service.js';

/**
 * What only admins see: where runs ran (host, pid) and the store errors they met. Others get the
 * run without them, and how many errors there were.
 */
export function runFor(
  caller: Identity | undefined,
  run: RunRecord,
): Omit<RunRecord, 'host' | 'pid'> & Partial<Pick<RunRecord, 'host' | 'pid'>> {
  if (caller && grants(caller.roles, 'admin')) return run;
  const { host: _host, pid: _pid, errors, ...rest } = run;
  return {
    ...rest,
    errors: errors.length > 0 ? [`${errors.length} errors: shown to admins and in the server log`] : [],
  };
}

/** A verify pass as runFor shows a run: where it ran and why it stopped are for admins. */
export function verificationFor(
  caller: Identity | undefined,
  verification: VerificationRecord,
): Omit<VerificationRecord, 'host'> & Partial<Pick<VerificationRecord, 'host'>> {
  if (caller && grants(caller.roles, 'admin')) return verification;
  const { host: _host, error, ...rest } = verification;
  return {
    ...rest,
    ...(error !== undefined && { error: 'the pass stopped with an error: shown to admins' }),
  };
}

/** Who placed a hold and why is for admins and the legal role; others learn only that it is held. */
export function seesHoldDetails(caller: Identity): boolean {
  return grants(caller.roles, 'admin') || grants(caller.roles, 'legal');
}

function hidden<T extends { by: string; reason: string }>(held: T): T {
  return { ...held, by: '(hidden)', reason: '(hidden)' };
}

/** A record's hold and its changes, as `seesHoldDetails` allows. */
export function holdFor(caller: Identity, view: HoldView): HoldView {
  if (seesHoldDetails(caller)) return view;
  return { ...view, hold: view.hold && hidden(view.hold), history: view.history.map(hidden) };
}

/** A page of the holds in force, as `seesHoldDetails` allows. */
export function holdsFor<T extends { items: LegalHold[] }>(caller: Identity, page: T): T {
  return seesHoldDetails(caller) ? page : { ...page, items: page.items.map(hidden) };
}
