# Tether PDP image: dependencies and the compiled policy bundle are produced in the build stage;
# the runtime stage carries only what `tether serve` needs and runs as an unprivileged user.

FROM node:20-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 builds its native addon when no prebuilt binary matches.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY policies ./policies
# Type-check, run the policies' Rego tests, then compile them once into the bundle the image serves
# (TETHER_POLICY_BUNDLE): a policy error fails the image build, and the container starts without
# compiling. The entrypoints are the decision and the lifecycle report the service evaluates.
RUN npx tsc -p tsconfig.json --noEmit \
 && npx tsx src/cli.ts test policies \
 && npx tsx src/cli.ts build policies -e tether/decision -e tether/lifecycle/report -o /app/bundle.tar.gz
RUN npm prune --omit=dev

FROM node:20-bookworm-slim
# GLIBC_TUNABLES: large buffers (the resident copy of the records) in transparent huge pages; see README.
ENV NODE_ENV=production PORT=8181 TETHER_DATA_DIR=/var/lib/tether TETHER_POLICY_DIR=/app/policies \
    TETHER_POLICY_BUNDLE=/app/bundle.tar.gz GLIBC_TUNABLES=glibc.malloc.hugetlb=1
WORKDIR /app
RUN groupadd --system tether && useradd --system --gid tether --home /app tether \
 && mkdir -p /var/lib/tether && chown tether:tether /var/lib/tether
COPY --from=build --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/package.json /app/tsconfig.json ./
COPY --from=build --chown=root:root /app/src ./src
COPY --from=build --chown=root:root /app/policies ./policies
COPY --from=build --chown=root:root /app/bundle.tar.gz ./bundle.tar.gz
USER tether
EXPOSE 8181
VOLUME ["/var/lib/tether"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8181)+'/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# --max-semi-space-size=2: short young-generation GC pauses; --expose-gc: one full GC after bulk work (README "Memory and GC").
CMD ["node", "--max-semi-space-size=2", "--expose-gc", "--require", "tsx/cjs", "src/cli.ts", "serve"]
