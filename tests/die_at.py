"""`crm-elt` that dies like a SIGKILL (``os._exit``: no cleanup, no handler) at an exact instant of dlt's
normalize or load step:

- ``DIE_AFTER_SQL=<regex>``: right after the first SQL statement matching it has run (DuckDB, Postgres);
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
from dlt.destinations.impl.duckdb.sql_client import DuckDbSqlClient

KILLED = 137
pattern = re.compile(os.environ.get("DIE_AFTER_SQL") or "(?!)", re.S | re.I)
clients = [DuckDbSqlClient]
with contextlib.suppress(ImportError):              # Postgres, where its driver is installed
    from dlt.destinations.impl.postgres.sql_client import Psycopg2SqlClient

    clients.append(Psycopg2SqlClient)
commit_new_load_package = LoadStorage.commit_new_load_package


def dying_after_match(execute_query):
    @contextlib.contextmanager
    def execute(self, query, *args, **kwargs):
        with execute_query(self, query, *args, **kwargs) as cursor:
            yield cursor
        if pattern.search(sql_text(self, query)):
            if in_transaction(self):
                self.die_at_commit = True       # the statement counts once its transaction commits
            else:
                os._exit(KILLED)
    return execute


def dying_at_commit(commit_transaction):
    def commit(self):
        commit_transaction(self)
        if getattr(self, "die_at_commit", False):
            os._exit(KILLED)
    return commit


def in_transaction(client) -> bool:
    return getattr(client.native_connection, "autocommit", True) is False     # psycopg2 inside BEGIN


def sql_text(client, query) -> str:
    if isinstance(query, bytes):
        return query.decode()
    if hasattr(query, "as_string"):                 # psycopg2's composed SQL
        return query.as_string(client.native_connection)
    return str(query)


def dying_in_commit(self, load_id: str) -> None:
    commit_new_load_package(self, load_id)
    working_dir = os.path.dirname(os.path.normpath(self.storage.storage_path))
    extracted = os.path.join(working_dir, "normalize", "extracted", load_id, "new_jobs")
    jobs = sorted(os.listdir(extracted))
    for name in jobs[: len(jobs) // 2]:
        os.remove(os.path.join(extracted, name))
    os._exit(KILLED)


for client in clients:
    client.execute_query = dying_after_match(client.execute_query)
    client.commit_transaction = dying_at_commit(client.commit_transaction)
if os.environ.get("DIE_IN_NORMALIZE_COMMIT"):
    LoadStorage.commit_new_load_package = dying_in_commit

if __name__ == "__main__":
    from pipelines.cli import main

    sys.argv = ["crm-elt", *sys.argv[1:]]
    main()
