"""The local Spark engine: one SparkSession with the project's functions, and dbt run inside it.

dbt-spark's `method: session` executes every statement through
`SparkSession.builder.getOrCreate()`, so it picks up the session built here, in the same
process, with everything the models need already registered:

- `p360_pseudonym(string) -> string`, the keyed HMAC (patient360.pseudonym). The key is read
  here, in Python, exactly as the DuckDB plugin does: never in SQL text or dbt artifacts.
- `p360_normalise_mobile` and `p360_normalise_id_number` (patient360.identifiers, the one home
  of the identifier rules; the DuckDB macros are generated from the same constants).

Tables are Parquet in a warehouse folder; the table catalogue is an embedded Derby (Hive)
metastore in that folder, so a later run (and the persistent person registry) finds the
tables of an earlier one.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from patient360.identifiers import normalise_id_number, normalise_mobile
from patient360.paths import DBT_PROJECT_DIR
from patient360.pseudonym import load_key, pseudonymise

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

WAREHOUSE_ENV = "P360_SPARK_WAREHOUSE"
# one machine: the default 200 shuffle partitions turn every small join into 200 tiny tasks
SHUFFLE_PARTITIONS = "2"


class SparkBuildError(RuntimeError):
    """dbt on the Spark target did not succeed."""


def warehouse_folder(folder: Path | None = None) -> Path:
    """The Spark warehouse folder: the caller's, else P360_SPARK_WAREHOUSE, else warehouse/spark."""
    chosen = folder or Path(os.environ.get(WAREHOUSE_ENV, "warehouse/spark"))
    return Path(chosen).resolve()


def duckdb_time_zone() -> str:
    """The session time zone DuckDB uses (the machine's zone): Spark's `current_date` and its
    timestamp-to-date casts must mean the same day as on the DuckDB target."""
    import duckdb

    with duckdb.connect() as con:
        row = con.execute("select current_setting('TimeZone')").fetchone()
    return str(row[0]) if row else "UTC"


def spark_session(folder: Path | None = None) -> SparkSession:
    """The process's SparkSession (local[*]), created once with the project's settings and UDFs."""
    import warnings

    # pyspark 4.3 warns that it does not "fully support" pandas 3 on import; patient360 passes no
    # pandas frames to Spark (the equality test compares every mart), so the warning is noise
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support", category=FutureWarning)
    from pyspark.sql import SparkSession

    root = warehouse_folder(folder)
    root.mkdir(parents=True, exist_ok=True)
    # Python UDF workers must run this interpreter (this venv, this package), not `python3` on PATH;
    # pyspark reads the variable when the context starts
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    derby = f"-Dderby.system.home={root} -Dderby.stream.error.file={root / 'derby.log'}"
    _point_running_jvm_at(root)
    spark = (
        SparkSession.builder.master("local[*]")
        .appName("patient360")
        .config("spark.sql.warehouse.dir", str(root / "tables"))
        .config(
            "spark.hadoop.javax.jdo.option.ConnectionURL",
            f"jdbc:derby:;databaseName={root / 'metastore_db'};create=true",
        )
        .config("spark.driver.extraJavaOptions", derby)
        .config("spark.sql.shuffle.partitions", SHUFFLE_PARTITIONS)
        .config("spark.sql.session.timeZone", duckdb_time_zone())
        .config("spark.sql.sources.default", "parquet")
        # `create table ... as select` without USING makes a Parquet data-source table, not a Hive text table
        .config("spark.sql.legacy.createHiveTableByDefault", "false")
        # DuckDB semantics for the models' arithmetic: x / 0 is NULL, not an error (Spark 4 defaults to ANSI)
        .config("spark.sql.ansi.enabled", "false")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .enableHiveSupport()
        .getOrCreate()
    )
    register_udfs(spark, load_key())
    return spark


def _point_running_jvm_at(root: Path) -> None:
    """A JVM left by an earlier (stopped) session keeps its launch options, so the Derby metastore
    would write derby.log and metastore_db into the working directory: set them on the JVM too."""
    from pyspark import SparkContext

    jvm = SparkContext._jvm
    if jvm is not None:
        jvm.java.lang.System.setProperty("derby.system.home", str(root))
        jvm.java.lang.System.setProperty("derby.stream.error.file", str(root / "derby.log"))


def register_udfs(spark: SparkSession, key: bytes) -> None:
    """The project's SQL functions, named as on DuckDB. NULL in gives NULL out."""
    from pyspark.sql.types import StringType

    def _pseudonym(value: str | None) -> str | None:
        return None if value is None else pseudonymise(value, key)

    spark.udf.register("p360_pseudonym", _pseudonym, StringType())
    spark.udf.register("p360_normalise_mobile", normalise_mobile, StringType())
    spark.udf.register("p360_normalise_id_number", normalise_id_number, StringType())


def dbt_cli(args: list[str], folder: Path | None = None) -> bool:
    """`patient360 dbt <args>`: dbt's own CLI in this process, with the project and its profile.
    With `--target spark` the local session (and its UDFs) is built first, so a shell user's
    `dbt build --target spark` finds the project's functions; on DuckDB the profile's plugin
    registers them. Returns whether dbt succeeded."""
    from dbt.cli.main import dbtRunner

    chosen = args[args.index("--target") + 1] if "--target" in args[:-1] else None
    if chosen == "spark":  # the landed raw Parquet zone, (re)registered: new partitions become visible
        from patient360.spark_raw import register_raw_tables

        register_raw_tables(spark_session(folder), warehouse_folder(folder))
    extra = [] if "--project-dir" in args else ["--project-dir", str(DBT_PROJECT_DIR)]
    extra += [] if "--profiles-dir" in args else ["--profiles-dir", str(DBT_PROJECT_DIR)]
    return bool(dbtRunner().invoke([*args, *extra]).success)


def dbt_main() -> int:
    """`patient360-dbt <dbt args>`: the console script Cosmos runs as its dbt executable."""
    return 0 if dbt_cli(sys.argv[1:]) else 1


def run_dbt_spark(
    args: list[str],
    folder: Path | None = None,
    *,
    target_dir: Path | None = None,
    dbt_vars: dict | None = None,
) -> list:
    """`dbt <args> --target spark` in this process, on the session of spark_session(folder).
    Returns dbt's per-node results; raises SparkBuildError when dbt does not succeed."""
    import json

    from dbt.cli.main import dbtRunner

    spark_session(folder)
    cmd = [*args, "--target", "spark", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
    if target_dir is not None:
        cmd += ["--target-path", str(target_dir), "--log-path", str(target_dir / "logs")]
    if dbt_vars:
        cmd += ["--vars", json.dumps(dbt_vars)]
    log.info("running in-process: dbt %s", " ".join(cmd))
    outcome = dbtRunner().invoke(cmd)
    if not outcome.success:
        raise SparkBuildError(f"dbt {' '.join(args)} --target spark failed: {outcome.exception or 'see dbt output'}")
    results: Any = outcome.result  # a RunExecutionResult for build/run/test: its node results
    return list(results or [])
