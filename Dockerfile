FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 RAILSTUDIO_VAR_DIR=/app/var
WORKDIR /app
COPY pyproject.toml README.md ./
COPY railstudio railstudio
COPY planner planner
COPY clusters clusters
COPY labsim labsim
RUN pip install --no-cache-dir .
COPY . .
RUN mkdir -p var && SECRET_KEY=build python manage.py collectstatic --noinput
EXPOSE 8000
CMD ["gunicorn", "railstudio.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "4", "--no-control-socket"]
