"""Batch prediction on a Ray cluster (Ray Data), and `classify_dataset` for a Ray Dataset you have.

    newsstance predict ARTICLES/ -o OUT_DIR --engine ray [--address auto|ray://HOST:PORT] [--workers N]

Files are listed on the driver: local folders by the local engine's rules (supported suffixes,
de-duplicated, newsstance outputs excluded), or any URI pyarrow's filesystems accept (s3://, gs://,
hdfs://, file://). They are cut into chunks; each chunk is a Ray dataset of file paths mapped by an
actor pool (`--workers` actors, one model load each). An actor reads its files (bytes through
pyarrow for URIs), segments the articles and labels every sentence with the functions of the local
engine, so the sentence rows are the local engine's rows. Output, all Parquet:

    OUT_DIR/sentences/chunk-NNNNN-*.parquet   sentence rows (Ray Data writes them from the workers)
    OUT_DIR/summary/chunk-NNNNN.parquet       one row per article
    OUT_DIR/errors/chunk-NNNNN.parquet        files and records that could not be read
    OUT_DIR/chunks/chunk-NNNNN.json           a chunk's commit record, written last
    OUT_DIR/run.json                          what the run is (model hash, inputs, options)

A chunk's rows count only once its record exists: `--resume` removes the files of a chunk that
has none (a run stopped while writing it) and skips the files of committed chunks, so no row is
written twice. Ray retries a task whose worker died; its output replaces the lost one.
"""

from newsstance.distributed.dataset import classify_dataset
from newsstance.distributed.engine import LOCK, RayOptions, run_ray_predict
from newsstance.distributed.support import require_ray

__all__ = ["LOCK", "RayOptions", "classify_dataset", "require_ray", "run_ray_predict"]
