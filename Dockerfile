FROM python:3.11-slim-bookworm

# Production: the server refuses to start without a strong WES_SECRET_KEY (docker run -e WES_SECRET_KEY=…).
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    WES_ENVIRONMENT=production WES_HOST=0.0.0.0 WES_PORT=8000

WORKDIR /srv/wes
COPY pyproject.toml README.md ./
COPY backend ./backend
COPY printers ./printers
COPY firmware_profiles ./firmware_profiles
COPY handheld_pwa ./handheld_pwa
RUN pip install --no-cache-dir . \
 && useradd --system --home /srv/wes wes \
 && mkdir -p /srv/wes/var && chown wes /srv/wes/var
USER wes
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=5 \
  CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)" || exit 1
CMD ["wes", "serve"]
