import type { FastifyInstance } from 'fastify';
import { ValidationError } from '../domain/errors.js';
import { strictJsonProblems } from '../domain/strict-json.js';

/**
 * JSON bodies are read as Fastify reads them (prototype poisoning refused), after a look at the
 * text for what parsing would silently change: a field given twice, a number no double holds.
 */
export function registerStrictJsonBodies(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body.toString();
    const problems = strictJsonProblems(text);
    if (problems.length > 0) {
      done(new ValidationError(problems), undefined);
      return;
    }
    // The default parser is synchronous: it answers through `done`.
    void parse(request, text, done);
  });
}
