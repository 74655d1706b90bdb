"""Run every chart of the imported patient360 dashboards through Superset and report the result.

Runs inside Superset's own environment (`.venv-superset/bin/python bi/superset/run_charts.py`,
or `docker compose exec superset python /app/patient360/run_charts.py`), after
`superset import-dashboards`. For each chart it takes the query context saved with it, points
it at the chart's dataset and executes it with Superset's chart-data command: the same SQL
generation, database engine spec and DuckDB driver a browser's chart request goes through.
Prints one JSON object per chart ({"chart", "dashboard", "rows", "error"}) and exits 1 if any
chart failed or returned no rows.
"""

from __future__ import annotations

import json
import sys


def main() -> int:
    from superset.app import create_app

    app = create_app()
    with app.app_context():
        return _run_all()


def _run_all() -> int:
    from flask import g
    from superset import db, security_manager
    from superset.commands.chart.data.get_data_command import ChartDataCommand
    from superset.common.query_context_factory import QueryContextFactory
    from superset.models.dashboard import Dashboard

    g.user = security_manager.find_user(username="admin")
    failed, ran = 0, 0
    for dashboard in db.session.query(Dashboard).filter(Dashboard.slug.like("patient360-%")).all():
        for chart in dashboard.slices:
            payload = json.loads(chart.query_context)
            payload["datasource"] = {"id": chart.datasource_id, "type": chart.datasource_type}
            payload["force"] = True  # never an answer from a cache: run the SQL
            rows, error = 0, None
            try:
                context = QueryContextFactory().create(**payload)
                result = ChartDataCommand(context).run()
                for query in result["queries"]:
                    error = error or query.get("error")
                    rows += query.get("rowcount") or 0
            except Exception as exc:  # report every chart, not just the first failure
                error = f"{type(exc).__name__}: {exc}"
            ran += 1
            failed += bool(error) or rows == 0
            print(json.dumps({"dashboard": dashboard.slug, "chart": chart.slice_name, "rows": rows, "error": error}))
    return 1 if failed or not ran else 0


if __name__ == "__main__":
    sys.exit(main())
