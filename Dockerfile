# The API as a container image. Untested here: no Docker daemon runs on our machines.
# Both stages use Node 22 (Node 20 reached end of life in April 2026); the code and its tests still
# run on Node 20 on our machines, so the image's Node version is not what the tests exercise.
#   docker build -t billing-archive .
#   docker run -p 8000:8000 -v billing-data:/data billing-archive            # embedded stores
#   docker run -p 8000:8000 -e COSMOS_ENDPOINT=... -e BLOB_ACCOUNT_URL=... -e API_KEYS=... billing-archive
FROM node:22-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 compiles from source when no prebuilt binary is reachable.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
# `npm ci` builds dist/ through the prepare script; then only runtime dependencies are kept.
RUN npm ci && npm prune --omit=dev

FROM node:22-bookworm-slim
# The heap: a run of 1,000,000 records was measured within 128 MB (BENCHMARKS.md, "Memory of an
# archival run"); the API beside it gets the rest. Give the container 512 MB or more.
ENV NODE_ENV=production \
  NODE_OPTIONS=--max-old-space-size=384 \
  API_HOST=0.0.0.0 \
  API_PORT=8000 \
  DATA_DIR=/data
WORKDIR /app
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
COPY --chown=node:node package.json ./
# The console's pages and scripts, which the API serves at / and under /console/.
COPY --chown=node:node console ./console
COPY --chown=node:node infra/blob-lifecycle-policy.json infra/archive-index-indexing-policy.json infra/records-indexing-policy.json ./infra/
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 8000
VOLUME ["/data"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.API_PORT}/health`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/server.js"]
