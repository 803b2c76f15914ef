"""Mutation of the data set: update/insert/delete of single rows, random ``mutate`` batches, field edits.

Every change stamps ``update_time`` with the logical clock (advance it with ``tick`` first). Deletes follow
the API per table (see ``data``): soft for deals/persons/organizations/activities/products/files, hard for
notes/leads/deal products/participants.
"""
from __future__ import annotations

from random import Random
from typing import Any

from . import fields as F
from .fields import amount, fmt_v1, fmt_v2

UPDATE_WEIGHTS = [("deals", 40), ("persons", 12), ("organizations", 8), ("activities", 15), ("products", 5),
                  ("notes", 8), ("files", 4), ("leads", 8)]
INSERT_WEIGHTS = [("deals", 40), ("persons", 15), ("organizations", 5), ("activities", 20), ("notes", 10),
                  ("files", 5), ("leads", 5)]
DELETE_WEIGHTS = [("deals", 40), ("persons", 10), ("organizations", 5), ("activities", 12), ("products", 3),
                  ("notes", 10), ("files", 5), ("leads", 5), ("deal_products", 6), ("participants", 4)]


class MutationsMixin:
    # attributes provided by Dataset
    lock: Any
    version: int

    # ------------------------------------------------------------------ single-row API
    def update(self, table: str, id: Any, **fields: Any) -> None:
        from .data import canonical
        with self.lock:
            table = canonical(table)
            row = self.table(table)[id]
            self._apply(table, row, fields, record_flow=True)
            self.version += 1

    def insert(self, table: str, _rng: Random | None = None, **fields: Any) -> Any:
        from .data import canonical
        rng = _rng or self._rng
        with self.lock:
            table = canonical(table)
            now = self.clock_ts
            if table == "leads":
                row = self._make_lead(rng, now, now)
                self.leads[row["id"]] = row
            elif table == "deal_products":
                deal = self.deals[fields.pop("deal_id")]
                row = self._add_deal_product(rng, deal, now)
                if "product_id" in fields:
                    product = self.products[fields["product_id"]]
                    fields.setdefault("name", product["name"])
                self._touch_deal(deal["id"])
            elif table == "participants":
                deal_id = fields.pop("deal_id")
                person_id = fields.pop("person_id", None) or rng.randint(1, max(1, self.ctx.persons))
                row = self._add_participant(rng, deal_id, person_id, now)
                self._touch_deal(deal_id)
            elif table in ("deals", "persons", "organizations", "activities", "products", "notes", "files"):
                new_id = self.next_id[table]
                self.next_id[table] += 1
                maker = {"deals": self._make_deal, "persons": self._make_person, "organizations": self._make_org,
                         "activities": self._make_activity, "products": self._make_product,
                         "notes": self._make_note, "files": self._make_file}[table]
                row = maker(rng, new_id, now, now)
                self.table(table)[new_id] = row
                if table == "persons":
                    self.ctx.persons = max(self.ctx.persons, new_id)
                elif table == "organizations":
                    self.ctx.orgs = max(self.ctx.orgs, new_id)
                elif table == "deals":
                    self._add_participants(rng, row, now)
                    # the creation event: the stage the deal starts in
                    self._flow_event(new_id, row["creator_user_id"], "stage_id", None,
                                     fields.get("stage_id", row["stage_id"]), now)
            else:
                raise KeyError(f"insert into {table!r} is not supported")
            self._apply(table, row, fields, record_flow=False)
            self.version += 1
            return row["id"]

    def delete(self, table: str, id: Any) -> None:
        """Delete a row the way the API does (KeyError for an unknown or purged id; deleting twice is a no-op)."""
        from .data import canonical
        with self.lock:
            table = canonical(table)
            rows = self.table(table)
            if table == "deals":
                deal = rows[id]
                if not deal["is_deleted"]:
                    self._apply("deals", deal, {"status": "deleted"}, record_flow=True)
            elif table in ("persons", "organizations", "activities", "products"):
                row = rows[id]
                if not row["is_deleted"]:
                    self._apply(table, row, {"is_deleted": True}, record_flow=False)
            elif table == "files":
                row = rows[id]
                if row["active_flag"]:
                    self._apply(table, row, {"active_flag": False}, record_flow=False)
            elif table in ("deal_products", "participants"):
                row = rows.pop(id)
                self._deleted_ids[table].add(id)
                self._touch_deal(row["deal_id"])
            elif table in ("notes", "leads"):
                del rows[id]
                self._deleted_ids[table].add(id)
            else:
                raise KeyError(f"delete from {table!r} is not supported")
            self.version += 1

    def rename_field(self, entity: str, key: str, name: str) -> None:
        with self.lock:
            field = self._field(entity, key)
            field["name"] = name
            field["update_time"] = fmt_v1(self.clock_ts)
            self.version += 1

    def add_field(self, entity: str, name: str, field_type: str = "varchar") -> str:
        """Create a custom field (as a user would in the Pipedrive UI); returns its hash key."""
        with self.lock:
            rows = self.fields[entity]
            key = F.field_hash(entity, name)
            fid = max(f["id"] for fields in self.fields.values() for f in fields) + 1
            rows.append(F._field_row(fid, key, name, field_type, len(rows) + 1, None, True, fmt_v1(self.clock_ts)))
            self.version += 1
            return key

    def add_option(self, entity: str, key: str, label: str) -> int:
        with self.lock:
            field = self._field(entity, key)
            if field["field_type"] not in ("enum", "set"):
                raise ValueError(f"field {key} is {field['field_type']}, not enum/set")
            oid = self.next_option_id
            self.next_option_id += 1
            field["options"].append({"id": oid, "label": label})
            field["update_time"] = fmt_v1(self.clock_ts)
            self.version += 1
            return oid

    def _field(self, entity: str, key: str) -> dict:
        from .data import _entity
        for field in self.fields[_entity(entity)]:
            if field["key"] == key:
                return field
        raise KeyError(f"no {entity} field with key {key!r}")

    # ------------------------------------------------------------------ internals
    def _touch_deal(self, deal_id: int) -> None:
        deal = self.deals.get(deal_id)
        if deal is not None:
            deal["update_time"] = fmt_v2(self.clock_ts)

    def _custom_keys(self, table: str) -> set[str]:
        from .data import ENTITY_OF
        entity = ENTITY_OF.get(table)
        return {f["key"] for f in self.fields[entity] if f["edit_flag"]} if entity else set()

    def _apply(self, table: str, row: dict, fields: dict, record_flow: bool) -> None:
        custom_keys = self._custom_keys(table)
        custom_target = row.get("_custom") if table == "leads" else row.get("custom_fields")
        changes: list[tuple[str, Any, Any]] = []
        explicit_update_time = "update_time" in fields
        for key, value in fields.items():
            if key == "custom_fields" and custom_target is not None:
                for ck, cv in value.items():
                    changes.append((ck, custom_target.get(ck), cv))
                    custom_target[ck] = cv
            elif key in custom_keys and custom_target is not None:
                changes.append((key, custom_target.get(key), value))
                custom_target[key] = value
            else:
                changes.append((key, row.get(key), value))
                row[key] = value
        if table == "leads":
            row["_custom"] = {k: v for k, v in row["_custom"].items() if v is not None}
        if table == "deals":
            pipeline = row["pipeline_id"]
            self._deal_side_effects(row, fields)
            if row["pipeline_id"] != pipeline:          # a move to another pipeline's stage
                changes.append(("pipeline_id", pipeline, row["pipeline_id"]))
        if "update_time" in row and not explicit_update_time:
            row["update_time"] = self._stamp(table)
        self._sync_deleted(table, row)
        if table == "deals" and record_flow:
            from .data import _flow_value
            user = row["owner_id"]
            for key, old, new in changes:
                if key != "update_time" and old != new:
                    self._flow_event(row["id"], user, key, _flow_value(old), _flow_value(new), self.clock_ts)

    def _deal_side_effects(self, deal: dict, fields: dict) -> None:
        now = fmt_v2(self.clock_ts)
        if "stage_id" in fields:
            deal["pipeline_id"] = self.stages[deal["stage_id"]]["pipeline_id"]
            deal["stage_change_time"] = now
        if "status" in fields:
            status = deal["status"]
            if status == "deleted":
                deal["is_deleted"] = True
            elif status in ("won", "lost"):
                deal["is_deleted"] = False
                deal["close_time"] = now
                deal[f"{status}_time"] = now
                if status == "lost" and not deal.get("lost_reason"):
                    deal["lost_reason"] = "Went silent"
            elif status == "open":
                deal["is_deleted"] = False
                deal["close_time"] = deal["won_time"] = deal["lost_time"] = deal["lost_reason"] = None
        if fields.get("is_deleted") is True:
            deal["status"] = "deleted"
        if "is_archived" in fields:
            deal["archive_time"] = now if deal["is_archived"] else None

    # ------------------------------------------------------------------ random batches
    def mutate(self, seed: int = 2, updates: int = 20, inserts: int = 5, deletes: int = 3,
               same_second: int = 0) -> dict[str, list]:
        """Random changes, all stamped with the current clock; returns {"updated"/"inserted"/"deleted": [(table, id)]}."""
        rng = Random(f"mutate:{seed}")
        done: dict[str, list] = {"updated": [], "inserted": [], "deleted": []}
        with self.lock:
            for _ in range(updates):
                table = _weighted(rng, UPDATE_WEIGHTS)
                rid = self._random_live_id(rng, table)
                if rid is not None:
                    self._random_update(rng, table, rid)
                    done["updated"].append((table, rid))
            for _ in range(inserts):
                table = _weighted(rng, INSERT_WEIGHTS)
                rid = self.insert(table, _rng=rng)
                if table == "deals":
                    for _ in range(rng.randint(0, 2)):
                        self._add_deal_product(rng, self.deals[rid], self.clock_ts)
                done["inserted"].append((table, rid))
            for _ in range(deletes):
                table = _weighted(rng, DELETE_WEIGHTS)
                rid = self._random_live_id(rng, table)
                if rid is not None:
                    self.delete(table, rid)
                    done["deleted"].append((table, rid))
            if same_second:
                live = sorted(i for i, d in self.deals.items() if not d["is_deleted"])
                if live:
                    first = rng.randrange(max(1, len(live) - same_second + 1))
                    for rid in live[first:first + same_second]:
                        self._random_update(rng, "deals", rid, kind="value")
                        done["updated"].append(("deals", rid))
        return done

    def _random_live_id(self, rng: Random, table: str) -> Any:
        """A random row that is not deleted (deal children: of a deal that is not deleted)."""
        from .data import is_deleted
        rows = self.table(table)
        if table in ("deal_products", "participants"):
            ids = [i for i, r in rows.items() if r["deal_id"] in self.deals and not self.deals[r["deal_id"]]["is_deleted"]]
        elif table in self._deleted_at:
            ids = [i for i, r in rows.items() if not is_deleted(table, r)]
        else:
            ids = list(rows)
        return rng.choice(ids) if ids else None

    def _random_update(self, rng: Random, table: str, rid: Any, kind: str | None = None) -> None:
        row = self.table(table)[rid]
        entity = {"deals": "deal", "persons": "person", "organizations": "organization", "products": "product",
                  "activities": "activity", "leads": "deal"}.get(table)
        custom = [f for f in self.fields[entity] if f["edit_flag"]] if entity else []
        if table == "deals":
            kind = kind or rng.choice(["value", "stage", "status", "title", "owner", "custom", "custom",
                                       "archive" if rng.random() < 0.3 else "value"])
            if kind == "value":
                changes = {"value": amount(rng, 100, 100000)}
            elif kind == "stage":
                p = row["pipeline_id"]
                changes = {"stage_id": (p - 1) * 5 + rng.randint(1, 5)}
            elif kind == "status":
                changes = {"status": "open" if row["status"] != "open" else rng.choice(["won", "lost"])}
            elif kind == "title":
                changes = {"title": f"{rng.choice(F.WORDS).title()} deal {rid} v{rng.randint(2, 99)}"}
            elif kind == "owner":
                changes = {"owner_id": rng.randint(1, self.n_users)}
            elif kind == "archive":
                changes = {"is_archived": not row["is_archived"]}
            else:
                f = rng.choice(custom)
                changes = {f["key"]: F.custom_value(rng, f, self.ctx)}
            self.update("deals", rid, **changes)
            if rng.random() < 0.3:
                mine = [p for p, r in self.deal_products.items() if r["deal_id"] == rid]
                if mine and rng.random() < 0.5:
                    self.delete("deal_products", rng.choice(mine))
                else:
                    self._add_deal_product(rng, row, self.clock_ts)
            if rng.random() < 0.2:
                mine = [p for p, r in self.participants.items() if r["deal_id"] == rid]
                if len(mine) > 1 and rng.random() < 0.5:
                    self.delete("participants", rng.choice(mine))
                else:
                    self._add_participant(rng, rid, rng.randint(1, max(1, self.ctx.persons)), self.clock_ts)
            return
        if custom and rng.random() < 0.4:
            f = rng.choice(custom)
            value = F.custom_value(rng, f, self.ctx)
            self.update(table, rid, **{f["key"]: value})
            return
        word = rng.choice(F.WORDS)
        changes = {
            "persons": lambda: {"name": f"{rng.choice(F.FIRST)} {rng.choice(F.LAST)}", "owner_id": rng.randint(1, self.n_users)},
            "organizations": lambda: {"name": f"{word.title()} Group {rid}"},
            "activities": lambda: {"done": not row["done"], "subject": f"Follow up {word}"},
            "products": lambda: {"name": f"{word.title()} Pro {rid}", "description": f"{word} edition"},
            "notes": lambda: {"content": f"<p>edited {word}</p>"},
            "files": lambda: {"description": f"about {word}"},
            "leads": lambda: {"title": f"{word.title()} lead", "is_archived": rng.random() < 0.2},
        }[table]()
        if table == "activities":
            changes["marked_as_done_time"] = fmt_v2(self.clock_ts) if changes["done"] else None
        self.update(table, rid, **changes)


def _weighted(rng: Random, weights: list[tuple[str, int]]) -> str:
    return rng.choices([w[0] for w in weights], [w[1] for w in weights])[0]
