# credops, for `credops server` (deploy/kubernetes/) or any command.
#   docker build -t credops .
#   docker run --read-only --tmpfs /tmp -v credops-work:/work -p 8200:8200 credops server --listen 0.0.0.0:8200 --insecure-listen --repo https://...
# Stage 1 builds (better-sqlite3 compiles from source, the CLI is bundled); stage 2 holds only
# what runs, as the unprivileged user `node`, and writes nowhere but /work and /tmp.
FROM node:20-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund \
 && npm rebuild better-sqlite3
COPY tsconfig.json ./
COPY scripts ./scripts
COPY schemas ./schemas
COPY src ./src
COPY bin ./bin
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
# git: for --repo URLs (simple-git runs it).
RUN apt-get update \
 && apt-get install -y --no-install-recommends git ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/bin ./bin
COPY --from=build /src/dist ./dist
COPY --from=build /src/schemas ./schemas
ENV NODE_ENV=production \
    HOME=/work
# The git cache, the default audit logs and a SQLite state (when not on DynamoDB) live under /work.
WORKDIR /work
USER node
EXPOSE 8200
ENTRYPOINT ["node", "/app/bin/credops.js"]
CMD ["--help"]
