"""HotProfile paging: every call is a POST with its arguments in the query string."""
from __future__ import annotations

from typing import Any, Iterator

from sources._http import ApiClient, ApiError
from sources.hotprofile.settings import Table


def _rows(body: Any, table: Table) -> list[dict]:
    # A 200 without the table's key (an HTML maintenance page, {"errors": ...}) is an error, not an empty page.
    if not isinstance(body, dict) or not isinstance(body.get(table.name), list):
        raise ApiError(f"HotProfile answered {table.path} without a '{table.name}' list: {str(body)[:200]}")
    return body[table.name]


def keyset_pages(client: ApiClient, table: Table, params: dict) -> Iterator[list[dict]]:
    """Ascending ids with ``search[from_id]``: rows inserted or updated meanwhile cannot shift a page."""
    from_id = None
    first = True
    while True:
        query = {**params, "page[number]": 1, "page[display_number]": table.page_size,
                 "order[key]": "id", "order[type]": "asc", "search[from_id]": from_id}
        # HotProfile answers 500 to invalid arguments: on the first call that is a bad parameter, not an outage.
        rows = _rows(client.post(table.path, query, table=table.name, retry_server_errors=not first), table)
        first = False
        if rows:
            yield rows
        if len(rows) < table.page_size:
            return
        from_id = max(int(row["id"]) for row in rows) + 1


PAGINATORS = {"keyset": keyset_pages}
