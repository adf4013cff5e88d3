"""Benchmarks: every model × every seed on one split definition, summarised as tables and curves.

The public face of three modules, one concern each: :mod:`~absites.evaluate.bench_config`
(configs, rows, where records live), :mod:`~absites.evaluate.bench_run` (training and testing
every job, resumably) and :mod:`~absites.evaluate.bench_tables` (tables and figures from the
job records).
"""

from absites.evaluate.bench_config import (  # noqa: F401
    BENCH_TASKS,
    CURVE_POINTS,
    CURVES_VERSION,
    TABLE_METRICS,
    BenchmarkConfig,
    BenchRow,
    bench_config_path,
    git_commit,
    job_path,
    load_benchmark_config,
    row_configs,
    run_dir_of,
    slug,
    surface_names,
)
from absites.evaluate.bench_run import measure_preparation, run_benchmark, run_job  # noqa: F401
from absites.evaluate.bench_run import _curves  # noqa: F401  (tests)
from absites.evaluate.bench_records import JobRecord, read_record, write_record  # noqa: F401
from absites.evaluate.bench_tables import load_records, summarise, write_summary_csv, write_tables  # noqa: F401
from absites.provenance import machine_description  # noqa: F401
from absites.metrics import MAIN_METRIC  # noqa: F401
