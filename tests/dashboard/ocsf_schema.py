"""The OCSF schema the exports are validated against, offline: `ocsf-json-schema` ships the
schema.ocsf.io exports of every 1.x version (Apache-2.0) and builds a JSON Schema (draft
2020-12) of one class with every object it references embedded, strict (no unknown attribute,
enums and required attributes enforced)."""

from __future__ import annotations

import functools
from typing import Any

import jsonschema
from ocsf_json_schema import OcsfJsonSchemaEmbedded, get_ocsf_schema

from dashboard.export.ocsf import CLASS_UID, OCSF_VERSION


@functools.cache
def detection_finding_validator() -> jsonschema.Draft202012Validator:
    schema = OcsfJsonSchemaEmbedded(get_ocsf_schema(version=OCSF_VERSION))
    class_schema = schema.get_class_schema(schema.lookup_class_name_from_uid(CLASS_UID), [])
    jsonschema.Draft202012Validator.check_schema(class_schema)
    return jsonschema.Draft202012Validator(class_schema)


def schema_errors(record: dict[str, Any]) -> list[str]:
    """Every way `record` breaks the class schema, as `path: message`; empty when valid."""
    errors = detection_finding_validator().iter_errors(record)
    return sorted(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)
