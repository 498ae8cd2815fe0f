# The one image for every Plait service: migrate, worker, scheduler, studio.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    PATH="/app/.venv/bin:$PATH" \
    REFLEX_TELEMETRY_ENABLED=false \
    REFLEX_CHECK_LATEST_VERSION=false

# no node or bun: the studio's frontend is built with the bun the Python environment ships
RUN pip install --no-cache-dir uv

WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY . .
RUN uv sync --frozen --no-dev

RUN useradd --create-home plait && chown -R plait /app
USER plait
# the studio's frontend for the port docker-compose.yml serves it on, built into the image
# (~/.cache/plait/studio/3000), so a container start serves it without building. Serving
# needs only the built files: the npm packages (about 400 MB) and bun's cache are not kept.
RUN BUN_INSTALL_CACHE_DIR=/tmp/bun-cache plait studio --build-only --port 3000 \
    && rm -rf /tmp/bun-cache /home/plait/.bun /home/plait/.cache/plait/studio/3000/node_modules
CMD ["plait", "--help"]
