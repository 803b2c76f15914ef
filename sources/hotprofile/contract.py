"""HotProfile as crm-elt sees it: registry, dlt source, catalog, demo sandbox."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sources import SourceContract
from sources.hotprofile import HotProfileSettings, hotprofile_source
from sources.hotprofile.plan import estimate
from sources.hotprofile.tables import TABLES, catalog_rows

DEMO_KEY = "demo-hotprofile-key"


@contextmanager
def demo(sizes: dict[str, int], port: int = 0) -> Iterator[HotProfileSettings]:
    from sandbox.hotprofile import HotProfileSandbox

    clients = sizes.get("clients", 1000)
    with HotProfileSandbox(seed=1, clients=clients, leads=clients * 2, business_cards=clients, api_key=DEMO_KEY,
                           port=port) as box:
        yield HotProfileSettings(box.url_instance, DEMO_KEY)


CONTRACT = SourceContract(name="hotprofile", tables=TABLES, source=hotprofile_source, catalog=catalog_rows,
                          demo=demo, offline=HotProfileSettings("offline.invalid", "offline-settings-no-key"),
                          example="FROM hotprofile.clients WHERE NOT is_deleted LIMIT 5", plan=estimate)
