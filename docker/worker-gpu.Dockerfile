# syntax=docker/dockerfile:1
#
# mtl-service GPU training worker: @tensorflow/tfjs-node-gpu on CUDA.
#
# Why CUDA 11.8 + cuDNN 8: tfjs-node-gpu 4.x binds libtensorflow 2.9.1
# (LIBTENSORFLOW_VERSION in its scripts/deps-constants.js). TF 2.9 was built
# against CUDA 11.2 / cuDNN 8.1 and dlopens libcudart.so.11.0, libcublas.so.11,
# libcudnn.so.8, ... : any CUDA 11.x (>= 11.2) runtime with cuDNN 8 provides
# those sonames, CUDA 12 / cuDNN 9 do not. Host needs an NVIDIA driver new
# enough for CUDA 11.8 (>= 520; >= 450.80 with forward compatibility) and the
# NVIDIA Container Toolkit.
#
# ----------------------------------------------------------------------------
# libtensorflow (REQUIRED build input)
# ----------------------------------------------------------------------------
# tfjs-node-gpu's install script (`node scripts/install.js gpu download`)
# always downloads
#   https://storage.googleapis.com/tensorflow/libtensorflow/libtensorflow-gpu-linux-x86_64-2.9.1.tar.gz
# which answers HTTP 403 since August 2026 (tensorflow/tfjs#8742; the script
# does not check the status code, so the 403 body reaches tar and the install
# dies with "TAR_BAD_ARCHIVE: Unrecognized archive format"). So this file
# installs the package with --ignore-scripts, fetches the archive itself from a
# location you control, unpacks it into the package's deps/ folder and then
# runs `node scripts/install.js gpu` (without "download"): when
# deps/lib/libtensorflow.so.2.9.1 exists that script skips the download and
# only builds the N-API binding (node-pre-gyp; npm_config_build_from_source
# forces a local node-gyp build instead of fetching a prebuilt addon from the
# same dead bucket).
#
# Give ONE of these build args (the build fails with a message otherwise):
#
#   LIBTENSORFLOW_URL      full URL of libtensorflow-gpu-linux-x86_64-2.9.1.tar.gz
#                          (the official archive, re-hosted; layout: include/, lib/)
#   TFJS_NODE_CDN_STORAGE  base URL of a mirror laid out like the original bucket,
#                          i.e. the same variable tfjs-node's install.js reads:
#                          ${TFJS_NODE_CDN_STORAGE}tensorflow/libtensorflow/libtensorflow-gpu-linux-x86_64-2.9.1.tar.gz
#                          (a trailing "/" is added if missing)
#   LIBTENSORFLOW_SHA256   optional: expected sha256 of the archive (recommended)
#
#   docker build -f docker/worker-gpu.Dockerfile \
#     --build-arg LIBTENSORFLOW_URL=https://artifacts.example.com/libtensorflow-gpu-linux-x86_64-2.9.1.tar.gz \
#     -t mtl-service:gpu .
#
# (Equivalent upstream knobs, not used here because the official install path
# cannot pass the GPU package's forced download: TFJS_NODE_BASE_URI, and
# scripts/custom-binary.json {"tf-lib": "<url>"} inside the package.)
#
# Run (needs the NVIDIA Container Toolkit on the host):
#   docker run --rm --gpus all -e REDIS_URL=redis://redis:6379 -v mtl-data:/data mtl-service:gpu

ARG NODE_IMAGE=node:20-bookworm-slim
ARG CUDA_IMAGE=nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04

# Node.js comes from the official image (no NodeSource repository needed).
FROM ${NODE_IMAGE} AS node

# ---------------------------------------------------------------------------
# build: compile TypeScript (same as the CPU image)
# ---------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npm run build \
 && test -f dist/src/worker/main.js

# ---------------------------------------------------------------------------
# deps: production node_modules + tfjs-node-gpu built against libtensorflow,
# on the same Ubuntu as the runtime so the addon links the same glibc/libstdc++.
# ---------------------------------------------------------------------------
FROM ${CUDA_IMAGE} AS deps
COPY --from=node /usr/local/ /usr/local/
RUN rm -f /usr/local/bin/yarn /usr/local/bin/yarnpkg /usr/local/bin/docker-entrypoint.sh \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 make g++ curl ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && node --version && npm --version

WORKDIR /app
COPY package.json package-lock.json ./
# --omit=optional: leaves out @tensorflow/tfjs-node (the CPU build: it would
# try the dead download; src/mtl/backend.ts loads tfjs-node-gpu first anyway).
# The other optional deps are platform prebuilds (esbuild for tsx,
# msgpackr-extract) that the compiled worker does not need at run time.
RUN npm ci --omit=dev --omit=optional --no-audit --no-fund

ARG TFJS_NODE_GPU_VERSION=4.22.0
ARG LIBTENSORFLOW_VERSION=2.9.1
ARG LIBTENSORFLOW_URL=
ARG LIBTENSORFLOW_SHA256=
ARG TFJS_NODE_CDN_STORAGE=

RUN set -eu; \
    if [ -z "${LIBTENSORFLOW_URL}" ] && [ -z "${TFJS_NODE_CDN_STORAGE}" ]; then \
      echo "ERROR: no libtensorflow source given." >&2; \
      echo "  tfjs-node-gpu needs libtensorflow-gpu-linux-x86_64-${LIBTENSORFLOW_VERSION}.tar.gz, and its default" >&2; \
      echo "  download (storage.googleapis.com) answers 403 (tensorflow/tfjs#8742)." >&2; \
      echo "  Rebuild with one of:" >&2; \
      echo "    --build-arg LIBTENSORFLOW_URL=https://<your-mirror>/libtensorflow-gpu-linux-x86_64-${LIBTENSORFLOW_VERSION}.tar.gz" >&2; \
      echo "    --build-arg TFJS_NODE_CDN_STORAGE=https://<your-mirror>/   (serving tensorflow/libtensorflow/...)" >&2; \
      echo "  (docker compose: set LIBTENSORFLOW_URL or TFJS_NODE_CDN_STORAGE in the environment or in .env)" >&2; \
      exit 1; \
    fi; \
    if [ -n "${LIBTENSORFLOW_URL}" ]; then \
      url="${LIBTENSORFLOW_URL}"; \
    else \
      url="${TFJS_NODE_CDN_STORAGE%/}/tensorflow/libtensorflow/libtensorflow-gpu-linux-x86_64-${LIBTENSORFLOW_VERSION}.tar.gz"; \
    fi; \
    npm install --no-save --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund \
      "@tensorflow/tfjs-node-gpu@${TFJS_NODE_GPU_VERSION}"; \
    pkg=/app/node_modules/@tensorflow/tfjs-node-gpu; \
    echo "* fetching libtensorflow from ${url}"; \
    curl -fSL --retry 3 --connect-timeout 30 -o /tmp/libtensorflow.tar.gz "${url}" || { \
      echo "ERROR: could not download ${url}" >&2; exit 1; }; \
    sum="$(sha256sum /tmp/libtensorflow.tar.gz | cut -d' ' -f1)"; \
    echo "* libtensorflow sha256: ${sum}"; \
    if [ -n "${LIBTENSORFLOW_SHA256}" ] && [ "${sum}" != "${LIBTENSORFLOW_SHA256}" ]; then \
      echo "ERROR: sha256 mismatch for ${url}: got ${sum}, expected ${LIBTENSORFLOW_SHA256}" >&2; exit 1; \
    fi; \
    rm -rf "${pkg}/deps" && mkdir -p "${pkg}/deps"; \
    tar -xzf /tmp/libtensorflow.tar.gz -C "${pkg}/deps" || { \
      echo "ERROR: ${url} is not a .tar.gz archive" >&2; exit 1; }; \
    rm -f /tmp/libtensorflow.tar.gz; \
    for f in "lib/libtensorflow.so.${LIBTENSORFLOW_VERSION}" "lib/libtensorflow_framework.so.${LIBTENSORFLOW_VERSION}" \
             include/tensorflow/c/c_api.h include/tensorflow/c/eager/c_api.h; do \
      [ -e "${pkg}/deps/${f}" ] || { \
        echo "ERROR: archive has no ${f}: expected the official libtensorflow-gpu-linux-x86_64-${LIBTENSORFLOW_VERSION} layout (include/, lib/)" >&2; \
        exit 1; }; \
    done; \
    # Build the N-API addon with tfjs-node's own script. No "download" arg ->
    # deps/lib/libtensorflow.so.<ver> exists -> no download, just node-pre-gyp.
    cd "${pkg}"; \
    PATH="/app/node_modules/.bin:${PATH}" \
    npm_config_build_from_source=true \
    npm_config_nodedir=/usr/local \
      node scripts/install.js gpu; \
    ls lib/napi-v*/tfjs_binding.node; \
    rm -rf build deps/include; \
    cd /app; \
    # Smoke test without a GPU: the binding loads, libtensorflow resolves
    # (CUDA libraries are dlopened lazily, so this works on the build host).
    TF_CPP_MIN_LOG_LEVEL=2 node -e "const tf=require('@tensorflow/tfjs-node-gpu'); console.log('tfjs-node-gpu loaded, backend:', tf.getBackend())"; \
    npm cache clean --force

# ---------------------------------------------------------------------------
# runtime
# ---------------------------------------------------------------------------
FROM ${CUDA_IMAGE} AS runtime
COPY --from=node /usr/local/ /usr/local/
RUN rm -f /usr/local/bin/yarn /usr/local/bin/yarnpkg /usr/local/bin/docker-entrypoint.sh \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends tini ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 1000 node \
 && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \
 && mkdir -p /data && chown node:node /data

# TF_FORCE_GPU_ALLOW_GROWTH: TensorFlow otherwise reserves almost all GPU
# memory in the first process, so a second worker replica on the same GPU
# (docker compose up --scale worker=N) would fail to allocate.
ENV NODE_ENV=production \
    DATA_DIR=/data \
    TF_BACKEND=tensorflow \
    TF_FORCE_GPU_ALLOW_GROWTH=true \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility

WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./

USER node
VOLUME /data

ENTRYPOINT ["tini", "--"]
CMD ["node", "dist/src/worker/main.js"]
