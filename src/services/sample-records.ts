import { randomInt } from 'node:crypto';
import type { NewRecordInput } from '../domain/billing-record.js';
import { DAY_MS } from './clock.js';

const CURRENCIES = ['USD', 'USD', 'USD', 'EUR', 'EUR', 'GBP', 'JPY', 'CAD'];
const STATUSES = ['paid', 'paid', 'paid', 'pending', 'overdue', 'cancelled', 'refunded'] as const;
const ITEMS = ['Pro plan', 'Team plan', 'Storage add-on', 'Support contract', 'API overage', 'Seat licences'];

/**
 * Realistic sample records for trying the service out: a few hundred customers, skewed currencies
 * and statuses, amounts in cents, each created `ageDays` days ago (spread over that day).
 */
export function sampleRecord(index: number, now: Date, ageDays: number): NewRecordInput {
  const created = new Date(now.getTime() - ageDays * DAY_MS - randomInt(0, DAY_MS));
  const due = new Date(created.getTime() + 30 * DAY_MS);
  const currency = CURRENCIES[randomInt(CURRENCIES.length)] ?? 'USD';
  const cents = currency === 'JPY' ? randomInt(1, 50_000) * 100 : randomInt(100, 500_000);
  return {
    customer_id: `cust-${String(randomInt(1, 400)).padStart(5, '0')}`,
    amount: cents / 100,
    currency,
    status: STATUSES[randomInt(STATUSES.length)] ?? 'paid',
    description: `${ITEMS[randomInt(ITEMS.length)] ?? 'Service'} — invoice ${String(index + 1).padStart(6, '0')}`,
    due_date: due.toISOString().slice(0, 10),
    created_at: created.toISOString(),
    metadata: { source: 'seed', invoice_number: `INV-${String(index + 1).padStart(6, '0')}` },
  };
}
