# mcc as a drop-in for the Microsoft Connected Cache IoT Edge module: same environment variables,
# same create options (binds /MicrosoftConnectedCacheN/:/nginx/cacheN/, ports 8081 and 5000).
#   docker build -t mcc .
# The build stage runs scripts/install.sh, the very script CI runs in test_ship_entrypoint.sh.

ARG DEBIAN_IMAGE=debian:12-slim

FROM ${DEBIAN_IMAGE} AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        build-essential cmake pkg-config \
        libevent-dev libcurl4-openssl-dev libltdl-dev libcjson-dev libcunit1-dev libssl-dev \
        libxxhash-dev uthash-dev libjemalloc-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
ARG MCC_BUILD_JOBS=2
RUN MCC_BUILD_JOBS=${MCC_BUILD_JOBS} \
    scripts/install.sh --build-dir /build --prefix /opt/mcc \
    && /opt/mcc/bin/mccd --version

FROM ${DEBIAN_IMAGE} AS runtime
# the runtime libraries of mccd and its plugins, nothing else (no compiler, no curl)
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libevent-2.1-7 libevent-pthreads-2.1-7 libcurl4 libltdl7 libcjson1 libssl3 libxxhash0 \
        libjemalloc2 \
        ca-certificates \
    && rm -rf /var/lib/apt/lists/*
# a fixed uid, so that host directories bound as drives can be given to it
# (chown 10001:10001 /MicrosoftConnectedCacheN, see docs/deployment.md)
RUN groupadd --system --gid 10001 mcc \
    && useradd --system --uid 10001 --gid mcc --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin mcc \
    && mkdir -p /run/mcc/conf.d /nginx/cache1 /nginx/cache2 /nginx/cache3 /nginx/cache4 \
        /nginx/cache5 /nginx/cache6 /nginx/cache7 /nginx/cache8 /nginx/cache9 \
    && chown -R mcc:mcc /run/mcc /nginx
# mccd, the plugins, policies and the default conf.d; the SDK headers stay in the build stage
COPY --from=build /opt/mcc/bin/ /opt/mcc/bin/
COPY --from=build /opt/mcc/lib/mcc/ /opt/mcc/lib/mcc/
COPY --from=build /opt/mcc/etc/mcc/ /opt/mcc/etc/mcc/

USER 10001:10001
ENV MCC_CONTENT_LISTEN=8081 \
    MCC_ADMIN_LISTEN=5000 \
    MCC_CACHE_ROOT=/nginx \
    MCC_RUNTIME_DIR=/run/mcc/conf.d
# content (published as host port 80) and admin: health, summary, metrics (host port 5100/5001)
EXPOSE 8081 5000
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["/opt/mcc/bin/mcc-healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/opt/mcc/bin/mcc-entrypoint"]
CMD []
