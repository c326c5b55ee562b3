import { stringify } from 'yaml';

/**
 * What a command prints on standard output: JSON for scripts (`--json`), else text for a person:
 * the command's own summary where it has one, the result as YAML otherwise. Standard error keeps
 * progress, notes and logs either way, so `--json` output always parses.
 */
export class CommandOutput {
  constructor(private readonly json: boolean) {}

  get isJson(): boolean {
    return this.json;
  }

  /** The result; `summary` is what a person reads instead (with --json it goes to standard error). */
  result(value: unknown, summary?: string): void {
    if (this.json) {
      process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
      if (summary !== undefined) process.stderr.write(`${summary}\n`);
      return;
    }
    process.stdout.write(`${summary ?? stringify(value, { lineWidth: 0 }).trimEnd()}\n`);
  }
}
