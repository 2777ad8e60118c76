# syntax=docker/dockerfile:1
#
# mtl-service GPU training worker on WebGPU: @tensorflow/tfjs-backend-webgpu on
# Dawn's Node.js bindings (npm `webgpu`, a prebuilt dawn.node inside the
# package) through the Vulkan loader. Everything comes from the npm registry
# and Debian: no libtensorflow, no CUDA image, no build argument.
#
# On a GPU host the NVIDIA Container Toolkit mounts the driver's Vulkan ICD
# into the container when the `graphics` capability is asked for:
# NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics (set below; compose
# sets it too). Without an adapter the worker refuses to start and says which
# driver is missing (TF_BACKEND=webgpu; docs/deploy.md, "GPU workers").
#
#   docker build -f docker/worker-webgpu.Dockerfile -t mtl-service:webgpu .
#   docker run --rm --gpus all -e REDIS_URL=redis://redis:6379 -v mtl-data:/data mtl-service:webgpu
#
# Software Vulkan (Mesa's llvmpipe, from bookworm-backports: Debian 12's own
# Mesa 22 is refused by Dawn), to try the image on a host without a GPU; slow:
#   docker build -f docker/worker-webgpu.Dockerfile --build-arg SOFTWARE_VULKAN=true -t mtl-service:webgpu-sw .
#
# Untested on real GPUs so far (docs/performance.md, "WebGPU").

ARG NODE_IMAGE=node:20-bookworm-slim

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
# deps: production node_modules with the `webgpu` package (an optional
# dependency) and without tfjs-node (whose libtensorflow download is dead) or
# the native OpenBLAS kernels (CPU only; --ignore-scripts skips their build).
# ---------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && rm -rf node_modules/@tensorflow/tfjs-node \
 && arch="$(node -p 'process.arch')" \
 && test -f "node_modules/webgpu/dist/linux-${arch}/dawn.node" \
 && find node_modules/webgpu/dist -mindepth 1 -maxdepth 1 ! -name "linux-${arch}" -exec rm -rf {} + \
 && node --input-type=module -e "import('webgpu').then((m) => console.log('dawn.node loads:', typeof m.create))" \
 && npm cache clean --force

# ---------------------------------------------------------------------------
# runtime
# ---------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
# libvulkan1: the Vulkan loader dawn.node opens. libx11-6, libxext6, libegl1:
# what NVIDIA's Vulkan ICD (libGLX_nvidia.so.0, mounted by the toolkit) links.
ARG SOFTWARE_VULKAN=false
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini ca-certificates libvulkan1 libx11-6 libxext6 libegl1 \
 && if [ "${SOFTWARE_VULKAN}" = "true" ]; then \
      echo 'deb http://deb.debian.org/debian bookworm-backports main' > /etc/apt/sources.list.d/bookworm-backports.list \
      && apt-get update \
      && apt-get install -y --no-install-recommends -t bookworm-backports mesa-vulkan-drivers; \
    fi \
 && rm -rf /var/lib/apt/lists/*

# XDG_RUNTIME_DIR: Mesa warns in every process without one.
ENV NODE_ENV=production \
    DATA_DIR=/data \
    TF_BACKEND=webgpu \
    XDG_RUNTIME_DIR=/tmp \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics

WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
RUN mkdir -p /data && chown node:node /data

USER node
VOLUME /data

ENTRYPOINT ["tini", "--"]
CMD ["node", "dist/src/worker/main.js"]
