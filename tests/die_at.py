"""`crm-elt` that dies like a SIGKILL (``os._exit``: no cleanup, no handler) at an exact instant of dlt's
normalize or load step:

- ``DIE_AFTER_SQL=<regex>``: right after the first SQL statement matching it has run on DuckDB;
- ``DIE_IN_NORMALIZE_COMMIT=1``: after normalize renamed its package into the load folder, half-way
  through deleting the extracted copy (dlt logs "do not kill this process" there).

    DIE_AFTER_SQL='INSERT INTO "hotprofile_staging"."leads" BY NAME' python tests/die_at.py run ...
"""
from __future__ import annotations

import contextlib
import os
import re
import sys

from dlt.common.storages.load_storage import LoadStorage
from dlt.destinations.impl.duckdb import sql_client

KILLED = 137
pattern = re.compile(os.environ.get("DIE_AFTER_SQL") or "(?!)", re.S)
execute_query = sql_client.DuckDbSqlClient.execute_query
commit_new_load_package = LoadStorage.commit_new_load_package


@contextlib.contextmanager
def dying_after_match(self, query, *args, **kwargs):
    with execute_query(self, query, *args, **kwargs) as cursor:
        yield cursor
    if pattern.search(query if isinstance(query, str) else query.decode()):
        os._exit(KILLED)


def dying_in_commit(self, load_id: str) -> None:
    commit_new_load_package(self, load_id)
    working_dir = os.path.dirname(os.path.normpath(self.storage.storage_path))
    extracted = os.path.join(working_dir, "normalize", "extracted", load_id, "new_jobs")
    jobs = sorted(os.listdir(extracted))
    for name in jobs[: len(jobs) // 2]:
        os.remove(os.path.join(extracted, name))
    os._exit(KILLED)


sql_client.DuckDbSqlClient.execute_query = dying_after_match
if os.environ.get("DIE_IN_NORMALIZE_COMMIT"):
    LoadStorage.commit_new_load_package = dying_in_commit

if __name__ == "__main__":
    from pipelines.cli import main

    sys.argv = ["crm-elt", *sys.argv[1:]]
    main()
