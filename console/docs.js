// Swagger UI over /openapi.json. "Try it out" goes with the session cookie; a change also carries
// the session's CSRF token, as the API asks of every change a browser session makes.
const session = await fetch('/session', { credentials: 'same-origin' }).then((response) =>
  response.ok ? response.json() : null,
);
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

window.SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  // Never send the document to validator.swagger.io: it may describe a private deployment.
  validatorUrl: null,
  requestInterceptor: (request) => {
    if (session?.csrf_token && !SAFE.has(String(request.method).toUpperCase()))
      request.headers['x-csrf-token'] = session.csrf_token;
    return request;
  },
});
