# syntax=docker/dockerfile:1
#
# Dropscope: one image for every role (collector, aggregator, api, alerts, or all).
# The role is chosen at run time with DROPSCOPE_ROLES; the command with the CMD (serve by default):
#   docker run --rm -e DATABASE_URL=... -e KAFKA_BROKERS=... -e DROPSCOPE_ROLES=aggregator dropscope
#   docker run --rm -e DATABASE_URL=... dropscope migrate
# Build: docker build -t dropscope:dev .

ARG NODE_IMAGE=node:20-bookworm-slim

# ---------------------------------------------------------------- build
FROM ${NODE_IMAGE} AS build
WORKDIR /app
ENV NODE_ENV=development \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false

# Dependencies first, so source edits reuse this layer.
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci

# Sources the build (tsconfig.build.json) compiles: src/, migrations/, bench/.
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY migrations ./migrations
COPY bench ./bench
COPY proto ./proto
RUN npm run build \
 && npm prune --omit=dev \
 && rm -rf dist/bench \
 && find dist -name '*.spec.js' -delete -o -name '*.spec.js.map' -delete

# ---------------------------------------------------------------- runtime
FROM ${NODE_IMAGE} AS runtime
WORKDIR /app
ENV NODE_ENV=production \
    PORT=8080 \
    DROPSCOPE_DATA_DIR=/var/lib/dropscope

# Non-root: the built-in `node` user (uid/gid 1000). The data dir holds the generated admin token
# (when no API tokens are set) and, without DATABASE_URL, the embedded PostgreSQL, which refuses to
# run as root anyway.
RUN mkdir -p /var/lib/dropscope && chown node:node /var/lib/dropscope

COPY --from=build --chown=root:root /app/package.json ./package.json
COPY --from=build --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
COPY --from=build --chown=root:root /app/proto ./proto

USER node
VOLUME ["/var/lib/dropscope"]
EXPOSE 8080

# Liveness only (/healthz never touches dependencies); orchestrators should use /readyz for readiness.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/src/cli/main.js"]
CMD ["serve"]
