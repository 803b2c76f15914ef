"""HotProfile as crm-elt sees it: registry, settings, builder, catalog, demo sandbox."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sources import SourceContract
from sources.hotprofile import make_client, HotProfileSettings, hotprofile_source
from sources.hotprofile.config import hotprofile_settings
from sources.hotprofile.tables import TABLES, catalog_rows

DEMO_KEY = "demo-hotprofile-key"


@contextmanager
def demo(sizes: dict[str, int]) -> Iterator[HotProfileSettings]:
    from sandbox.hotprofile import HotProfileSandbox

    clients = sizes.get("clients", 1000)
    with HotProfileSandbox(seed=1, clients=clients, leads=clients * 2, business_cards=clients, api_key=DEMO_KEY) as box:
        yield HotProfileSettings(box.url_instance, DEMO_KEY)


CONTRACT = SourceContract(name="hotprofile", tables=TABLES, settings=hotprofile_settings, build=hotprofile_source,
                          catalog=catalog_rows, demo=demo, client=make_client)
