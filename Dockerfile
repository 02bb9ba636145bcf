# syntax=docker/dockerfile:1
# Claude Code Gateway: `docker build -t claude-code-gateway .` (docs/operations.md, "Containers").
#
# Two stages on one base image: `build` compiles the gateway, the admin UI and better-sqlite3's native addon
# with every dev tool; `runtime` holds production dependencies, the compiled output and that addon only.
# The addon is built against the same Node and glibc it runs on, because both stages start from the same
# image. Debian, not Alpine: the Claude Code CLI the Agent SDK ships is a glibc build.

ARG NODE_IMAGE=node:20.20.2-bookworm-slim

FROM ${NODE_IMAGE} AS build
# node-gyp's toolchain, for better-sqlite3 when no prebuilt addon matches.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# `prepare` would build before the sources are here: install without scripts, then run the two packages'
# install steps that the build needs (the native addon, esbuild's binary check).
RUN npm ci --ignore-scripts --no-audit --no-fund \
 && npm rebuild better-sqlite3 esbuild
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
COPY web ./web
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
# tini: PID 1 that forwards SIGTERM to the gateway and reaps the Claude Code processes it leaves behind.
# git: Claude Code reads the workspace's repository state. ca-certificates: HTTPS to the Anthropic API.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini git ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 gateway \
 && useradd --uid 10001 --gid gateway --home-dir /home/gateway --create-home --shell /usr/sbin/nologin gateway
WORKDIR /app
COPY package.json package-lock.json LICENSE ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force
COPY --from=build /app/node_modules/better-sqlite3/build/Release/better_sqlite3.node ./node_modules/better-sqlite3/build/Release/
COPY --from=build /app/dist ./dist
COPY deploy/docker/ccgw.config.yaml /etc/claude-code-gateway/ccgw.config.yaml
COPY deploy/docker/entrypoint.sh /usr/local/bin/ccgw-entrypoint
# The three folders that outlive the container: the gateway's store, Claude Code's configuration
# (credentials, settings and the transcripts sessions resume from) and the workspaces Claude works in.
RUN mkdir -p /var/lib/claude-code-gateway /home/gateway/.claude /workspace \
 && chown gateway:gateway /var/lib/claude-code-gateway /home/gateway/.claude /workspace
ENV NODE_ENV=production \
    HOME=/home/gateway \
    CLAUDE_CONFIG_DIR=/home/gateway/.claude \
    CCGW_CONFIG=/etc/claude-code-gateway/ccgw.config.yaml
VOLUME ["/var/lib/claude-code-gateway", "/home/gateway/.claude", "/workspace"]
# Numeric, so that Kubernetes' runAsNonRoot can verify it without a runAsUser.
USER 10001:10001
EXPOSE 8080
# /livez answers without a key and never calls the model. No curl in the slim image: Node's fetch instead.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/livez').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/ccgw-entrypoint"]
CMD ["node", "dist/cli.js"]
