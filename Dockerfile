# Portcullis in a container: built in one stage, run as a non-root user in a slim one.
#   docker build -t portcullis .
#   docker run -p 8102:8102 -v portcullis-data:/data portcullis
# SQLite lives in the /data volume; set DATABASE_URL=postgres://… to use PostgreSQL instead
# (see compose.yaml).

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked && cp target/release/portcullis /usr/local/bin/portcullis

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin portcullis \
    && mkdir -p /data && chown portcullis:portcullis /data
COPY --from=build /usr/local/bin/portcullis /usr/local/bin/portcullis
USER portcullis
ENV PORTCULLIS_DATA_DIR=/data \
    PORTCULLIS_BIND=0.0.0.0 \
    PORT=8102
VOLUME /data
EXPOSE 8102
# No curl in the slim image: bash's /dev/tcp asks /health?db=1 (the database answers too).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${PORT} && printf 'GET /health?db=1 HTTP/1.0\\r\\n\\r\\n' >&3 && head -1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["portcullis"]
