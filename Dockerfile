# One image for the API and the workers:
#   api:    mesascope serve --host 0.0.0.0 --workers 0
#   worker: mesascope worker --concurrency 2
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MESASCOPE_DATA_DIR=/data

WORKDIR /app
RUN useradd --create-home --uid 10001 mesascope && mkdir -p /data && chown mesascope /data

# torch first. PyPI's torch wheel bundles CUDA libraries (several GB); pass
# --build-arg TORCH_INDEX_URL=<a CPU-only wheel index> to keep the image small.
ARG TORCH_INDEX_URL=""
COPY constraints.txt ./
RUN pip install ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} torch==2.13.0 \
 && grep -v '^torch==' constraints.txt > /tmp/constraints-no-torch.txt

COPY pyproject.toml README.md ./
COPY irl ./irl
COPY service ./service
COPY migrations ./migrations
RUN pip install -c /tmp/constraints-no-torch.txt -e .

USER mesascope
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)" || exit 1
CMD ["mesascope", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "0"]
