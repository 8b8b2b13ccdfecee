"""results.json's schema versions: which ones this package reads, and how older ones are lifted."""

CURRENT_SCHEMA = 1
# Older versions this package can still read, each with the function that lifts
# a document one version up. Add an entry here when the schema changes.
UPGRADES = {}


class SchemaError(ValueError):
    """A results file this package does not know how to read."""


def schema_number(value):
    """1 from 1, "1" or "ringside-results/1"; None when it is none of these."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        tail = value.rsplit("/", 1)[-1]
        return int(tail) if tail.isdigit() else None
    return None


def upgrade(document, origin):
    """The document in the current schema, or SchemaError naming the file and both versions."""
    if not isinstance(document, dict):
        raise SchemaError(f"{origin}: not a JSON object")
    raw = document.get("schema_version")
    version = schema_number(raw)
    known = sorted([CURRENT_SCHEMA, *UPGRADES])
    if version is None or (version != CURRENT_SCHEMA and version not in UPGRADES):
        raise SchemaError(f"{origin}: schema_version {raw!r} is unknown; this reports package reads "
                          f"versions {', '.join(map(str, known))}. Upgrade ringside's reports/ "
                          f"(or re-run with the matching run_all.py).")
    while version != CURRENT_SCHEMA:
        document = UPGRADES[version](document)
        version = schema_number(document.get("schema_version"))
    return document
