#!/usr/bin/env bash
# Initialise Superset once, provision the patient360 dashboards (bi/superset/, Superset's export
# format) against the aggregate release (read-only), then serve. Re-importing on every start
# keeps the dashboards as the repository has them.
set -euo pipefail
superset db upgrade
superset fab create-admin --username admin --firstname Admin --lastname User \
  --email admin@example.org --password "${SUPERSET_ADMIN_PASSWORD}" || true
superset init
python /app/patient360/bundle_zip.py /tmp/patient360_dashboards.zip --uri "${P360_MARTS_URI}"
superset import-dashboards --path /tmp/patient360_dashboards.zip --username admin
exec gunicorn --bind 0.0.0.0:8088 --workers 2 --timeout 120 "superset.app:create_app()"
