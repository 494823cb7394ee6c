"""gitreg's errors as MLflow's: the message and its hint in one MlflowException, with the error
code MLflow's client and server understand (404 for what is not registered, 403 for a write
the registry refuses)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import (
    FEATURE_DISABLED,
    INTERNAL_ERROR,
    INVALID_PARAMETER_VALUE,
    INVALID_STATE,
    PERMISSION_DENIED,
    RESOURCE_DOES_NOT_EXIST,
)

from gitreg.errors import GitregError, MissingExtra, NotFound, RegistryRefusal, UsageError


def refused(what: str, command: str, why: str = "") -> MlflowException:
    """A write MLflow's client asked for that only gitreg's own command may make."""
    because = f" {why}" if why else ""
    return MlflowException(
        f"the gitreg registry does not {what} through MLflow.{because} Run: {command}",
        error_code=PERMISSION_DENIED,
    )


def translate(exc: GitregError) -> MlflowException:
    text = str(exc)
    if isinstance(exc, NotFound):
        code = RESOURCE_DOES_NOT_EXIST
    elif isinstance(exc, RegistryRefusal):
        code = INVALID_STATE
    elif isinstance(exc, MissingExtra):
        code = FEATURE_DISABLED
    elif isinstance(exc, UsageError):
        code = INVALID_PARAMETER_VALUE
    else:
        code = INTERNAL_ERROR
    return MlflowException(f"gitreg: {text}", error_code=code)


@contextlib.contextmanager
def as_mlflow() -> Iterator[None]:
    """Raise any gitreg error inside as an MlflowException (the gitreg error chained)."""
    try:
        yield
    except GitregError as exc:
        raise translate(exc) from exc
