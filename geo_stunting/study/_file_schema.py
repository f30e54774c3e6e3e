"""The JSON Schema of the study file, for editors that validate and complete ``study.toml``.

The schema is generated from the declared model
(`geo_stunting.study._file_model.StudyFile`); the repository keeps a copy in
``schema/study.schema.json`` (``geo-stunting schema --out schema/study.schema.json``;
a test checks it is up to date). An editor with a TOML language server
(taplo, "Even Better TOML" in VS Code) uses it when the study file's first
line is a directive::

    #:schema ./study.schema.json

TOML has no null: optional keys are simply absent, so the schema never
offers ``null``.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from geo_stunting.study._file_model import StudyFile

__all__ = ["SCHEMA_DIRECTIVE", "study_file_schema", "study_file_schema_text"]

#: The first line of a study file that points taplo at the schema beside it.
SCHEMA_DIRECTIVE = "#:schema ./study.schema.json"


class _TomlSchema(GenerateJsonSchema):
    """JSON Schema as TOML sees it: an optional key is absent, never null."""

    # pydantic's hooks; their docstrings are pydantic's.

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        return self.generate_inner(schema["schema"])

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        generated = super().default_schema(schema)
        if generated.get("default", 0) is None or isinstance(generated.get("default"), dict):
            del generated["default"]  # absent keys; a section's defaults are its keys' defaults
        return generated


def study_file_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a study file.

    Examples
    --------
    >>> schema = study_file_schema()
    >>> schema["anyOf"], sorted(schema["properties"])[:3]
    ([{'required': ['subjects']}, {'required': ['area', 'areas']}], ['analysis', 'area', 'areas'])
    """
    schema = StudyFile.model_json_schema(schema_generator=_TomlSchema)
    # a study of home points needs [subjects]; a study of counts per area needs [area] and [areas]
    either = {"anyOf": [{"required": ["subjects"]}, {"required": ["area", "areas"]}]}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema, **either}


def study_file_schema_text() -> str:
    """The schema as the committed file holds it (sorted keys, two-space indent, final newline)."""
    return json.dumps(study_file_schema(), indent=2, ensure_ascii=False) + "\n"
