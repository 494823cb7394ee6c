"""Results as data: the one function that turns the API's dataclasses into JSON-ready values.

A dataclass field is emitted under its own name, or under `metadata={"json": KEY}`; a field with
`metadata={"json": None}` is left out. A class may name derived properties to add in
`json_properties`. The CLI's `--json` and every `to_dict()` go through `to_data`.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
from typing import Any


def to_data(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(value):
            key = f.metadata.get("json", f.name)
            if key is not None:
                out[key] = to_data(getattr(value, f.name))
        for name in getattr(value, "json_properties", ()):
            out[name] = to_data(getattr(value, name))
        return out
    if isinstance(value, dict):
        return {str(k): to_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_data(v) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return value
