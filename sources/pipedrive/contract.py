"""Pipedrive as crm-elt sees it: registry, dlt source, catalog, demo sandbox."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sources import SourceContract
from sources.pipedrive import PipedriveSettings, pipedrive_source
from sources.pipedrive.plan import estimate
from sources.pipedrive.tables import TABLES, catalog_rows

DEMO_TOKEN = "demo-pipedrive-token"
DEMO_BURST = 100          # the emulated plan's requests per 2 s (Pipedrive "Power"); the client paces to it


@contextmanager
def demo(sizes: dict[str, int], port: int = 0) -> Iterator[PipedriveSettings]:
    from sandbox.pipedrive import PipedriveSandbox

    with PipedriveSandbox(seed=1, deals=sizes.get("deals", 300), token=DEMO_TOKEN, burst=DEMO_BURST,
                          port=port) as sandbox:
        yield PipedriveSettings(sandbox.base_url, DEMO_TOKEN, rate_limit_burst=DEMO_BURST)


CONTRACT = SourceContract(name="pipedrive", tables=TABLES, source=pipedrive_source, catalog=catalog_rows, demo=demo,
                          offline=PipedriveSettings("http://offline.invalid", "offline-settings-no-token"),
                          example="SELECT status, count(*), sum(value) FROM pipedrive.deals WHERE NOT is_deleted "
                                  "GROUP BY status ORDER BY 2 DESC",
                          token_costs=True, plan=estimate)
