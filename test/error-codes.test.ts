import { describe, expect, it } from 'vitest';
import * as errors from '../src/domain/errors.js';
import { ERROR_CODES, EXIT } from '../src/error-codes.js';

describe('the error-code table both edges answer from', () => {
  it('covers every domain error, including every code ConflictError is raised with', () => {
    // Every DomainError subclass the module exports, so a new one cannot be forgotten here.
    const classes = Object.values(errors).filter(
      (value) => typeof value === 'function' && value.prototype instanceof errors.DomainError,
    ) as unknown as (new (message: string) => errors.DomainError)[];
    expect(classes.length).toBeGreaterThan(10);
    const codes = classes.map((ErrorClass) => new ErrorClass('x').code);
    for (const code of [...codes, 'duplicate_id', 'already_live', 'concurrent_modification', 'legal_hold'])
      expect(ERROR_CODES[code], code).toBeDefined();
  });

  it('maps the codes the HTTP and CLI tables used to disagree on', () => {
    expect(ERROR_CODES.legal_hold).toEqual({ http: 409, exit: EXIT.conflict });
    expect(ERROR_CODES.gone).toEqual({ http: 410, exit: EXIT.notFound });
    expect(ERROR_CODES.store_unavailable).toEqual({ http: 503, exit: EXIT.failed });
    expect(ERROR_CODES.archival_running).toEqual({ http: 409, exit: EXIT.locked });
  });
});
