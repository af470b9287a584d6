"""flytecodec: Flyte's execution records, decoded fast and losslessly, as flytekit's models.

Switching from flytekit is an import change (``flytekit.models.execution`` → ``flytecodec.models.execution``).
Bulk decoding of admin responses, delimited dumps and columns of bytes: :func:`decode` and friends.
"""

from flytecodec._backend import available_backends, backend, set_backend, using_backend
from flytecodec.bulk import Batch, concat, decode, decode_executions, decode_node_executions, decode_task_executions
from flytecodec.exceptions import DecodeError, FlyteAssertion, InternalError
from flytecodec.streaming import iter_batches

__version__ = "0.1.0"

__all__ = [
    "Batch",
    "DecodeError",
    "FlyteAssertion",
    "InternalError",
    "__version__",
    "available_backends",
    "backend",
    "concat",
    "dataset",
    "decode",
    "decode_executions",
    "decode_node_executions",
    "decode_task_executions",
    "from_arrow",
    "iter_batches",
    "set_backend",
    "using_backend",
]


def __getattr__(name: str):
    # flytecodec.dataset lives in flytecodec.shards, imported when first asked for (importing flytecodec stays quick)
    if name == "dataset":
        from flytecodec.shards import dataset

        return dataset
    if name == "from_arrow":  # flytecodec.nested.from_arrow, imported when first asked for too
        from flytecodec.nested import from_arrow

        return from_arrow
    raise AttributeError(f"module 'flytecodec' has no attribute {name!r}")
