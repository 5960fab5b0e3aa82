# modsynclog-server (with modsynclog-client and modsynclog-agent) in a small Debian image.
#
#   docker build -t modsynclog .
#   printf '%s\n' "$(openssl rand -hex 32)" > token && chmod 0644 token
#   docker run -d --name modsynclog -p 1235:1235 -p 8080:8080 \
#     -v modsynclog-data:/var/lib/modsynclog \
#     -v "$PWD/token:/run/secrets/modsynclog_token:ro" modsynclog
#
# The server listens on 0.0.0.0 inside the container, and it refuses a non-loopback
# address without credentials. So the default CMD reads a token from
# /run/secrets/modsynclog_token (where a compose/swarm secret named modsynclog_token
# lands): it grants both scopes (producers, replicas, the HTTP API and /metrics). Without
# that file the container stops at once with "read token file
# /run/secrets/modsynclog_token". Arguments after the image name replace the CMD (they
# follow the ENTRYPOINT's flags), so to try it out on a private machine without a token:
#   docker run --rm -p 1235:1235 -p 8080:8080 modsynclog --insecure
# and with other flags, keep the token:
#   docker run ... modsynclog --token-file /run/secrets/modsynclog_token --fsync interval:100
# Options also work as MODSYNCLOG_* variables (-e MODSYNCLOG_FSYNC=never), or in a config
# file: -v /etc/modsynclog:/etc/modsynclog:ro and --config /etc/modsynclog/server.toml
# (flags beat the file, so the ENTRYPOINT's three addresses and folder win over it).

# --- build -----------------------------------------------------------------------------
FROM rust:1-bookworm AS build
WORKDIR /src
# The whole workspace: cargo reads every member's manifest and targets (core, server,
# bench, ffi-c, python, node, testcerts, kafka, agent, web) even to build one package, and
# the server embeds the web console's files (web/assets). .dockerignore keeps target/,
# node_modules, .git and built artefacts out of the context.
COPY . .
# librdkafka is built from the source its crate ships (make and a C compiler, both in
# rust:1-bookworm); the .proto files are compiled by protox (no protoc needed).
# The cache mounts keep downloaded crates and compiled dependencies between builds
# (BuildKit, the default builder); the binaries are copied out of the cached target/.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release -p modsynclog-server --bins --locked \
 && install -D -m 0755 -t /out \
      target/release/modsynclog-server target/release/modsynclog-client target/release/modsynclog-agent

# --- run -------------------------------------------------------------------------------
FROM debian:bookworm-slim
# ca-certificates: the system roots for https:// peers (a TLS master for the client's
# sync and send, etcd for the agent); zlib1g: librdkafka's compression (already in the
# base image; listed to be sure).
# Not pinned: the image should take Debian's security updates when rebuilt.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates zlib1g \
 && rm -rf /var/lib/apt/lists/*
# A fixed non-root uid/gid, so that a bind-mounted store can be chowned to it on the host
# (chown -R 10001:10001 /srv/modsynclog).
RUN groupadd --system --gid 10001 modsynclog \
 && useradd --system --uid 10001 --gid modsynclog --home-dir /var/lib/modsynclog \
      --no-create-home --shell /usr/sbin/nologin modsynclog \
 && install -d -o modsynclog -g modsynclog -m 0750 /var/lib/modsynclog
COPY --from=build /out/ /usr/local/bin/
# Numeric, so that Kubernetes' runAsNonRoot can check it without /etc/passwd.
USER 10001:10001
# The store. A named volume takes the directory's owner (uid 10001) from the image.
VOLUME ["/var/lib/modsynclog"]
# 1235: gRPC (native and legacy ingest, native sync). 8080: HTTP (console, /metrics, /api).
# 2222: the legacy sync socket for original Go replicas; it stays on the container's
# loopback (unreachable) unless you add `--sync-addr 0.0.0.0:2222 --legacy-allow CIDRs`
# (it has no credentials: allow only your replicas' networks).
EXPOSE 1235 2222 8080
# SIGTERM (docker stop) stops the server gracefully; give it time: docker stop -t 30.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/modsynclog-server", "--data-dir", "/var/lib/modsynclog", "--grpc-addr", "0.0.0.0:1235", "--http-addr", "0.0.0.0:8080"]
# The default arguments: a token is required (see the top of this file); replaced by any
# arguments given to `docker run IMAGE ...`.
CMD ["--token-file", "/run/secrets/modsynclog_token"]
