"""Field definitions (standard + custom), custom-field value generation, static reference tables."""
from __future__ import annotations

import hashlib
import time
from random import Random
from typing import Any

ENTITIES = ("deal", "person", "organization", "product", "activity")

CURRENCIES = [
    {"id": 1, "code": "EUR", "name": "Euro", "decimal_points": 2, "symbol": "€", "active_flag": True, "is_custom_flag": False},
    {"id": 2, "code": "USD", "name": "US Dollar", "decimal_points": 2, "symbol": "$", "active_flag": True, "is_custom_flag": False},
    {"id": 3, "code": "GBP", "name": "British Pound", "decimal_points": 2, "symbol": "£", "active_flag": True, "is_custom_flag": False},
    {"id": 4, "code": "SEK", "name": "Swedish Krona", "decimal_points": 2, "symbol": "kr", "active_flag": True, "is_custom_flag": False},
    {"id": 5, "code": "JPY", "name": "Japanese Yen", "decimal_points": 0, "symbol": "¥", "active_flag": True, "is_custom_flag": False},
]
CURRENCY_CODES = [c["code"] for c in CURRENCIES]

ACTIVITY_TYPES = [("Call", "call"), ("Meeting", "meeting"), ("Task", "task"), ("Deadline", "deadline"),
                  ("Email", "email"), ("Lunch", "lunch")]

WORDS = ("alpha bravo cedar delta ember falcon granite harbor iris juniper kestrel lumen maple nova onyx "
         "pine quartz raven sierra tundra umber vortex willow xenon yarrow zephyr").split()
FIRST = "Anna Ben Carla Dmitri Eva Felix Greta Hugo Ines Jonas Kaia Lars Mia Nils Olga Paul Rita Sven Tiina Uku".split()
LAST = "Tamm Saar Smith Muller Rossi Dubois Novak Kask Berg Lind Ilves Mets Koch Silva Sato Kim".split()
CITIES = [("Tallinn", "Estonia", "10111"), ("Berlin", "Germany", "10115"), ("Paris", "France", "75001"),
          ("London", "United Kingdom", "EC1A"), ("Austin", "USA", "73301"), ("Tokyo", "Japan", "100-0001")]
STREETS = ["Main St", "Harbour Rd", "Pine Ave", "Mustamäe tee", "Rue de Rivoli", "King's Rd"]

# (name, field_type, option labels)
CUSTOM_SPECS: dict[str, list[tuple[str, str, list[str]]]] = {
    "deal": [
        ("Customer type", "enum", ["Private person", "Company", "Government"]),
        ("Industries", "set", ["Retail", "Finance", "Health", "Energy", "Media"]),
        ("Contract value", "monetary", []),
        ("Region notes", "text", []),
        ("Reference code", "varchar", []),
        ("Score", "double", []),
        ("Renewal date", "date", []),
        ("Billing address", "address", []),
        ("Account manager", "user", []),
        ("Partner org", "org", []),
        ("Champion", "people", []),
        ("Hotline", "phone", []),
    ],
    "person": [
        ("Seniority", "enum", ["Junior", "Senior", "Executive"]),
        ("Interests", "set", ["Golf", "Sailing", "Chess", "Opera"]),
        ("Birthday", "date", []),
        ("Nickname", "varchar", []),
        ("Mobile", "phone", []),
        ("Budget", "monetary", []),
    ],
    "organization": [
        ("Company size", "enum", ["1-10", "11-50", "51-200", "200+"]),
        ("HQ address", "address", []),
        ("Annual revenue", "monetary", []),
        ("Tax id", "varchar", []),
        ("Rating", "double", []),
        ("Markets", "set", ["EU", "US", "APAC"]),
    ],
    "product": [
        ("Product family", "enum", ["Hardware", "Software", "Service"]),
        ("Spec notes", "text", []),
        ("Weight kg", "double", []),
        ("Launch date", "date", []),
    ],
    "activity": [
        ("Outcome", "enum", ["Positive", "Neutral", "Negative"]),
        ("Agenda", "text", []),
        ("Follow-up date", "date", []),
        ("Topics", "set", ["Pricing", "Roadmap", "Support"]),
    ],
}

# standard fields per entity: (key, name, field_type)
STANDARD_SPECS: dict[str, list[tuple[str, str, str]]] = {
    "deal": [("id", "ID", "int"), ("title", "Title", "varchar"), ("creator_user_id", "Creator", "user"),
             ("user_id", "Owner", "user"), ("value", "Value", "monetary"), ("currency", "Currency", "varchar_options"),
             ("org_id", "Organization", "org"), ("person_id", "Contact person", "people"),
             ("pipeline", "Pipeline", "double"), ("stage_id", "Stage", "stage"), ("status", "Status", "status"),
             ("probability", "Probability", "double"), ("lost_reason", "Lost reason", "varchar_options"),
             ("visible_to", "Visible to", "visible_to"), ("add_time", "Deal created", "date"),
             ("update_time", "Update time", "date"), ("stage_change_time", "Last stage change", "date"),
             ("close_time", "Deal closed on", "date"), ("won_time", "Won time", "date"),
             ("lost_time", "Lost time", "date"), ("expected_close_date", "Expected close date", "date"),
             ("label", "Label", "set")],
    "person": [("id", "ID", "int"), ("name", "Name", "varchar"), ("first_name", "First name", "varchar"),
               ("last_name", "Last name", "varchar"), ("owner_id", "Owner", "user"), ("org_id", "Organization", "org"),
               ("email", "Email", "varchar"), ("phone", "Phone", "phone"), ("label", "Label", "set"),
               ("visible_to", "Visible to", "visible_to"), ("add_time", "Person created", "date"),
               ("update_time", "Update time", "date")],
    "organization": [("id", "ID", "int"), ("name", "Name", "varchar"), ("owner_id", "Owner", "user"),
                     ("address", "Address", "address"), ("label", "Label", "set"),
                     ("visible_to", "Visible to", "visible_to"), ("add_time", "Organization created", "date"),
                     ("update_time", "Update time", "date")],
    "product": [("id", "ID", "int"), ("name", "Name", "varchar"), ("code", "Product code", "varchar"),
                ("description", "Description", "text"), ("unit", "Unit", "varchar"), ("tax", "Tax", "double"),
                ("category", "Category", "enum"), ("owner_id", "Owner", "user"), ("prices", "Price", "monetary"),
                ("add_time", "Add time", "date"), ("update_time", "Update time", "date")],
    "activity": [("id", "ID", "int"), ("subject", "Subject", "varchar"), ("type", "Type", "enum"),
                 ("owner_id", "Assigned to user", "user"), ("deal_id", "Deal", "int"), ("person_id", "Person", "people"),
                 ("org_id", "Organization", "org"), ("due_date", "Due date", "date"), ("due_time", "Due time", "time"),
                 ("duration", "Duration", "time"), ("done", "Done", "enum"), ("note", "Note", "text"),
                 ("add_time", "Add time", "date"), ("update_time", "Update time", "date")],
}


def field_hash(entity: str, name: str) -> str:
    return hashlib.sha1(f"pipedrive-sandbox:{entity}:{name}".encode()).hexdigest()


def fmt_v2(ts: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def fmt_v1(ts: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts))


def money(x: float) -> int | float:
    """Round to cents; a whole amount becomes a JSON integer (5000, not 5000.0), as the API sends it."""
    x = round(x, 2)
    return int(x) if x == int(x) else x


def amount(rng: Random, lo: int, hi: int, whole: bool | None = None, p_whole: float = 0.45) -> int | float:
    """A money amount in [lo, hi]: either whole (an int, often round) or with non-zero cents (a float)."""
    if whole is None:
        whole = rng.random() < p_whole
    if whole:
        step = 50 if hi >= 5000 else 5
        return max(lo, ri(rng, lo // step, hi // step) * step)
    return round(ri(rng, lo, hi - 1) + ri(rng, 1, 99) / 100, 2)


def fmt_lead(ts: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(ts))


def fmt_date(ts: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ts))


def v2_to_v1(ts: str | None) -> str | None:
    return None if ts is None else f"{ts[:10]} {ts[11:19]}"


def build_fields(start_ts: int) -> tuple[dict[str, list[dict]], int]:
    """Field definition rows (v1 *Fields shape) per entity; returns (fields, next option id)."""
    out: dict[str, list[dict]] = {}
    field_id = 1
    option_id = 100
    stamp = fmt_v1(start_ts)
    for entity in ENTITIES:
        rows = []
        order = 0
        for key, name, ftype in STANDARD_SPECS[entity]:
            order += 1
            rows.append(_field_row(field_id, key, name, ftype, order, None, False, stamp))
            field_id += 1
        for name, ftype, labels in CUSTOM_SPECS[entity]:
            order += 1
            options = None
            if labels:
                options = []
                for label in labels:
                    options.append({"id": option_id, "label": label})
                    option_id += 1
            rows.append(_field_row(field_id, field_hash(entity, name), name, ftype, order, options, True, stamp))
            field_id += 1
        out[entity] = rows
    return out, option_id


def _field_row(fid: int, key: str, name: str, ftype: str, order: int, options: list | None,
               custom: bool, stamp: str) -> dict:
    return {
        "id": fid, "key": key, "name": name, "order_nr": order, "field_type": ftype,
        "add_time": stamp, "update_time": stamp, "last_updated_by_user_id": 1, "created_by_user_id": 1,
        "active_flag": True, "edit_flag": custom, "index_visible_flag": True, "details_visible_flag": True,
        "add_visible_flag": True, "important_flag": False, "bulk_edit_allowed": True,
        "searchable_flag": ftype in ("varchar", "text", "address", "double", "monetary", "phone"),
        "filtering_allowed": True, "sortable_flag": True, "options": options, "mandatory_flag": False,
    }


def address(rng: Random) -> dict:
    city, country, postal = CITIES[rr(rng, len(CITIES))]
    number = str(ri(rng, 1, 200))
    route = STREETS[rr(rng, len(STREETS))]
    formatted = f"{route} {number}, {postal} {city}, {country}"
    return {"value": formatted, "street_number": number, "route": route, "sublocality": None,
            "locality": city, "admin_area_level_1": None, "admin_area_level_2": None,
            "country": country, "postal_code": postal, "formatted_address": formatted}


def custom_value(rng: Random, field: dict, ctx: "ValueContext") -> Any:
    """A v2-shaped value for a custom field (may be None)."""
    if rng.random() < 0.2:
        return None
    ftype = field["field_type"]
    if ftype == "varchar":
        return f"REF-{ri(rng, 1000, 99999)}"
    if ftype == "text":
        return " ".join(pick(rng, WORDS) for _ in range(ri(rng, 2, 8)))
    if ftype == "double":
        return round(rng.uniform(0, 1000), 2)
    if ftype == "date":
        return fmt_date(ctx.start_ts + rr(rng, ctx.span + 86400 * 365))
    if ftype == "phone":
        return f"+372 5{ri(rng, 100000, 9999999)}"
    if ftype == "enum":
        return pick(rng, field["options"])["id"]
    if ftype == "set":
        opts = field["options"]
        return sorted(o["id"] for o in rng.sample(opts, ri(rng, 1, min(3, len(opts)))))
    if ftype == "monetary":
        return {"value": round(rng.uniform(10, 50000), 2), "currency": pick(rng, CURRENCY_CODES)}
    if ftype == "address":
        return address(rng)
    if ftype == "user":
        return ri(rng, 1, ctx.users)
    if ftype == "org":
        return ri(rng, 1, max(1, ctx.orgs))
    if ftype == "people":
        return ri(rng, 1, max(1, ctx.persons))
    return None


class ValueContext:
    def __init__(self, start_ts: int, span: int, users: int, orgs: int, persons: int):
        self.start_ts, self.span, self.users, self.orgs, self.persons = start_ts, span, users, orgs, persons


def v1_flat_custom(fields: list[dict], values: dict) -> dict:
    """v2 custom_fields -> v1 top-level hash keys (as v1 deals/leads carry them); unset values omitted."""
    out: dict[str, Any] = {}
    by_key = {f["key"]: f for f in fields}
    for key, value in values.items():
        if value is None or key not in by_key:
            continue
        ftype = by_key[key]["field_type"]
        if ftype == "enum":
            out[key] = str(value)
        elif ftype == "set":
            out[key] = ",".join(str(v) for v in value)
        elif ftype == "monetary":
            out[key] = value["value"]
            out[f"{key}_currency"] = value["currency"]
        elif ftype == "address":
            out[key] = value["value"]
            for sub in ("street_number", "route", "sublocality", "locality", "admin_area_level_1",
                        "admin_area_level_2", "country", "postal_code", "formatted_address"):
                out[f"{key}_{sub}"] = value.get(sub)
        else:
            out[key] = value
    return out


def static_users(n: int, start_ts: int) -> list[dict]:
    rows = []
    for i in range(1, n + 1):
        name = f"{FIRST[(i - 1) % len(FIRST)]} {LAST[(i - 1) % len(LAST)]}"
        rows.append({
            "id": i, "name": name, "default_currency": "EUR", "locale": "en_US", "lang": 1,
            "email": f"user{i}@sandbox.example", "phone": f"0000-{i:04d}", "activated": True,
            "last_login": fmt_v1(start_ts + i * 3600), "created": fmt_v1(start_ts), "modified": fmt_v1(start_ts),
            "has_created_company": i == 1,
            "access": [{"app": "sales", "admin": i == 1, "permission_set_id": f"00000000-0000-4000-8000-{i:012d}"}],
            "active_flag": i != n, "timezone_name": "Europe/Tallinn", "timezone_offset": "+02:00",
            "role_id": 1, "icon_url": None, "is_you": i == 1, "is_deleted": False,
        })
    return rows


def static_activity_types(start_ts: int) -> list[dict]:
    return [{"id": i, "order_nr": i, "name": name, "key_string": key, "icon_key": key, "active_flag": True,
             "color": "FFFFFF", "is_custom_flag": False, "add_time": fmt_v1(start_ts), "update_time": fmt_v1(start_ts)}
            for i, (name, key) in enumerate(ACTIVITY_TYPES, 1)]


def static_filters(start_ts: int) -> list[dict]:
    names = [("All open deals", "deals"), ("Won this year", "deals"), ("Key people", "people"),
             ("Big orgs", "org"), ("Overdue activities", "activity")]
    return [{"id": i, "name": name, "active_flag": True, "type": typ, "temporary_flag": None, "user_id": 1,
             "add_time": fmt_v1(start_ts), "update_time": fmt_v1(start_ts), "visible_to": 7, "custom_view_id": None}
            for i, (name, typ) in enumerate(names, 1)]


# fast Random helpers (Random.randint/choice are ~5x slower than random())
def ri(rng: Random, a: int, b: int) -> int:
    return a + int(rng.random() * (b - a + 1))


def pick(rng: Random, seq: Any) -> Any:
    return seq[int(rng.random() * len(seq))]


def rr(rng: Random, n: int) -> int:
    return int(rng.random() * n)
