# syntax=docker/dockerfile:1
#
# mtl-service CPU image: runs the API (default CMD) and, with
# `command: ["node","dist/src/worker/main.js"]`, the CPU training workers.
#
#   docker build -t mtl-service:cpu .
#   docker run --rm -p 3000:3000 -e REDIS_URL=redis://redis:6379 -v mtl-data:/data mtl-service:cpu
#
# TensorFlow backend: TF_BACKEND=auto. `@tensorflow/tfjs-node` is an
# optionalDependency; its install script downloads libtensorflow from
# storage.googleapis.com, which answers HTTP 403 since August 2026
# (tensorflow/tfjs#8742). npm then drops that optional package and the build
# still succeeds; at run time workers use the blas backend built below (native
# kernels on OpenBLAS) and the API the wasm one.
# To get the native CPU backend, pass a mirror of the libtensorflow archives:
#   docker build --build-arg TFJS_NODE_CDN_STORAGE=https://mirror.example.com/ .
# (tfjs-node's scripts/install.js then fetches, by plain concatenation, so keep the trailing "/":
#  ${TFJS_NODE_CDN_STORAGE}tensorflow/libtensorflow/libtensorflow-cpu-linux-x86_64-2.9.1.tar.gz;
#  the URL must answer 200 directly: the script follows no redirects and does
#  not check the status code.)

ARG NODE_IMAGE=node:20-bookworm-slim

# ---------------------------------------------------------------------------
# build: compile TypeScript (tsc -p tsconfig.build.json -> dist/src/...)
# ---------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: tsc needs no native addon, so skip the (failing)
# libtensorflow download here.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npm run build \
 && test -f dist/src/server.js \
 && test -f dist/src/worker/main.js \
 && test -f dist/src/main.js

# ---------------------------------------------------------------------------
# deps: production node_modules. Toolchain present so that native optional
# deps (tfjs-node with a mirror, msgpackr-extract) can compile if they must.
# Same Debian release as the runtime stage, so the binaries are compatible.
# ---------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS deps
# libopenblas-dev: the `blas` backend's native kernels (native/, built by npm ci's postinstall).
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ ca-certificates libopenblas-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ARG TFJS_NODE_CDN_STORAGE=
# node-gyp: use the headers shipped with this Node instead of downloading them.
ENV npm_config_nodedir=/usr/local
COPY package.json package-lock.json ./
COPY native ./native
# node_modules/webgpu (dawn.node, an optional dependency): left out, as this image has no Vulkan
# loader; GPU workers on WebGPU use docker/worker-webgpu.Dockerfile.
RUN npm ci --omit=dev --no-audit --no-fund \
 && rm -rf node_modules/webgpu \
 && test -f native/build/mtl_blas.node \
 && npm cache clean --force \
 && if [ -d node_modules/@tensorflow/tfjs-node ]; then \
      echo "deps: @tensorflow/tfjs-node installed (native CPU backend available)"; \
    else \
      echo "deps: @tensorflow/tfjs-node not installed (libtensorflow download failed?): TF_BACKEND=auto uses blas (workers) and wasm (API)"; \
    fi

# ---------------------------------------------------------------------------
# runtime
# ---------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
# libopenblas0-pthread: what native/build/mtl_blas.node links (TF_BACKEND=auto then trains on blas).
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini ca-certificates libopenblas0-pthread \
 && rm -rf /var/lib/apt/lists/*

ENV NODE_ENV=production \
    DATA_DIR=/data \
    PORT=3000 \
    HOST=0.0.0.0 \
    TF_BACKEND=auto

WORKDIR /app
# Code and dependencies stay root-owned (read-only for the app user);
# only /data is writable by `node` (uid 1000, same uid in the GPU image so
# both can share the `data` volume).
COPY --from=deps /app/node_modules ./node_modules
COPY --from=deps /app/native/build ./native/build
COPY --from=build /app/dist ./dist
# The dashboard: static files served at /ui/ (no build step).
COPY --from=build /app/public ./public
COPY package.json ./
RUN mkdir -p /data && chown node:node /data

USER node
VOLUME /data
EXPOSE 3000

# No curl in the slim image: probe with node (global fetch, Node >= 18).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health/live').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

# tini as PID 1: forwards SIGTERM to node (graceful shutdown) and reaps zombies.
ENTRYPOINT ["tini", "--"]
CMD ["node", "dist/src/server.js"]
