# sluicegate container image: multi-stage (wheels built in the first stage, only the
# installed virtualenv copied into the second), slim, non-root, with a health check.
#
#   docker build -t sluicegate .
#   docker run -p 4000:4000 -e SLUICEGATE_MASTER_KEY=sk-... sluicegate   # embedded defaults
#   docker run -p 4000:4000 -e SLUICEGATE_MASTER_KEY=sk-... \
#     -v $PWD/sluicegate.yaml:/etc/sluicegate/sluicegate.yaml:ro \
#     sluicegate serve --config /etc/sluicegate/sluicegate.yaml --host 0.0.0.0 --port 4000
#
# Validated here with hadolint and by tests/test_deploy.py (no container engine on the
# development machines); see docs/deployment.md.

ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# Every dependency ships manylinux wheels for x86_64 and aarch64: no compiler needed.
RUN python -m venv /opt/sluicegate
COPY pyproject.toml README.md ./
COPY src ./src
RUN /opt/sluicegate/bin/pip install --no-compile . \
    && /opt/sluicegate/bin/python -m compileall -q /opt/sluicegate/lib

FROM python:${PYTHON_VERSION}-slim
LABEL org.opencontainers.image.title="sluicegate" \
      org.opencontainers.image.description="OpenAI-compatible LLM gateway" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 sluicegate \
    && useradd --system --uid 10001 --gid sluicegate --home-dir /var/lib/sluicegate \
       --create-home --shell /usr/sbin/nologin sluicegate
COPY --from=build /opt/sluicegate /opt/sluicegate
ENV PATH=/opt/sluicegate/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
# SQLite, the log spool and the metrics of several workers live under the home directory;
# mount a volume there to keep them (or use PostgreSQL: docs/deployment.md).
WORKDIR /var/lib/sluicegate
USER 10001:10001
EXPOSE 4000
# /health is liveness: it answers while the process serves, even without a database.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:4000/health', timeout=2)"]
# SIGTERM starts the drain (server.drain_seconds, 30 s by default): give `docker stop` more
# (`docker stop -t 40`, compose `stop_grace_period`, Kubernetes terminationGracePeriodSeconds).
STOPSIGNAL SIGTERM
ENTRYPOINT ["sluicegate"]
# The embedded defaults (a demo backend, plus OpenAI/Anthropic when their API keys are set);
# binding 0.0.0.0 needs SLUICEGATE_MASTER_KEY, the gateway refuses to start without it.
CMD ["serve", "--host", "0.0.0.0", "--port", "4000"]
