import { isUtf8 } from 'node:buffer';
import { errorCodes, type FastifyInstance } from 'fastify';
import { ValidationError } from '../domain/errors.js';
import { strictJsonProblems } from '../domain/strict-json.js';

/**
 * JSON bodies are read as Fastify reads them (prototype poisoning refused), after a look at the
 * bytes and the text for what parsing would silently change: text declared in another charset
 * (it would be read as UTF-8 all the same), bytes that are not UTF-8 (decoding would put U+FFFD in
 * their place), a field given twice, a number no double holds.
 */
export function registerStrictJsonBodies(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    if (!declaresUtf8(request.headers['content-type'])) {
      done(new errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE(), undefined);
      return;
    }
    const bytes = body as Buffer;
    if (!isUtf8(bytes)) {
      done(
        new ValidationError('the body is not valid UTF-8, which JSON must be; send its text as UTF-8'),
        undefined,
      );
      return;
    }
    const text = bytes.toString('utf8');
    const problems = strictJsonProblems(text);
    if (problems.length > 0) {
      done(new ValidationError(problems), undefined);
      return;
    }
    // The default parser is synchronous: it answers through `done`.
    void parse(request, text, (error, value: unknown) => {
      // It refuses valid JSON only for a key that could poison prototypes, and then only says "not valid JSON".
      if (error && isJson(text)) {
        done(
          new ValidationError(
            'the body has a field named __proto__, or a constructor holding prototype, which is refused; rename the field',
          ),
          undefined,
        );
        return;
      }
      done(error, value);
    });
  });
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** JSON is UTF-8 (RFC 8259): a charset parameter may say so, and nothing else. */
function declaresUtf8(contentType: string | undefined): boolean {
  const charset = /;\s*charset\s*=\s*"?([^";\s]*)"?/i.exec(contentType ?? '')?.[1];
  return charset === undefined || /^utf-?8$/i.test(charset);
}
