import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addExamplesAndExitCodes, exitCodeTable } from '../../src/cli/help.js';
import { ERROR_CODES, EXIT } from '../../src/error-codes.js';

describe("the CLI's help", () => {
  it('lists every exit code once, with each error code that ends in it and its HTTP status', () => {
    const table = exitCodeTable();
    for (const code of Object.values(EXIT)) expect(table).toMatch(new RegExp(`^  ${code}  \\S`, 'm'));
    for (const [error, { http, exit }] of Object.entries(ERROR_CODES)) {
      expect(table.split(`${error} (HTTP ${http})`)).toHaveLength(2);
      // Under its exit code's line, not another's.
      const section = table.split(/\n(?= {2}\d {2})/).find((part) => part.includes(`${error} (HTTP`));
      expect(section?.startsWith(`  ${exit}  `), error).toBe(true);
    }
  });

  it('refuses a command that has no example', () => {
    const program = new Command('billing-archive');
    program.command('stats');
    program.command('frobnicate');
    expect(() => {
      addExamplesAndExitCodes(program);
    }).toThrow("the command 'frobnicate' has no example");
  });
});
