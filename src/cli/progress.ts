import { SingleBar } from 'cli-progress';

/** How often a line is written when standard error is not a terminal (CI, a pipe, a log file). */
const PLAIN_EVERY_MS = 5_000;

export interface Progress {
  /** `done` of `total` (undefined while the total is unknown: a count and a rate, no bar). */
  update(done: number, total: number | undefined, detail?: string): void;
  /** The last figures, then the line is left as it is. */
  stop(): void;
}

function seconds(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 120 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

/**
 * A long command's progress on standard error, with its rate and (when the total is known) its
 * ETA: a bar redrawn in place on a terminal, else a plain line every five seconds and at the end.
 */
export function progress(label: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  const started = Date.now();
  let last = { done: 0, total: undefined as number | undefined, detail: '' };
  const rate = (): number => last.done / Math.max((Date.now() - started) / 1000, 0.001);
  const plain = (): string => {
    const { done, total, detail } = last;
    const share = total ? ` of ${total} (${Math.floor((done / total) * 100)}%)` : '';
    const eta = total && rate() > 0 ? `, ETA ${seconds(((total - done) / rate()) * 1000)}` : '';
    return `${label}: ${done}${share}, ${rate().toFixed(1)}/s${eta}${detail ? `, ${detail}` : ''}`;
  };

  if (!stream.isTTY) {
    let written = 0;
    let unwritten = true;
    return {
      update(done, total, detail = '') {
        last = { done, total, detail };
        unwritten = true;
        if (Date.now() - written < PLAIN_EVERY_MS) return;
        written = Date.now();
        unwritten = false;
        stream.write(`${plain()}\n`);
      },
      stop() {
        if (unwritten) stream.write(`${plain()}\n`);
        unwritten = false;
      },
    };
  }

  const bar = new SingleBar({
    stream,
    format: `${label} [{bar}] {percentage}% | {value}/{total} | {rate}/s | ETA {eta_formatted} | {detail}`,
    hideCursor: true,
    clearOnComplete: false,
    etaBuffer: 50,
  });
  let barStarted = false;
  return {
    update(done, total, detail = '') {
      last = { done, total, detail };
      if (total === undefined) {
        stream.write(`\r\x1b[2K${plain()}`);
        return;
      }
      const payload = { rate: rate().toFixed(1), detail };
      if (!barStarted) {
        bar.start(total, done, payload);
        barStarted = true;
      } else {
        bar.setTotal(total);
        bar.update(done, payload);
      }
    },
    stop() {
      if (barStarted) bar.stop();
      else stream.write(`\r\x1b[2K${plain()}\n`);
    },
  };
}
