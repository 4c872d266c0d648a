# syntax=docker/dockerfile:1
# Build: transpile TypeScript (esbuild) and compile the better-sqlite3 addon, then keep production dependencies only.
FROM node:24-bookworm-slim AS build
WORKDIR /app
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY app.ts server.ts ./
COPY db ./db
COPY lib ./lib
COPY plugins ./plugins
COPY routes ./routes
COPY schemas ./schemas
COPY scripts ./scripts
RUN npm run build && npm prune --omit=dev

# Run: non-root, no compiler, no TypeScript. Production mode is NOT forced: set ENVIRONMENT=production
# (and pass the checklist) for a live deployment; `docker run -e STRIPE_TEST_SECRET_KEY=… -p 4567:4567`
# serves in development mode like the original example backend.
FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=4567 \
    DATABASE_URL=sqlite:/app/data/app.db
WORKDIR /app
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
COPY --chown=node:node package.json healthcheck.mjs ./
RUN mkdir -p /app/data && chown node:node /app/data
USER node
VOLUME ["/app/data"]
EXPOSE 4567
# Node's own fetch: no curl in the image.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 CMD ["node", "healthcheck.mjs"]
# exec form: node runs as PID 1 and gets SIGTERM itself; close-with-grace finishes in-flight requests
CMD ["node", "dist/server.js"]
