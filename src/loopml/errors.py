"""The loopml error tree.

Every error loopml raises on purpose is a :class:`LoopmlError`. Each class carries the HTTP
status the server answers with and the exit code the CLI ends with, so the edges render
errors in one place instead of guessing::

    LoopmlError (500, exit 1)
     ├── InvalidInputError (400, exit 2)          bad names, values, filters, paths
     │    ├── InvalidNameError
     │    ├── ValueTooLongError
     │    ├── InvalidPathError                     '..', absolute paths, URL schemes
     │    ├── SearchSyntaxError                    a malformed filter or order_by
     │    ├── InvalidUriError                      runs:/…, models:/…, tracking URIs
     │    ├── SignatureError                       data that does not fit a model's signature
     │    ├── DataSchemaError                      a dataset schema file that cannot be used
     │    ├── PipelineDefinitionError              a step used outside a pipeline, a bad input
     │    ├── UnsupportedMediaTypeError (415)      a request body of a type a server does not read
     │    ├── PayloadTooLargeError (413)           a request body over a server's size limit
     │    └── UnsupportedModelError                a model object no flavor can save
     ├── NotFoundError (404, exit 3)
     │    ├── ExperimentNotFoundError
     │    ├── RunNotFoundError
     │    ├── ArtifactNotFoundError
     │    ├── RegisteredModelNotFoundError
     │    ├── ModelVersionNotFoundError            also an alias that names no version
     │    ├── DatasetNotFoundError
     │    ├── DatasetVersionNotFoundError
     │    ├── DeploymentNotFoundError
     │    └── MonitorNotFoundError
     ├── ConflictError (409, exit 4)
     │    ├── AlreadyExistsError                   a name clash
     │    ├── ParamConflictError                   a param re-logged with another value
     │    ├── InvalidStateError                    e.g. logging to a deleted or finished run
     │    └── RevisionConflictError                a deployment or monitor changed since it was read
     ├── IntegrityError (500, exit 5)
     │    ├── CorruptBlobError                     a blob whose bytes do not match its digest
     │    └── ModelIntegrityError                  a packaged model file that fails its digest
     ├── StoreError (503, exit 6)                  a store could not be reached or written
     │    ├── SchemaVersionError                   the database is newer than this loopml
     │    └── RemoteError                          a data remote failed mid-transfer
     ├── StepFailedError (500, exit 1)             a pipeline step raised (after its retries)
     ├── ScoringError (500, exit 1)                a model raised while scoring a batch file
     ├── PredictionError (500, exit 1)             a served model raised inside predict
     ├── ModelLoadError (400, exit 2)              a model that cannot be loaded here
     ├── ConfigurationError (400, exit 2)          a setting that cannot be used
     ├── AuthenticationError (401, exit 7)         a server wants a token: none or a wrong one
     └── PermissionDeniedError (403, exit 8)       a read-only token asked for a change
"""

from __future__ import annotations

__all__ = [
    "AlreadyExistsError",
    "ArtifactNotFoundError",
    "AuthenticationError",
    "ConfigurationError",
    "ConflictError",
    "CorruptBlobError",
    "DataSchemaError",
    "DatasetNotFoundError",
    "DatasetVersionNotFoundError",
    "DeploymentNotFoundError",
    "ExperimentNotFoundError",
    "IntegrityError",
    "InvalidInputError",
    "InvalidNameError",
    "InvalidPathError",
    "InvalidStateError",
    "InvalidUriError",
    "LoopmlError",
    "ModelIntegrityError",
    "ModelLoadError",
    "ModelVersionNotFoundError",
    "MonitorNotFoundError",
    "NotFoundError",
    "ParamConflictError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "PipelineDefinitionError",
    "PredictionError",
    "RegisteredModelNotFoundError",
    "RemoteError",
    "RevisionConflictError",
    "RunNotFoundError",
    "SchemaVersionError",
    "ScoringError",
    "SearchSyntaxError",
    "SignatureError",
    "StepFailedError",
    "StoreError",
    "UnsupportedMediaTypeError",
    "UnsupportedModelError",
    "ValueTooLongError",
]


class LoopmlError(Exception):
    """Root of every error loopml raises on purpose.

    Attributes:
        http_status: the status the server answers with.
        exit_code: the code the CLI exits with.
        code: a stable machine-readable name (used in JSON error bodies).
    """

    http_status: int = 500
    exit_code: int = 1
    code: str = "INTERNAL_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, str]:
        """The JSON body the server sends for this error."""
        return {"error_code": self.code, "message": self.message, "type": type(self).__name__}


class InvalidInputError(LoopmlError):
    """The caller passed something loopml cannot accept."""

    http_status = 400
    exit_code = 2
    code = "INVALID_PARAMETER_VALUE"


class InvalidNameError(InvalidInputError):
    """A key or name has characters or a shape loopml does not accept."""


class ValueTooLongError(InvalidInputError):
    """A key, value or name is longer than its column allows."""


class InvalidPathError(InvalidInputError):
    """An artifact path tries to leave its root, is absolute, or carries a URL scheme."""


class SearchSyntaxError(InvalidInputError):
    """A search filter or order_by clause is malformed."""


class InvalidUriError(InvalidInputError):
    """A URI (runs:/, models:/, a tracking URI, …) cannot be parsed."""


class SignatureError(InvalidInputError):
    """Data does not match a model's signature: a missing, extra or mistyped column."""


class UnsupportedModelError(InvalidInputError):
    """loopml has no flavor for this kind of model object, or the chosen flavor cannot save it."""


class DataSchemaError(InvalidInputError):
    """A dataset schema (YAML or dict) is malformed: an unknown key, type or bound."""


class PipelineDefinitionError(InvalidInputError):
    """A pipeline cannot be built: a step called outside one, an input from elsewhere, …"""


class UnsupportedMediaTypeError(InvalidInputError):
    """A request body in a format the server does not read (e.g. XML to a model server)."""

    http_status = 415


class PayloadTooLargeError(InvalidInputError):
    """A request body larger than the server accepts (``serving_max_body_mb``)."""

    http_status = 413


class NotFoundError(LoopmlError):
    """The thing asked for does not exist."""

    http_status = 404
    exit_code = 3
    code = "RESOURCE_DOES_NOT_EXIST"


class ExperimentNotFoundError(NotFoundError):
    """No experiment with that id or name."""


class RunNotFoundError(NotFoundError):
    """No run with that id."""


class ArtifactNotFoundError(NotFoundError):
    """No artifact (or blob) at that path or digest."""


class RegisteredModelNotFoundError(NotFoundError):
    """No registered model with that name."""


class ModelVersionNotFoundError(NotFoundError):
    """No such version (or alias) of a registered model."""


class DatasetNotFoundError(NotFoundError):
    """No dataset with that name."""


class DatasetVersionNotFoundError(NotFoundError):
    """No such version of a dataset (or no blob a version needs)."""


class DeploymentNotFoundError(NotFoundError):
    """No deployment with that name."""


class MonitorNotFoundError(NotFoundError):
    """No monitor with that name (or no stored result for that window)."""


class ConflictError(LoopmlError):
    """The request clashes with what is already stored."""

    http_status = 409
    exit_code = 4
    code = "RESOURCE_ALREADY_EXISTS"


class AlreadyExistsError(ConflictError):
    """An object with that name already exists."""


class ParamConflictError(ConflictError):
    """A parameter was logged again with a different value (params are immutable)."""

    code = "INVALID_PARAMETER_VALUE"
    http_status = 400


class InvalidStateError(ConflictError):
    """The object is in a state that does not allow the operation."""

    code = "INVALID_STATE"


class RevisionConflictError(ConflictError):
    """A deployment or a monitor was changed by someone else since the revision the update
    was based on; read it again and retry."""

    code = "RESOURCE_CONFLICT"


class IntegrityError(LoopmlError):
    """Stored data failed an integrity check."""

    exit_code = 5
    code = "DATA_LOSS"


class CorruptBlobError(IntegrityError):
    """A blob's bytes do not hash to the digest it is stored under."""


class ModelIntegrityError(IntegrityError):
    """A packaged model's file is missing, extra or does not match its recorded digest."""


class StepFailedError(LoopmlError):
    """A pipeline step raised (after its retries); the run is marked failed, and the
    outputs of the steps that finished are kept for ``resume``."""

    code = "STEP_FAILED"


class ScoringError(LoopmlError):
    """A model raised while scoring a chunk of a batch file (``loopml predict``); the
    message names the chunk and its rows, and no output file is left behind."""

    code = "SCORING_FAILED"


class PredictionError(LoopmlError):
    """A served model raised inside ``predict``; the server answers 500 with the request id
    and keeps serving."""

    code = "PREDICTION_FAILED"


class ModelLoadError(LoopmlError):
    """A packaged model could not be loaded (a missing library, a broken manifest, ...)."""

    http_status = 400
    exit_code = 2
    code = "INVALID_PARAMETER_VALUE"


class StoreError(LoopmlError):
    """A metadata or artifact store could not be reached or written."""

    http_status = 503
    exit_code = 6
    code = "TEMPORARILY_UNAVAILABLE"


class SchemaVersionError(StoreError):
    """The database schema is newer than this version of loopml understands."""


class RemoteError(StoreError):
    """A data remote could not be reached, listed or written."""


class ConfigurationError(LoopmlError):
    """A setting has a value loopml cannot use."""

    http_status = 400
    exit_code = 2
    code = "INVALID_PARAMETER_VALUE"


class AuthenticationError(LoopmlError):
    """A loopml server that needs a token was sent none, or one it does not know."""

    http_status = 401
    exit_code = 7
    code = "UNAUTHENTICATED"


class PermissionDeniedError(LoopmlError):
    """A loopml server knows the token, but it may not make this change (a read-only token)."""

    http_status = 403
    exit_code = 8
    code = "PERMISSION_DENIED"
