#!/usr/bin/env bash
# Initialise Superset once, register the published aggregate release tier (read-only), then serve.
set -euo pipefail
superset db upgrade
superset fab create-admin --username admin --firstname Admin --lastname User \
  --email admin@example.org --password "${SUPERSET_ADMIN_PASSWORD}" || true
superset init
superset set_database_uri --database_name patient360_marts --uri "${P360_MARTS_URI}"
exec gunicorn --bind 0.0.0.0:8088 --workers 2 --timeout 120 "superset.app:create_app()"
