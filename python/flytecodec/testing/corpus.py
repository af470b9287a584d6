"""Deterministic corpus of realistic Flyte admin execution records.

The generators here build ``flyteidl`` pb2 messages that look like what flyteadmin returns from
``ListExecutions`` / ``ListNodeExecutions`` / ``ListTaskExecutions``: flyteadmin-style names and
ids, every phase with a plausible distribution, timestamps between 2023 and 2026 with nanosecond
precision, offloaded and inline outputs, multi-kilobyte Python tracebacks, Kubernetes log links,
cache metadata, a few percent of non-ASCII text, and the deprecated or rarely used fields that
flytekit never reads. The corpus feeds the model-versus-flytekit comparisons and the benchmarks.

Node and task executions come in groups, as list pages do: the nodes of one workflow execution,
the retry attempts of one node.

Determinism: everything is drawn from one ``random.Random(seed)`` per call, using only operations
whose results CPython defines exactly (integer draws, ``random()``, ``choices`` with integer
weights, ``+``/``*`` on floats, ``round``). No global random state, clock, ``hash()`` or set
iteration is involved, so the same ``(n, seed)`` gives equal messages on every machine, and
``f(n, seed)`` is a prefix of ``f(m, seed)`` for ``n <= m``.

Serialize with ``deterministic=True`` when bytes must be reproducible: upb writes map entries in
the order of its hash table, which is seeded per process, so a plain ``SerializeToString()`` of a
message with a map field differs from one interpreter run to the next. :func:`delimited` does this.

Coverage: values that a weighted draw could miss in a small corpus (the literal types, rare enum
values of rare sub-messages, rare optional fields) come in rotation instead (``_Gen.cycle`` and
``_Gen.every``), so 1 000 records of a kind use every enum value and oneof branch that the kind
uses at all; ``tests/models/test_testing_corpus.py`` checks this.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Generic, NamedTuple, TypeVar

from flyteidl.admin import (
    cluster_assignment_pb2,
    common_pb2,
    execution_pb2,
    matchable_resource_pb2,
    node_execution_pb2,
    task_execution_pb2,
)
from flyteidl.core import (
    artifact_id_pb2,
    catalog_pb2,
    execution_envs_pb2,
    identifier_pb2,
    literals_pb2,
    security_pb2,
    types_pb2,
)
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.event import event_pb2
from google.protobuf import duration_pb2, struct_pb2, timestamp_pb2, wrappers_pb2
from google.protobuf.message import Message

__all__ = [
    "KINDS",
    "delimited",
    "execution_list",
    "executions",
    "node_execution_list",
    "node_executions",
    "task_execution_list",
    "task_executions",
    "varint",
]

T = TypeVar("T")

_NS = 1_000_000_000
_MS = 1_000_000
_MINUTE = 60 * _NS
_HOUR = 60 * _MINUTE
_DAY = 24 * _HOUR
_START_NS = 1_672_531_200 * _NS  # 2023-01-01T00:00:00Z
_END_NS = 1_798_761_600 * _NS - 7 * _DAY  # a week before 2027-01-01, so derived times stay in 2026

_WF = core_execution_pb2.WorkflowExecution
_NODE = core_execution_pb2.NodeExecution
_TASK = core_execution_pb2.TaskExecution
_ERR = core_execution_pb2.ExecutionError
_LOG = core_execution_pb2.TaskLog
_MODE = execution_pb2.ExecutionMetadata
_SIMPLE = types_pb2.SimpleType
_COLUMN = types_pb2.SchemaType.SchemaColumn
_BLOB = types_pb2.BlobType
_ID = identifier_pb2
_SECRET = security_pb2.Secret
_TIER = core_execution_pb2.QualityOfService
_CACHE = catalog_pb2


class _Weighted(Generic[T]):
    """Values with integer weights, ready for ``Random.choices(cum_weights=...)``."""

    __slots__ = ("cum", "values")

    def __init__(self, *pairs: tuple[T, int]) -> None:
        self.values: tuple[T, ...] = tuple(value for value, _ in pairs)
        cum: list[int] = []
        total = 0
        for _, weight in pairs:
            total += weight
            cum.append(total)
        self.cum: tuple[int, ...] = tuple(cum)


# ---------------------------------------------------------------------------------------------
# Vocabulary
# ---------------------------------------------------------------------------------------------

_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
_HEX = "0123456789abcdef"
_DIGITS = "0123456789"
_B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

# fmt: off
_PROJECTS = (
    "flytesnacks", "ml", "recsys", "fraud", "search", "data-eng", "forecast", "nlp", "vision", "ads",
    "growth", "risk", "supply-chain", "genomics", "llm", "features", "etl", "bi", "pricing", "churn",
    "c360", "mmm", "robotics", "speech", "ocr", "geo", "telemetry", "credit", "inventory", "experiments",
)
_ORGS = ("acme", "globex")
_BUCKETS = (
    "s3://flyte-prod-metadata", "s3://my-s3-bucket", "gs://flyte-gcp-store", "s3://union-data-us-east-2",
    "gs://ml-artifacts-eu",
)
_MODULES = ("training", "etl", "inference", "evaluation", "daily", "backfill", "features", "reporting")
_WORKFLOWS = (
    "training_wf", "daily_etl", "batch_infer", "evaluate", "backfill", "build_features", "report", "hpo_sweep",
    "ingest", "retrain", "export", "validate",
)
_TASKS = (
    "load_data", "clean", "split_dataset", "train_model", "evaluate", "register_model", "upload_results",
    "compute_features", "score_batch", "send_report", "fetch_snapshot", "aggregate", "dedupe",
    "validate_schema",
)
_FIRST = (
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
    "mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yusuf",
)
_LAST = ("smith", "nguyen", "garcia", "kumar", "chen", "okafor", "schmidt", "rossi", "tanaka", "kowalski")
_UNICODE_PRINCIPALS = (
    "josé.garcía@example.com", "zoë.müller@example.de", "王伟@example.cn", "ελένη.παπαδοπούλου@example.gr",
    "søren.kjær@example.dk", "محمد.علي@example.ae", "🤖-release-bot@example.com",
)
_SERVICE_PRINCIPALS = ("svc-airflow", "flytectl", "0oa1x2kq8f3ZbX5d4697", "github-actions", "argo-events")
_LABELS = (
    ("team", "ml-platform"), ("team", "data-eng"), ("team", "search"), ("owner", "alice"), ("owner", "yusuf"),
    ("cost-center", "cc-1042"), ("cost-center", "cc-2210"), ("env", "prod"), ("tier", "gold"),
    ("model", "resnet50"), ("model", "xgboost"), ("git-branch", "main"), ("triggered-by", "airflow"),
)
_UNICODE_LABELS = (("team", "équipe-données"), ("team", "数据平台"), ("owner", "müller"), ("release", "🚀-launch"))
_ANNOTATIONS = (
    ("description", "Nightly retraining of the ranking model"), ("jira", "MLP-4821"),
    ("runbook", "https://wiki.example.com/runbooks/flyte/ranking-retrain"), ("slack-channel", "#ml-alerts"),
    ("notes", "Backfill after the 2024-03 schema change; safe to rerun"), ("git-sha", "9f1c2ab"),
)
_UNICODE_ANNOTATIONS = (
    ("description", "nightly run 🚀 — do not cancel"), ("description", "再训练排序模型（最近30天）"),
    ("notes", "Überprüfung der Eingabedaten für Q3"), ("notes", "Проверка качества данных"),
    ("description", "モデルの再学習 ✅"),
)
_ENV_VARS = (
    ("LOG_LEVEL", "INFO"), ("LOG_LEVEL", "DEBUG"), ("MLFLOW_TRACKING_URI", "https://mlflow.internal.example.com"),
    ("AWS_REGION", "us-east-1"), ("OMP_NUM_THREADS", "8"), ("FEATURE_FLAG_NEW_SAMPLER", "true"),
    ("WANDB_PROJECT", "ranking"), ("PYTHONUNBUFFERED", "1"),
)
_TAGS = ("nightly", "adhoc", "v2", "experiment", "backfill", "critical", "gpu")
_CLUSTERS = ("prod-us-east-1", "prod-us-west-2", "staging-eu-west-1", "gpu-cluster-a", "dev-k8s")
_CLUSTER_POOLS = ("default", "gpu-pool", "high-mem", "spot")
_EXECUTION_CLUSTER_LABELS = ("gpu-a100", "cpu-large", "eu-data-residency")
_SERVICE_ACCOUNTS = ("default", "default", "default", "flyte-workflow-runner", "spark", "ml-training-sa")
_ABORT_CAUSES = (
    "Terminated from UI", "User requested termination via flytectl", "Superseded by a newer execution",
    "Execution aborted: parent execution was aborted", "Killed by the nightly cleanup job",
    "Abgebrochen: falsche Parameter übergeben", "手动终止：输入数据有误",
)
_STRINGS = (
    "resnet50", "gpt2-medium", "2024-05-01", "us-east-1", "hello world", "SELECT * FROM events LIMIT 100",
    "s3://datasets/clickstream/2024/06/", "ok", "", "weighted_f1", "production", "a" * 40,
)
_UNICODE_STRINGS = ("naïve-bayes", "Zürich", "東京", "✓ passed", "😀")
_INPUT_NAMES = (
    "learning_rate", "epochs", "batch_size", "run_date", "dataset", "model_name", "sample_frac", "threshold",
    "region", "config", "features", "seed",
)
_OUTPUT_NAMES = ("model", "metrics", "report", "predictions", "accuracy", "summary")
_FILE_NAMES = ("model.pt", "data.csv", "report.html", "weights.onnx", "part-00000.jsonl", "features.parquet")
_FILE_FORMATS = ("", "", "csv", "onnx", "PythonPickle", "jsonl")
_ENUM_VALUES = ("RED", "GREEN", "BLUE")

_USER_CODES = ("USER:Unknown", "USER:ValueError", "USER:RuntimeError", "USER:KeyError", "USER:AssertionError")
_SYSTEM_CODES = ("SYSTEM:Unknown", "OOMKilled", "ContainersNotReady", "Interrupted", "RetryLimitExceeded")
_SYSTEM_MESSAGES = (
    (
        "Pod failed. No message received from kubernetes.\n[{pod}] terminated with exit code (137). "
        "Reason [OOMKilled]. Message: \n."
    ),
    'containers with unready status: [{pod}]|Back-off pulling image "ghcr.io/example/{project}:{version}"',
    "Interrupted: the node running [{pod}] was preempted (spot instance reclaimed).",
    "failed to launch workflow, caused by: rpc error: code = DeadlineExceeded desc = context deadline exceeded",
    "task table: timed out waiting for resource quota in namespace {project}-{domain}",
)
_EXCEPTIONS = (
    "ValueError: Input contains NaN, infinity or a value too large for dtype('float64').",
    "KeyError: 'customer_id'",
    (
        "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 15.78 GiB total capacity; "
        "13.12 GiB already allocated; 1.21 GiB free; 13.40 GiB reserved in total by PyTorch)"
    ),
    "FileNotFoundError: [Errno 2] No such file or directory: '/tmp/flyte/raw/model.pt'",
    "AssertionError: expected 128 features, got 127",
    "TypeError: unsupported operand type(s) for +: 'int' and 'NoneType'",
    "botocore.exceptions.ClientError: An error occurred (AccessDenied) when calling the GetObject operation: Denied",
    "pyarrow.lib.ArrowInvalid: Could not convert '12,5' with type str: tried to convert to double",
    "ZeroDivisionError: division by zero",
)
_UNICODE_EXCEPTIONS = (
    "ValueError: Spalte 'Preis' enthält ungültige Werte: '12,5 €'",
    "KeyError: '顧客ID'",
    "RuntimeError: modèle introuvable 🤷 pour la région « île-de-france »",
)
_LIBRARY_FRAMES = (
    ("flytekit/core/base_task.py", "dispatch_execute", "native_outputs = self.execute(**native_inputs)"),
    ("flytekit/core/python_function_task.py", "execute", "return user_entry_point(self._task_function)(**kwargs)"),
    ("flytekit/core/promise.py", "__call__", "return flyte_entity_call_handler(self, *args, **kwargs)"),
    ("pandas/core/frame.py", "__getitem__", "indexer = self.columns.get_loc(key)"),
    ("pandas/core/indexes/base.py", "get_loc", "raise KeyError(key) from err"),
    ("sklearn/base.py", "wrapper", "return fit_method(estimator, *args, **kwargs)"),
    ("sklearn/utils/validation.py", "_assert_all_finite", "raise ValueError(msg_err)"),
    ("torch/nn/modules/module.py", "_call_impl", "return forward_call(*args, **kwargs)"),
    ("torch/nn/modules/linear.py", "forward", "return F.linear(input, self.weight, self.bias)"),
    ("numpy/core/fromnumeric.py", "_wrapreduction", "return ufunc.reduce(obj, axis, dtype, out, **passkwargs)"),
    ("pyarrow/parquet/core.py", "read_table", "return dataset.read(columns=columns, use_threads=use_threads)"),
    ("botocore/client.py", "_make_api_call", "raise error_class(parsed_response, operation_name)"),
)
_USER_LINES = (
    "df = load_table(snapshot_date, columns=FEATURES)",
    "model.fit(X_train, y_train, sample_weight=weights)",
    "metrics = evaluate(model, X_test, y_test)",
    "batch = next(iter(loader))",
    "result = aggregate(events, window=timedelta(hours=1))",
    "assert features.shape[1] == EXPECTED_FEATURES, f'expected {EXPECTED_FEATURES} features'",
    "return {k: v / total for k, v in counts.items()}",
)
_LOG_TEMPLATES = (
    ("Kubernetes Logs (User)", "https://k8s.{cluster}.example.com/#!/log/{ns}/{pod}/pod?namespace={ns}"),
    ("Cloudwatch Logs", (
        "https://console.aws.amazon.com/cloudwatch/home?region=us-east-1#logEventViewer:"
        "group=/flyte-{domain};stream=var.log.containers.{pod}_{ns}_{pod}-{hash}.log"
    )),
    ("Stackdriver Logs", (
        "https://console.cloud.google.com/logs/viewer?project=flyte-{domain}&angularJsUrl="
        "%2Flogs%2Fviewer%3Fproject%3Dflyte-{domain}&resource=k8s_container%2Fpod_name%2F{pod}"
    )),
    ("Datadog Logs", "https://app.datadoghq.com/logs?query=pod_name%3A{pod}%20kube_namespace%3A{ns}"),
    ("Kubernetes Logs (System)", "https://k8s.{cluster}.example.com/#!/log/flyte/{pod}/pod?namespace=flyte"),
)
_PLUGIN_LOGS = {
    "spark": ("Spark Driver UI", "https://spark-ui.{cluster}.example.com/{pod}-driver/jobs/"),
    "ray": ("Ray Dashboard", "https://ray.{cluster}.example.com/{pod}/#/jobs"),
    "bigquery_query_job_task": ("BigQuery Console", "https://console.cloud.google.com/bigquery?j=bq:US:{hash}"),
}
_PLUGINS = {
    "python-task": "container", "container": "container", "sidecar": "sidecar", "spark": "spark", "ray": "ray",
    "pytorch": "pytorch", "container_array": "k8s-array", "bigquery_query_job_task": "agent-service",
    "snowflake": "agent-service", "dask": "dask", "mpi": "mpi", "sensor": "agent-service",
}
_REASONS = (
    "task submitted to K8s", "Scheduling", "[ContainerCreating]: ", "pod is running",
    "Unschedulable: 0/12 nodes are available: 12 Insufficient nvidia.com/gpu.",
    "[ContainersNotReady|ContainerCreating]: containers with unready status: [{pod}]",
    "Waiting for resource quota: exceeded quota: project-quota, requested: limits.cpu=4",
)
# fmt: on

# ---------------------------------------------------------------------------------------------
# Distributions
# ---------------------------------------------------------------------------------------------

# fmt: off
_DOMAINS = _Weighted(("development", 45), ("staging", 20), ("production", 35))
_EXECUTION_PHASES = _Weighted(
    (_WF.UNDEFINED, 15), (_WF.QUEUED, 40), (_WF.RUNNING, 90), (_WF.SUCCEEDING, 20), (_WF.SUCCEEDED, 660),
    (_WF.FAILING, 10), (_WF.FAILED, 40), (_WF.ABORTED, 45), (_WF.TIMED_OUT, 10), (_WF.ABORTING, 20),
)
_NODE_PHASES = _Weighted(
    (_NODE.UNDEFINED, 20), (_NODE.QUEUED, 40), (_NODE.RUNNING, 80), (_NODE.SUCCEEDED, 610), (_NODE.FAILING, 20),
    (_NODE.FAILED, 80), (_NODE.ABORTED, 30), (_NODE.SKIPPED, 50), (_NODE.TIMED_OUT, 20),
    (_NODE.DYNAMIC_RUNNING, 25), (_NODE.RECOVERED, 25),
)
_TASK_PHASES = _Weighted(
    (_TASK.UNDEFINED, 15), (_TASK.QUEUED, 40), (_TASK.RUNNING, 90), (_TASK.SUCCEEDED, 640), (_TASK.ABORTED, 30),
    (_TASK.FAILED, 80), (_TASK.INITIALIZING, 30), (_TASK.WAITING_FOR_RESOURCES, 25), (_TASK.RETRYABLE_FAILED, 50),
)
_MODES = _Weighted(
    (_MODE.MANUAL, 55), (_MODE.SCHEDULED, 24), (_MODE.SYSTEM, 4), (_MODE.RELAUNCH, 6), (_MODE.CHILD_WORKFLOW, 6),
    (_MODE.RECOVERED, 3), (_MODE.TRIGGER, 2),
)
_ERROR_KINDS = _Weighted((_ERR.USER, 70), (_ERR.SYSTEM, 30))
_CACHE_STATUSES = _Weighted(
    (_CACHE.CACHE_DISABLED, 60), (_CACHE.CACHE_MISS, 10), (_CACHE.CACHE_HIT, 10), (_CACHE.CACHE_POPULATED, 8),
    (_CACHE.CACHE_LOOKUP_FAILURE, 3), (_CACHE.CACHE_PUT_FAILURE, 3), (_CACHE.CACHE_SKIPPED, 3),
    (_CACHE.CACHE_EVICTED, 3),
)
_MOUNT_TYPES = _Weighted((_SECRET.ANY, 50), (_SECRET.ENV_VAR, 30), (_SECRET.FILE, 20))
_TIERS = _Weighted((_TIER.UNDEFINED, 15), (_TIER.HIGH, 35), (_TIER.MEDIUM, 30), (_TIER.LOW, 20))
_GRANULARITIES = (
    artifact_id_pb2.UNSET, artifact_id_pb2.MINUTE, artifact_id_pb2.HOUR, artifact_id_pb2.DAY, artifact_id_pb2.MONTH,
)
_MESSAGE_FORMATS = _Weighted((_LOG.UNKNOWN, 80), (_LOG.JSON, 12), (_LOG.CSV, 8))
_MAX_PARALLELISM = _Weighted((25, 70), (0, 10), (10, 8), (50, 7), (100, 5))
_TASK_TYPES = _Weighted(
    ("python-task", 55), ("container", 8), ("sidecar", 4), ("spark", 6), ("ray", 5), ("pytorch", 4),
    ("container_array", 6), ("bigquery_query_job_task", 3), ("snowflake", 2), ("dask", 2), ("mpi", 2), ("sensor", 3),
)
_NODE_KINDS = _Weighted(
    ("task", 60), ("launchplan", 8), ("subworkflow", 6), ("dynamic", 8), ("array", 7), ("branch", 5), ("gate", 3),
    ("eager", 3),
)
_ATTEMPTS = _Weighted((1, 85), (2, 10), (3, 3), (4, 2))
_MAP_SIZES = _Weighted((1, 45), (2, 30), (3, 15), (4, 10))
# (low, high) in nanoseconds
_RUN_TIMES = _Weighted(
    ((1 * _NS, 60 * _NS), 15), ((_MINUTE, 10 * _MINUTE), 35), ((10 * _MINUTE, _HOUR), 30), ((_HOUR, 6 * _HOUR), 15),
    ((6 * _HOUR, 48 * _HOUR), 5),
)
_STEP_TIMES = _Weighted(
    ((50 * _MS, _NS), 20), ((_NS, 60 * _NS), 45), ((_MINUTE, 20 * _MINUTE), 30), ((_HOUR, 3 * _HOUR), 5),
)
# fmt: on

_NOT_STARTED = frozenset((_WF.UNDEFINED, _WF.QUEUED))
_TERMINAL_PHASES = (_WF.SUCCEEDED, _WF.FAILED, _WF.TIMED_OUT, _WF.ABORTED)

# ---------------------------------------------------------------------------------------------
# Literal types: a small algebra of Python types, ("tag", *parameters)
# ---------------------------------------------------------------------------------------------

_PyType = tuple[Any, ...]

_INT: _PyType = ("int",)
_FLOAT: _PyType = ("float",)
_STR: _PyType = ("str",)
_BOOL: _PyType = ("bool",)
_DATETIME: _PyType = ("datetime",)
_DURATION: _PyType = ("duration",)
_FILE: _PyType = ("file",)
_DIR: _PyType = ("dir",)
_NONE: _PyType = ("none",)
_SCHEMA: _PyType = ("schema",)
_DATACLASS: _PyType = ("dataclass",)
_GENERIC: _PyType = ("generic",)
_ERROR: _PyType = ("error",)
_ENUM: _PyType = ("enum",)
_DF: _PyType = ("df", ())

_DF_COLUMNS = (
    ("user_id", _SIMPLE.INTEGER), ("score", _SIMPLE.FLOAT), ("country", _SIMPLE.STRING),
    ("is_active", _SIMPLE.BOOLEAN), ("signup_ts", _SIMPLE.DATETIME), ("session_length", _SIMPLE.DURATION),
    ("embedding", _SIMPLE.BINARY),
)  # fmt: skip
_SCHEMA_COLUMNS = (
    ("id", _COLUMN.INTEGER), ("amount", _COLUMN.FLOAT), ("currency", _COLUMN.STRING), ("refunded", _COLUMN.BOOLEAN),
    ("created", _COLUMN.DATETIME), ("latency", _COLUMN.DURATION),
)  # fmt: skip
_SIMPLE_TYPES = {
    "int": _SIMPLE.INTEGER, "float": _SIMPLE.FLOAT, "str": _SIMPLE.STRING, "bool": _SIMPLE.BOOLEAN,
    "datetime": _SIMPLE.DATETIME, "duration": _SIMPLE.DURATION, "none": _SIMPLE.NONE, "error": _SIMPLE.ERROR,
    "generic": _SIMPLE.STRUCT,
}  # fmt: skip
# flytekit's TypeStructure tags: the name of the transformer that produced the type
_TYPE_TAGS = {
    "int": "int", "float": "float", "str": "str", "bool": "bool", "datetime": "datetime", "duration": "timedelta",
    "file": "FlyteFilePathTransformer", "dir": "FlyteDirToMultipartBlobTransformer", "none": "none",
    "schema": "FlyteSchema", "dataclass": "Object-Dataclass-Transformer", "generic": "Python Dictionary",
    "error": "FlyteError", "enum": "Enum Transformer", "df": "StructuredDataset Transformer", "list": "Typed List",
    "dict": "Typed Dict",
}  # fmt: skip
# the start of an Arrow IPC schema message, as flytekit stores in StructuredDatasetType
_ARROW_SCHEMA = b"\xff\xff\xff\xff\x98\x01\x00\x00\x10\x00\x00\x00\x00\x00\x0a\x00\x0c\x00\x06\x00\x05\x00\x08\x00"
_DATACLASS_SCHEMA = {
    "title": "TrainConfig", "type": "object", "additionalProperties": False, "required": ["lr", "epochs"],
    "properties": {"lr": {"type": "number"}, "epochs": {"type": "integer"}, "name": {"type": "string"}},
    "description": None,
}  # fmt: skip

# The rotation in _Gen.literal_map walks this table in order, rarest shapes first, so even a short
# corpus uses every Literal, Scalar, Primitive and LiteralType branch and every SimpleType,
# SchemaColumnType and BlobDimensionality value.
_LITERAL_TYPES: _Weighted[_PyType] = _Weighted(
    (("offloaded", ("list", ("optional", _INT, True))), 1), (("offloaded", ("dict", _FLOAT)), 1),
    (("optional", _INT, False), 2), (("optional", _ERROR, True), 1), (("optional", _DATACLASS, True), 1),
    (("optional", _FILE, True), 1), (("optional", _ENUM, True), 1), (("optional", ("df", _DF_COLUMNS), True), 1),
    (("optional", _SCHEMA, True), 1), (("optional", ("list", _INT), True), 1), (("optional", ("dict", _STR), True), 1),
    (("optional", _INT, True), 2), (("df", _DF_COLUMNS), 1), (_SCHEMA, 1), (_GENERIC, 2), (_ENUM, 2), (_NONE, 2),
    (("dict", ("list", _INT)), 1), (_DATACLASS, 4), (_DATETIME, 4), (_DURATION, 3), (_DIR, 3), (("list", _STR), 2),
    (("list", _FILE), 2), (("list", _INT), 4), (("dict", _FLOAT), 4), (_DF, 5), (_FILE, 6), (_BOOL, 6), (_FLOAT, 10),
    (_STR, 12), (_INT, 14),
)  # fmt: skip


def _ts(ns: int) -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(seconds=ns // _NS, nanos=ns % _NS)


def _duration(ns: int) -> duration_pb2.Duration:
    return duration_pb2.Duration(seconds=ns // _NS, nanos=ns % _NS)


def _struct(value: dict[str, Any]) -> struct_pb2.Struct:
    result = struct_pb2.Struct()
    result.update(value)
    return result


def _msgpack(value: dict[str, int | float | str]) -> bytes:
    """msgpack encoding of a small flat dict (strings under 256 bytes, floats, ints in [0, 65536)).

    flytekit stores dataclasses this way, in a ``Binary`` scalar tagged ``msgpack``.
    """
    out = bytearray((0x80 | len(value),))
    for key, item in value.items():
        for part in (key, item):
            if isinstance(part, str):
                data = part.encode()
                out += bytes((0xA0 | len(data),)) if len(data) < 32 else bytes((0xD9, len(data)))
                out += data
            elif isinstance(part, float):
                out += b"\xcb" + struct.pack(">d", part)
            else:
                out += b"\xcd" + struct.pack(">H", part)
    return bytes(out)


class _Run:
    """Identity of one workflow execution, shared by every record that belongs to it."""

    __slots__ = ("bucket", "domain", "name", "org", "pkg", "project", "version", "workflow")

    def __init__(self, g: _Gen) -> None:
        index = g.rng.randrange(len(_PROJECTS))
        self.project = _PROJECTS[index]
        self.bucket = _BUCKETS[index % len(_BUCKETS)]
        self.org = _ORGS[index % 2] if g.every("org", 25) else ""  # multi-tenant deployments only
        self.domain = g.pick(_DOMAINS)
        self.name = g.execution_name()
        self.pkg = self.project.replace("-", "_")
        self.workflow = f"{self.pkg}.{g.choice(_MODULES)}.{g.choice(_WORKFLOWS)}"
        self.version = g.version()

    def execution_id(self, name: str | None = None) -> identifier_pb2.WorkflowExecutionIdentifier:
        return identifier_pb2.WorkflowExecutionIdentifier(
            project=self.project, domain=self.domain, name=name or self.name, org=self.org
        )

    def identifier(self, resource_type: int, name: str) -> identifier_pb2.Identifier:
        return identifier_pb2.Identifier(
            resource_type=resource_type,
            project=self.project,
            domain=self.domain,
            name=name,
            version=self.version,
            org=self.org,
        )

    def node_id(self, node_id: str) -> identifier_pb2.NodeExecutionIdentifier:
        return identifier_pb2.NodeExecutionIdentifier(node_id=node_id, execution_id=self.execution_id())

    def data(self, node_id: str) -> str:
        """Prefix of a node's metadata blobs (inputs.pb, outputs.pb, error.pb, deck.html…)."""
        return f"{self.bucket}/metadata/propeller/{self.project}-{self.domain}-{self.name}/{node_id}/data"

    def raw(self) -> str:
        return f"{self.bucket}/raw/{self.project}/{self.domain}"


class _Gen:
    """Random source and rotation state for one generator call; builds all record parts."""

    __slots__ = ("_cycles", "rng")

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self._cycles: dict[str, int] = {}

    # -- primitives --------------------------------------------------------------------------

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def pick(self, table: _Weighted[T]) -> T:
        return self.rng.choices(table.values, cum_weights=table.cum)[0]

    def choice(self, values: Sequence[T]) -> T:
        return values[self.rng.randrange(len(values))]

    def cycle(self, key: str, values: Sequence[T]) -> T:
        """The next of ``values`` in rotation: for rare draws that must still cover every value."""
        index = self._cycles.get(key, 0)
        self._cycles[key] = index + 1
        return values[index % len(values)]

    def every(self, key: str, n: int) -> bool:
        """True once in every ``n`` calls with this key: a rare flag that still shows up."""
        index = self._cycles.get(key, 0)
        self._cycles[key] = index + 1
        return index % n == n - 1

    def span(self, table: _Weighted[tuple[int, int]]) -> int:
        low, high = self.pick(table)
        return self.rng.randrange(low, high)

    def token(self, alphabet: str, k: int) -> str:
        return "".join(self.rng.choices(alphabet, k=k))

    def instant(self) -> int:
        return self.rng.randrange(_START_NS, _END_NS)

    def uuid(self) -> str:
        h = self.token(_HEX, 32)
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    # -- names ---------------------------------------------------------------------------------

    def execution_name(self) -> str:
        if self.chance(0.92):
            return "f" + self.token(_ALNUM, 19)
        return f"{self.choice(_WORKFLOWS).replace('_', '-')}-{self.token(_ALNUM, 6)}"

    def version(self) -> str:
        r = self.rng.random()
        if r < 0.2:
            return self.token(_HEX, 40)
        if r < 0.65:
            return self.token(_B64URL, 22)
        if r < 0.9:
            return f"v{self.rng.randrange(4)}.{self.rng.randrange(30)}.{self.rng.randrange(10)}"
        return self.token(_HEX, 7)

    def principal(self) -> str:
        r = self.rng.random()
        if r < 0.04:
            return self.choice(_UNICODE_PRINCIPALS)
        if r < 0.14:
            return self.choice(_SERVICE_PRINCIPALS)
        return f"{self.choice(_FIRST)}.{self.choice(_LAST)}@example.com"

    def node_name(self) -> str:
        top = f"n{self.rng.randrange(8)}"
        r = self.rng.random()
        if r < 0.7:
            return top
        return f"{top}-0-{'dn' if r < 0.85 else 'n'}{self.rng.randrange(12)}"

    # -- shared parts --------------------------------------------------------------------------

    def error(self, run: _Run, node_id: str, attempt: int, header: str = "") -> core_execution_pb2.ExecutionError:
        """An ExecutionError; ``header`` is what propeller prepends at the node or workflow level."""
        kind = _ERR.UNKNOWN if self.every("unknown-error", 12) else self.pick(_ERROR_KINDS)
        pod = f"{run.name}-{node_id}-{attempt}"
        if kind == _ERR.USER:
            code = self.choice(_USER_CODES)
            message = (
                f"{header}[{attempt + 1}/{attempt + 1}] currentAttempt done. Last Error: USER::{self.traceback(run)}"
            )
        elif kind == _ERR.SYSTEM:
            code = self.choice(_SYSTEM_CODES)
            template = self.choice(_SYSTEM_MESSAGES)
            message = header + template.format(pod=pod, project=run.project, domain=run.domain, version=run.version)
        else:
            code = "UnknownError"
            message = f"{header}unknown error: pod [{pod}] disappeared before reporting a status"
        return core_execution_pb2.ExecutionError(
            code=code,
            message=message,
            error_uri=f"{run.data(node_id)}/{attempt}/error.pb" if kind == _ERR.USER or self.chance(0.3) else "",
            kind=kind,
            timestamp=_ts(self.instant()) if self.chance(0.4) else None,
            worker=self.choice(("master-0", "worker-0", "worker-3")) if self.every("error-worker", 15) else "",
        )

    def traceback(self, run: _Run) -> str:
        """A flytekit-formatted user traceback of roughly 1 to 6 KB."""
        r = self.rng.random()
        target = 1000 + int(4800 * r**5)
        python = f"/usr/local/lib/python3.{self.rng.randrange(9, 13)}/site-packages"
        parts = [
            (
                "Traceback (most recent call last):\n\n"
                f'      File "{python}/flytekit/exceptions/scopes.py", line 242, in user_entry_point\n'
                "        return wrapped(*args, **kwargs)\n"
            )
        ]
        size = len(parts[0])
        while size < target:
            if self.chance(0.4):
                path = f"/root/{run.pkg}/{self.choice(_MODULES)}.py"
                func, code = self.choice(_TASKS), self.choice(_USER_LINES)
            else:
                path, func, code = self.choice(_LIBRARY_FRAMES)
                path = f"{python}/{path}"
            frame = f'      File "{path}", line {self.rng.randrange(12, 2400)}, in {func}\n        {code}\n'
            parts.append(frame)
            size += len(frame)
        exception = self.choice(_UNICODE_EXCEPTIONS) if self.chance(0.1) else self.choice(_EXCEPTIONS)
        parts.append(f"\nMessage:\n\n    {exception}\n\nUser error.")
        return "".join(parts)

    def literal_map(self, names: Sequence[str], outputs: bool) -> literals_pb2.LiteralMap:
        """1–4 literals; the first one's type comes from the rotation so every type appears."""
        size = self.pick(_MAP_SIZES)
        keys = [f"o{i}" for i in range(size)] if outputs and self.chance(0.7) else self.rng.sample(names, size)
        literals = {}
        for i, key in enumerate(keys):
            py_type = self.cycle("literal", _LITERAL_TYPES.values) if i == 0 else self.pick(_LITERAL_TYPES)
            literals[key] = self.literal(py_type)
        return literals_pb2.LiteralMap(literals=literals)

    def literal(self, t: _PyType) -> literals_pb2.Literal:
        tag = t[0]
        rng = self.rng
        if tag == "list":
            return literals_pb2.Literal(
                collection=literals_pb2.LiteralCollection(
                    literals=[self.literal(t[1]) for _ in range(rng.randrange(5))]
                )
            )
        if tag == "dict":
            keys = rng.sample(_INPUT_NAMES, 1 + rng.randrange(3))
            return literals_pb2.Literal(map=literals_pb2.LiteralMap(literals={k: self.literal(t[1]) for k in keys}))
        if tag == "offloaded":
            return literals_pb2.Literal(
                offloaded_metadata=literals_pb2.LiteralOffloadedMetadata(
                    uri=f"{self.choice(_BUCKETS)}/offloaded/{self.token(_ALNUM, 20)}/literal.pb",
                    size_bytes=rng.randrange(10 << 20, 4 << 30),
                    inferred_type=self.literal_type(t[1]),
                )
            )
        literal = literals_pb2.Literal(scalar=self.scalar(t))
        if tag in ("file", "dir", "df") and self.every("literal-hash", 5):
            literal.hash = self.token(_HEX, 32)
        if self.every("literal-metadata", 30):
            literal.metadata["source"] = "flytekit"
        return literal

    def scalar(self, t: _PyType) -> literals_pb2.Scalar:
        tag = t[0]
        rng = self.rng
        Scalar, Primitive = literals_pb2.Scalar, literals_pb2.Primitive
        if tag == "int":
            r = rng.random()
            if r < 0.6:
                value = rng.randrange(100)
            elif r < 0.85:
                value = rng.randrange(100, 100_000)
            elif r < 0.95:
                value = -rng.randrange(1, 1000)
            else:
                value = rng.randrange(1 << 31, 1 << 53)
            return Scalar(primitive=Primitive(integer=value))
        if tag == "float":
            r = rng.random()
            value = round(rng.random(), 6) if r < 0.6 else round(rng.uniform(-1000.0, 1000.0), 3) if r < 0.95 else 0.0
            return Scalar(primitive=Primitive(float_value=value))
        if tag == "str":
            value = self.choice(_UNICODE_STRINGS) if self.chance(0.04) else self.choice(_STRINGS)
            return Scalar(primitive=Primitive(string_value=value))
        if tag == "enum":
            return Scalar(primitive=Primitive(string_value=self.choice(_ENUM_VALUES)))
        if tag == "bool":
            return Scalar(primitive=Primitive(boolean=self.chance(0.5)))
        if tag == "datetime":
            return Scalar(primitive=Primitive(datetime=_ts(self.instant())))
        if tag == "duration":
            return Scalar(primitive=Primitive(duration=_duration(rng.randrange(48 * _HOUR))))
        if tag in ("file", "dir"):
            uri = f"{self.choice(_BUCKETS)}/raw/{self.token(_ALNUM, 2)}/{self.token(_ALNUM, 20)}/"
            return Scalar(
                blob=literals_pb2.Blob(
                    metadata=literals_pb2.BlobMetadata(type=self.literal_type(t).blob),
                    uri=uri + self.choice(_FILE_NAMES) if tag == "file" else uri,
                )
            )
        if tag == "none":
            return Scalar(none_type=literals_pb2.Void())
        if tag == "df":
            return Scalar(
                structured_dataset=literals_pb2.StructuredDataset(
                    uri=f"{self.choice(_BUCKETS)}/raw/{self.token(_ALNUM, 2)}/{self.token(_ALNUM, 20)}/",
                    metadata=literals_pb2.StructuredDatasetMetadata(
                        structured_dataset_type=self.literal_type(t).structured_dataset_type
                    ),
                )
            )
        if tag == "schema":
            return Scalar(
                schema=literals_pb2.Schema(
                    uri=f"{self.choice(_BUCKETS)}/raw/{self.token(_ALNUM, 20)}", type=self.literal_type(t).schema
                )
            )
        if tag == "dataclass":
            config = {
                "lr": round(rng.random() / 100, 6),
                "epochs": rng.randrange(1, 200),
                "name": self.choice(_STRINGS),
            }
            return Scalar(binary=literals_pb2.Binary(value=_msgpack(config), tag="msgpack"))
        if tag == "generic":
            return Scalar(
                generic=_struct(
                    {
                        "model": self.choice(_STRINGS),
                        "metrics": {"auc": round(rng.random(), 4), "loss": round(rng.random() * 3, 4)},
                        "tags": [self.choice(_TAGS), self.choice(_TAGS)],
                        "enabled": self.chance(0.5),
                        "parent_run": None,
                    }
                )
            )
        if tag == "error":
            return Scalar(error=types_pb2.Error(failed_node_id=self.node_name(), message=self.choice(_EXCEPTIONS)))
        # ("optional", inner, present): flytekit's Union literal with the stored type of the chosen variant
        variant = t[1] if t[2] else _NONE
        return Scalar(union=literals_pb2.Union(value=self.literal(variant), type=self.tagged_type(variant)))

    def literal_type(self, t: _PyType) -> types_pb2.LiteralType:
        tag = t[0]
        LiteralType = types_pb2.LiteralType
        if tag in _SIMPLE_TYPES:
            return LiteralType(simple=_SIMPLE_TYPES[tag])
        if tag in ("file", "dir"):
            dimensionality = _BLOB.SINGLE if tag == "file" else _BLOB.MULTIPART
            return LiteralType(blob=_BLOB(format=self.choice(_FILE_FORMATS), dimensionality=dimensionality))
        if tag == "list":
            return LiteralType(collection_type=self.literal_type(t[1]))
        if tag == "dict":
            return LiteralType(map_value_type=self.literal_type(t[1]))
        if tag == "df" and not t[1]:
            return LiteralType(structured_dataset_type=types_pb2.StructuredDatasetType(format="parquet"))
        if tag == "df":
            # Annotated[pd.DataFrame, kwtypes(...)]: typed columns, the Arrow schema, a FlyteAnnotation
            columns = [
                types_pb2.StructuredDatasetType.DatasetColumn(name=name, literal_type=LiteralType(simple=simple))
                for name, simple in t[1]
            ]
            dataset_type = types_pb2.StructuredDatasetType(
                columns=columns, format="parquet", external_schema_type="arrow", external_schema_bytes=_ARROW_SCHEMA
            )
            annotation = types_pb2.TypeAnnotation(annotations=_struct({"cache-key": "v1"}))
            return LiteralType(structured_dataset_type=dataset_type, annotation=annotation)
        if tag == "schema":
            columns = [_COLUMN(name=name, type=column_type) for name, column_type in _SCHEMA_COLUMNS]
            return LiteralType(schema=types_pb2.SchemaType(columns=columns))
        if tag == "enum":
            return LiteralType(enum_type=types_pb2.EnumType(values=_ENUM_VALUES))
        if tag == "dataclass":
            fields = {"lr": LiteralType(simple=_SIMPLE.FLOAT), "epochs": LiteralType(simple=_SIMPLE.INTEGER)}
            return LiteralType(
                simple=_SIMPLE.STRUCT,
                metadata=_struct(_DATACLASS_SCHEMA),
                structure=types_pb2.TypeStructure(dataclass_type=fields),
            )
        # optional
        return LiteralType(union_type=types_pb2.UnionType(variants=[self.tagged_type(t[1]), self.tagged_type(_NONE)]))

    def tagged_type(self, t: _PyType) -> types_pb2.LiteralType:
        """A union variant's type: flytekit marks it with the transformer's tag."""
        result = self.literal_type(t)
        result.structure.tag = _TYPE_TAGS[t[0]]
        return result

    def notification(self) -> common_pb2.Notification:
        phases = self.rng.sample(_TERMINAL_PHASES, 1 + self.rng.randrange(3))
        r = self.rng.random()
        template = ""
        if self.every("notification-template", 4):
            template = "Execution {{ name }} in {{ project }} finished with phase {{ phase }}"
        if r < 0.6:
            email = common_pb2.EmailNotification(recipients_email=[self.principal()], template=template)
            return common_pb2.Notification(phases=phases, email=email)
        if r < 0.88:
            slack = common_pb2.SlackNotification(
                recipients_email=["ml-alerts-aaaa@example.slack.com"], template=template
            )
            return common_pb2.Notification(phases=phases, slack=slack)
        pager = common_pb2.PagerDutyNotification(
            recipients_email=["oncall-ml@example.pagerduty.com"], template=template
        )
        return common_pb2.Notification(phases=phases, pager_duty=pager)

    def struct_info(self, task_type: str, name: str) -> struct_pb2.Struct:
        """Plugin-specific ``custom_info``; between them the shapes use every ``Value`` kind."""
        rng = self.rng
        if task_type == "spark":
            return _struct(
                {
                    "sparkConfig": {"spark.executor.instances": "4", "spark.executor.memory": "8g"},
                    "applicationId": f"spark-{self.token(_HEX, 32)}",
                    "executorCount": rng.randrange(2, 64),
                    "dynamicAllocation": self.chance(0.5),
                    "driverLogs": None,
                }
            )
        if task_type == "ray":
            return _struct(
                {
                    "rayJobId": f"{name}-{self.token(_ALNUM, 6)}",
                    "workerGroups": [{"name": "gpu", "replicas": rng.randrange(1, 8)}],
                    "shutdownAfterJobFinishes": True,
                }
            )
        if task_type == "container_array":
            return _struct({"arrayJobId": name, "subtaskPhases": [3, 3, 5], "cachedSubtasks": rng.randrange(10)})
        return _struct(
            {
                "jobId": self.uuid(),
                "location": "US",
                "totalBytesProcessed": rng.randrange(1 << 30),
                "cacheHit": self.chance(0.3),
                "destinationTable": None,
            }
        )

    def task_logs(self, run: _Run, task_type: str, pod: str) -> list[core_execution_pb2.TaskLog]:
        count = 1 + self.rng.randrange(4) if self.chance(0.6) else 1
        templates = list(self.rng.sample(_LOG_TEMPLATES, count))
        if task_type in _PLUGIN_LOGS:
            templates[-1] = _PLUGIN_LOGS[task_type]
        fields = {
            "cluster": self.choice(_CLUSTERS), "ns": f"{run.project}-{run.domain}", "pod": pod,
            "domain": run.domain, "hash": self.token(_HEX, 12),
        }  # fmt: skip
        return [
            core_execution_pb2.TaskLog(
                name=name,
                uri=template.format(**fields),
                message_format=self.pick(_MESSAGE_FORMATS),
                ttl=duration_pb2.Duration(seconds=self.choice((3600, 86400))) if self.chance(0.1) else None,
                ShowWhilePending=self.chance(0.1),
                HideOnceFinished=self.chance(0.05),
            )
            for name, template in templates
        ]

    def log_context(self, run: _Run, pod: str, start: int, end: int) -> core_execution_pb2.LogContext:
        Container = core_execution_pb2.ContainerContext
        process = Container.ProcessContext(container_start_time=_ts(start), container_end_time=_ts(end))
        return core_execution_pb2.LogContext(
            pods=[
                core_execution_pb2.PodLogContext(
                    namespace=f"{run.project}-{run.domain}",
                    pod_name=pod,
                    containers=[Container(container_name=pod, process=process)],
                    primary_container_name=pod,
                    init_containers=[Container(container_name="init-download")] if self.chance(0.3) else None,
                )
            ],
            primary_pod_name=pod,
        )


# ---------------------------------------------------------------------------------------------
# Executions
# ---------------------------------------------------------------------------------------------


def _execution(g: _Gen) -> execution_pb2.Execution:
    run = _Run(g)
    phase = g.pick(_EXECUTION_PHASES)
    created = g.instant()
    return execution_pb2.Execution(
        id=run.execution_id(), spec=_execution_spec(g, run, created), closure=_execution_closure(g, run, phase, created)
    )


def _execution_spec(g: _Gen, run: _Run, created: int) -> execution_pb2.ExecutionSpec:
    rng = g.rng
    launch_plan = run.workflow if g.chance(0.8) else f"{run.workflow}_{g.choice(('daily', 'hourly', 'prod', 'weekly'))}"
    r = rng.random()
    notifications = (
        execution_pb2.NotificationList(notifications=[g.notification() for _ in range(1 + rng.randrange(2))])
        if r < 0.1
        else None
    )
    return execution_pb2.ExecutionSpec(
        launch_plan=run.identifier(_ID.LAUNCH_PLAN, launch_plan),
        inputs=g.literal_map(_INPUT_NAMES, outputs=False) if g.chance(0.05) else None,
        metadata=_execution_metadata(g, run, created),
        notifications=notifications,
        disable_all=True if 0.1 <= r < 0.18 else None,
        labels=_labels(g),
        annotations=_annotations(g),
        security_context=_security_context(g, run) if g.chance(0.85) else None,
        auth_role=common_pb2.AuthRole(
            assumable_iam_role=_iam_role(g, run) if g.chance(0.5) else "",
            kubernetes_service_account=g.choice(_SERVICE_ACCOUNTS),
        )
        if g.chance(0.1)
        else None,
        quality_of_service=_quality_of_service(g) if g.chance(0.1) else None,
        max_parallelism=g.pick(_MAX_PARALLELISM),
        raw_output_data_config=common_pb2.RawOutputDataConfig(output_location_prefix=run.raw())
        if g.chance(0.3)
        else None,
        cluster_assignment=cluster_assignment_pb2.ClusterAssignment(cluster_pool_name=g.choice(_CLUSTER_POOLS))
        if g.chance(0.15)
        else None,
        interruptible=wrappers_pb2.BoolValue(value=g.chance(0.7)) if g.chance(0.1) else None,
        overwrite_cache=g.chance(0.05),
        envs=common_pb2.Envs(
            values=[literals_pb2.KeyValuePair(key=k, value=v) for k, v in rng.sample(_ENV_VARS, 1 + rng.randrange(3))]
        )
        if g.chance(0.08)
        else None,
        tags=rng.sample(_TAGS, 1 + rng.randrange(3)) if g.chance(0.1) else None,
        execution_cluster_label=matchable_resource_pb2.ExecutionClusterLabel(value=g.choice(_EXECUTION_CLUSTER_LABELS))
        if g.chance(0.08)
        else None,
        execution_env_assignments=[_execution_env_assignment(g)] if g.chance(0.02) else None,
    )


def _pairs(g: _Gen, pairs: Sequence[tuple[str, str]], unicode_pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    chosen = g.rng.sample(pairs, 1 + g.rng.randrange(3))
    if g.chance(0.12):
        chosen.append(g.choice(unicode_pairs))
    return dict(chosen)


def _labels(g: _Gen) -> common_pb2.Labels | None:
    """flyteadmin often stores an empty ``Labels`` message: present and empty, or absent, or filled."""
    r = g.rng.random()
    if r < 0.35:
        return common_pb2.Labels(values=_pairs(g, _LABELS, _UNICODE_LABELS))
    return common_pb2.Labels() if r < 0.75 else None


def _annotations(g: _Gen) -> common_pb2.Annotations | None:
    r = g.rng.random()
    if r < 0.12:
        return common_pb2.Annotations(values=_pairs(g, _ANNOTATIONS, _UNICODE_ANNOTATIONS))
    return common_pb2.Annotations() if r < 0.62 else None


def _iam_role(g: _Gen, run: _Run) -> str:
    return f"arn:aws:iam::{g.token(_DIGITS, 12)}:role/flyte-{run.project}-{run.domain}"


def _execution_metadata(g: _Gen, run: _Run, created: int) -> execution_pb2.ExecutionMetadata:
    mode = g.pick(_MODES)
    if mode == _MODE.SCHEDULED:
        principal = "flyte-scheduler"
    elif mode == _MODE.SYSTEM:
        principal = "flyteadmin"
    elif mode == _MODE.TRIGGER:
        principal = "artifact-trigger"
    else:
        principal = g.principal()
    child = mode == _MODE.CHILD_WORKFLOW
    created_s = created // _NS
    return execution_pb2.ExecutionMetadata(
        mode=mode,
        principal=principal,
        nesting=1 + g.rng.randrange(3) if child else 0,
        scheduled_at=timestamp_pb2.Timestamp(seconds=created_s - created_s % 3600) if mode == _MODE.SCHEDULED else None,
        parent_node_execution=identifier_pb2.NodeExecutionIdentifier(
            node_id=g.node_name(), execution_id=run.execution_id(g.execution_name())
        )
        if child
        else None,
        reference_execution=run.execution_id(g.execution_name()) if mode in (_MODE.RELAUNCH, _MODE.RECOVERED) else None,
        system_metadata=execution_pb2.SystemMetadata(
            execution_cluster=g.choice(_CLUSTERS), namespace=f"{run.project}-{run.domain}" if g.chance(0.7) else ""
        )
        if g.chance(0.25)
        else None,
        artifact_ids=[_artifact_id(g, run, created)] if mode == _MODE.TRIGGER else None,
    )


def _artifact_id(g: _Gen, run: _Run, created: int) -> artifact_id_pb2.ArtifactID:
    LabelValue = artifact_id_pb2.LabelValue
    day = _ts(created - created % _DAY)
    return artifact_id_pb2.ArtifactID(
        artifact_key=artifact_id_pb2.ArtifactKey(
            project=run.project, domain=run.domain, name=g.choice(("daily_features", "model_checkpoint")), org=run.org
        ),
        version=g.token(_ALNUM, 20),
        partitions=artifact_id_pb2.Partitions(
            value={"region": LabelValue(static_value="us-east-1"), "ds": LabelValue(time_value=day)}
        ),
        time_partition=artifact_id_pb2.TimePartition(
            value=LabelValue(time_value=day), granularity=g.cycle("granularity", _GRANULARITIES)
        ),
    )


def _security_context(g: _Gen, run: _Run) -> security_pb2.SecurityContext:
    Secret = security_pb2.Secret
    oauth2 = g.chance(0.03)
    secrets = None
    if g.chance(0.1):
        secrets = [
            Secret(
                group=g.choice(("aws", "snowflake", "wandb", "hf")),
                group_version="v1" if g.chance(0.2) else "",
                key=g.choice(("api_key", "password", "token")),
                mount_requirement=g.pick(_MOUNT_TYPES),
                env_var="API_KEY" if g.chance(0.3) else "",
            )
            for _ in range(1 + g.rng.randrange(2))
        ]
    client = security_pb2.OAuth2Client(client_id="flytepropeller", client_secret=Secret(group="oauth", key="secret"))
    tokens = None
    if g.chance(0.02):
        tokens = [
            security_pb2.OAuth2TokenRequest(
                name="svc-token",
                type=security_pb2.OAuth2TokenRequest.CLIENT_CREDENTIALS,
                client=client,
                idp_discovery_endpoint="https://idp.example.com/.well-known/openid-configuration",
                token_endpoint="https://idp.example.com/oauth2/token" if g.chance(0.5) else "",
            )
        ]
    return security_pb2.SecurityContext(
        run_as=security_pb2.Identity(
            iam_role=_iam_role(g, run) if g.chance(0.15) else "",
            k8s_service_account=g.choice(_SERVICE_ACCOUNTS),
            oauth2_client=client if oauth2 else None,
            execution_identity=g.principal() if g.chance(0.05) else "",
        ),
        secrets=secrets,
        tokens=tokens,
    )


def _quality_of_service(g: _Gen) -> core_execution_pb2.QualityOfService:
    if g.chance(0.7):
        return core_execution_pb2.QualityOfService(tier=g.pick(_TIERS))
    budget = duration_pb2.Duration(seconds=g.choice((300, 900, 3600)))
    return core_execution_pb2.QualityOfService(spec=core_execution_pb2.QualityOfServiceSpec(queueing_budget=budget))


def _execution_env_assignment(g: _Gen) -> execution_envs_pb2.ExecutionEnvAssignment:
    environment = {"extant": _struct({"cluster": g.choice(_CLUSTERS), "namespace": "flyte"})}
    if g.cycle("environment", (False, True)):
        environment = {
            "spec": _struct({"replicas": 2, "image": "ghcr.io/flyteorg/flytekit:py3.11", "ttl_seconds": 900})
        }
    return execution_envs_pb2.ExecutionEnvAssignment(
        node_ids=[f"n{i}" for i in range(1 + g.rng.randrange(3))],
        task_type=g.choice(("python-task", "ray")),
        execution_env=execution_envs_pb2.ExecutionEnv(
            name=g.choice(("fast-env", "ray-shared")), type=g.choice(("fast-task", "ray")), version="1", **environment
        ),
    )


def _execution_closure(g: _Gen, run: _Run, phase: int, created: int) -> execution_pb2.ExecutionClosure:
    rng = g.rng
    queued = rng.randrange(50 * _MS, 90 * _NS)
    started_ns = created + queued
    elapsed = g.span(_RUN_TIMES)
    started = duration = None
    if phase in _NOT_STARTED:
        updated = created + rng.randrange(queued)
    else:
        started, duration = _ts(started_ns), _duration(elapsed)
        updated = started_ns + elapsed + rng.randrange(2 * _NS)
    result: dict[str, Any] = {}
    if phase == _WF.SUCCEEDED:
        r = rng.random()
        if r < 0.55:
            result["outputs"] = execution_pb2.LiteralMapBlob(uri=f"{run.data('end-node')}/0/outputs.pb")
        elif r < 0.73:
            result["outputs"] = execution_pb2.LiteralMapBlob(values=g.literal_map(_OUTPUT_NAMES, outputs=True))
        elif r < 0.8:
            result["output_data"] = g.literal_map(_OUTPUT_NAMES, outputs=True)
        # else: a workflow without outputs
    elif phase in (_WF.FAILED, _WF.FAILING, _WF.TIMED_OUT):
        node = g.node_name()
        header = f"Workflow[{run.project}:{run.domain}:{run.workflow}] failed. "
        if phase == _WF.TIMED_OUT:
            header += f"Execution timed out after {1 + rng.randrange(12)}h0m0s. "
        result["error"] = g.error(run, node, 0, header + f"RuntimeExecutionError: failed at Node[{node}]. ")
    elif phase in (_WF.ABORTED, _WF.ABORTING):
        if g.chance(0.8):
            result["abort_metadata"] = execution_pb2.AbortMetadata(
                cause=g.choice(_ABORT_CAUSES), principal=g.principal()
            )
        else:
            result["abort_cause"] = g.choice(_ABORT_CAUSES)
    archived = g.chance(0.1)
    return execution_pb2.ExecutionClosure(
        **result,
        computed_inputs=g.literal_map(_INPUT_NAMES, outputs=False) if g.chance(0.03) else None,
        phase=phase,
        started_at=started,
        duration=duration,
        created_at=_ts(created),
        updated_at=_ts(updated),
        notifications=[g.notification()] if g.chance(0.05) else None,
        workflow_id=run.identifier(_ID.WORKFLOW, run.workflow),
        state_change_details=execution_pb2.ExecutionStateChangeDetails(
            state=execution_pb2.EXECUTION_ARCHIVED if archived else execution_pb2.EXECUTION_ACTIVE,
            occurred_at=_ts(updated + rng.randrange(30 * _DAY) if archived else created),
            principal=g.principal(),
        )
        if g.chance(0.35)
        else None,
    )


# ---------------------------------------------------------------------------------------------
# Node executions
# ---------------------------------------------------------------------------------------------


def _node_group(g: _Gen) -> list[node_execution_pb2.NodeExecution]:
    """The nodes of one workflow execution: start-node, n0…nk (some with sub-nodes), end-node."""
    run = _Run(g)
    clock = g.instant()
    plan: list[tuple[str, str]] = [("start-node", "start")]
    for i in range(1 + g.rng.randrange(7)):
        kind = g.pick(_NODE_KINDS)
        plan.append((f"n{i}", kind))
        if kind in ("dynamic", "subworkflow"):
            prefix = "dn" if kind == "dynamic" else "n"
            plan.extend((f"n{i}-0-{prefix}{j}", "task") for j in range(1 + g.rng.randrange(3)))
    plan.append(("end-node", "end"))
    group = []
    for node_id, kind in plan:
        clock += g.span(_STEP_TIMES)
        group.append(_node_execution(g, run, node_id, kind, clock))
    return group


def _node_execution(g: _Gen, run: _Run, node_id: str, kind: str, created: int) -> node_execution_pb2.NodeExecution:
    rng = g.rng
    phase = _NODE.SUCCEEDED if kind == "start" else g.pick(_NODE_PHASES)
    started = duration = None
    elapsed = g.span(_STEP_TIMES)
    if phase in (_NODE.UNDEFINED, _NODE.QUEUED, _NODE.SKIPPED):
        updated = created + rng.randrange(_NS)
    else:
        started, duration = _ts(created + 10 * _MS), _duration(elapsed)
        updated = created + 10 * _MS + elapsed
    result: dict[str, Any] = {}
    if phase in (_NODE.SUCCEEDED, _NODE.RECOVERED):
        r = rng.random()
        if r < 0.84:
            result["output_uri"] = f"{run.data(node_id)}/0/outputs.pb"
        elif r < 0.94:
            result["output_data"] = g.literal_map(_OUTPUT_NAMES, outputs=True)
    elif phase in (_NODE.FAILED, _NODE.FAILING, _NODE.TIMED_OUT):
        result["error"] = g.error(run, node_id, 0)
    if kind in ("task", "dynamic", "eager"):
        result["task_node_metadata"] = _task_node_metadata(g, run, node_id)
    elif kind == "launchplan":
        result["workflow_node_metadata"] = node_execution_pb2.WorkflowNodeMetadata(
            executionId=run.execution_id(g.execution_name())
        )
    succeeded_task = kind == "task" and phase == _NODE.SUCCEEDED
    parent, _, child = node_id.rpartition("-")
    return node_execution_pb2.NodeExecution(
        id=run.node_id(node_id),
        input_uri=f"{run.data(node_id)}/inputs.pb",
        closure=node_execution_pb2.NodeExecutionClosure(
            **result,
            phase=phase,
            started_at=started,
            duration=duration,
            created_at=_ts(created),
            updated_at=_ts(updated),
            deck_uri=f"{run.data(node_id)}/0/deck.html" if succeeded_task and g.chance(0.15) else "",
            dynamic_job_spec_uri=f"{run.data(node_id)}/0/futures.pb" if kind == "dynamic" else "",
        ),
        metadata=node_execution_pb2.NodeExecutionMetaData(
            retry_group="0" if parent else "",
            is_parent_node=kind in ("dynamic", "subworkflow", "array", "eager"),
            spec_node_id=child,
            is_dynamic=kind == "dynamic",
            is_array=kind == "array",
            is_eager=kind == "eager",
        ),
    )


def _task_node_metadata(g: _Gen, run: _Run, node_id: str) -> node_execution_pb2.TaskNodeMetadata:
    status = g.pick(_CACHE_STATUSES)
    catalog_key = None
    if status in (_CACHE.CACHE_HIT, _CACHE.CACHE_POPULATED, _CACHE.CACHE_EVICTED) or (
        status != _CACHE.CACHE_DISABLED and g.chance(0.3)
    ):
        task_name = f"{run.pkg}.{g.choice(_MODULES)}.{g.choice(_TASKS)}"
        source_run = run.execution_id(g.execution_name())
        catalog_key = catalog_pb2.CatalogMetadata(
            dataset_id=run.identifier(_ID.DATASET, f"flyte_task-{task_name}"),
            artifact_tag=catalog_pb2.CatalogArtifactTag(
                artifact_id=g.uuid(), name=f"flyte_cached-{g.token(_B64URL, 22)}"
            ),
            source_task_execution=identifier_pb2.TaskExecutionIdentifier(
                task_id=run.identifier(_ID.TASK, task_name),
                node_execution_id=identifier_pb2.NodeExecutionIdentifier(node_id=node_id, execution_id=source_run),
                retry_attempt=1 if g.chance(0.1) else 0,
            ),
        )
    return node_execution_pb2.TaskNodeMetadata(
        cache_status=status,
        catalog_key=catalog_key,
        checkpoint_uri=f"{run.data(node_id)}/0/_flytecheckpoints" if g.chance(0.1) else "",
    )


# ---------------------------------------------------------------------------------------------
# Task executions
# ---------------------------------------------------------------------------------------------


def _task_group(g: _Gen) -> list[task_execution_pb2.TaskExecution]:
    """The attempts of one task node: earlier ones failed and were retried."""
    run = _Run(g)
    node_id = g.node_name()
    task_name = f"{run.pkg}.{g.choice(_MODULES)}.{g.choice(_TASKS)}"
    task_type = g.pick(_TASK_TYPES)
    attempts = g.pick(_ATTEMPTS)
    clock = g.instant()
    group = []
    for attempt in range(attempts):
        phase = _TASK.RETRYABLE_FAILED if attempt < attempts - 1 else g.pick(_TASK_PHASES)
        clock += g.span(_STEP_TIMES)
        group.append(_task_execution(g, run, node_id, task_name, task_type, attempt, phase, clock))
    return group


def _task_execution(
    g: _Gen, run: _Run, node_id: str, task_name: str, task_type: str, attempt: int, phase: int, created: int
) -> task_execution_pb2.TaskExecution:
    rng = g.rng
    pod = f"{run.name}-{node_id}-{attempt}"
    started = duration = None
    elapsed = g.span(_STEP_TIMES)
    end = created + 2 * _NS + elapsed
    if phase in (_TASK.UNDEFINED, _TASK.QUEUED):
        updated = created + rng.randrange(_NS)
    else:
        started, duration, updated = _ts(created + 2 * _NS), _duration(elapsed), end + rng.randrange(_NS)
    result: dict[str, Any] = {}
    if phase == _TASK.SUCCEEDED:
        r = rng.random()
        if r < 0.85:
            result["output_uri"] = f"{run.data(node_id)}/{attempt}/outputs.pb"
        elif r < 0.97:
            result["output_data"] = g.literal_map(_OUTPUT_NAMES, outputs=True)
    elif phase in (_TASK.FAILED, _TASK.RETRYABLE_FAILED) or (phase == _TASK.ABORTED and g.chance(0.3)):
        result["error"] = g.error(run, node_id, attempt)
    has_logs = phase not in (_TASK.UNDEFINED, _TASK.QUEUED, _TASK.WAITING_FOR_RESOURCES) or g.chance(0.2)
    plugin_info = task_type in ("spark", "ray", "container_array", "bigquery_query_job_task", "snowflake")
    reason = ""
    if g.chance(0.4):
        reason = g.choice(_REASONS).format(pod=pod)
    reasons = None
    if g.chance(0.2):
        reasons = [
            task_execution_pb2.Reason(occurred_at=_ts(created + i * _NS), message=g.choice(_REASONS).format(pod=pod))
            for i in range(1 + rng.randrange(3))
        ]
    return task_execution_pb2.TaskExecution(
        id=identifier_pb2.TaskExecutionIdentifier(
            task_id=run.identifier(_ID.TASK, task_name), node_execution_id=run.node_id(node_id), retry_attempt=attempt
        ),
        input_uri=f"{run.data(node_id)}/inputs.pb",
        is_parent=task_type == "container_array" or g.chance(0.05),
        closure=task_execution_pb2.TaskExecutionClosure(
            **result,
            phase=phase,
            logs=g.task_logs(run, task_type, pod) if has_logs else None,
            started_at=started,
            duration=duration,
            created_at=_ts(created),
            updated_at=_ts(updated),
            custom_info=g.struct_info(task_type, pod) if g.chance(0.7 if plugin_info else 0.03) else None,
            reason=reason,
            task_type=task_type,
            metadata=_task_metadata(g, run, _Pod(pod, task_type, phase, created + 2 * _NS, end))
            if g.chance(0.6)
            else None,
            event_version=1 if g.chance(0.9) else 0,
            reasons=reasons,
            log_context=g.log_context(run, pod, created + 2 * _NS, end) if has_logs and g.chance(0.15) else None,
        ),
    )


class _Pod(NamedTuple):
    """The pod of one task attempt, as the event metadata describes it."""

    name: str
    task_type: str
    phase: int
    start: int
    end: int


def _task_metadata(g: _Gen, run: _Run, pod: _Pod) -> event_pb2.TaskExecutionMetadata:
    resources = None
    if pod.task_type == "container_array" or g.chance(0.05):
        resources = [_external_resource(g, run, pod, i) for i in range(1 + g.rng.randrange(6))]
    return event_pb2.TaskExecutionMetadata(
        generated_name=pod.name,
        external_resources=resources,
        resource_pool_info=[
            event_pb2.ResourcePoolInfo(allocation_token=g.uuid(), namespace=f"{run.project}-{run.domain}")
        ]
        if g.chance(0.05)
        else None,
        plugin_identifier=_PLUGINS[pod.task_type],
        instance_class=event_pb2.TaskExecutionMetadata.INTERRUPTIBLE
        if g.chance(0.2)
        else event_pb2.TaskExecutionMetadata.DEFAULT,
    )


def _external_resource(g: _Gen, run: _Run, pod: _Pod, index: int) -> event_pb2.ExternalResourceInfo:
    """One sub-task of an array task (or one external job of a plugin)."""
    name = f"{pod.name}-{index}"
    launch_plan = g.chance(0.05)
    return event_pb2.ExternalResourceInfo(
        external_id=name,
        index=index,
        retry_attempt=1 if g.chance(0.1) else 0,
        phase=pod.phase if g.chance(0.5) else g.cycle("subtask-phase", _TASK_PHASES.values),
        cache_status=g.cycle("subtask-cache", _CACHE_STATUSES.values),
        logs=g.task_logs(run, pod.task_type, name) if g.chance(0.6) else None,
        workflow_node_metadata=event_pb2.WorkflowNodeMetadata(execution_id=run.execution_id(g.execution_name()))
        if launch_plan
        else None,
        custom_info=_struct({"exitCode": 0, "node": g.choice(_CLUSTERS)}) if g.chance(0.05) else None,
        log_context=g.log_context(run, name, pod.start, pod.end) if g.chance(0.05) else None,
    )


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def _take(n: int, seed: int, batch: Callable[[_Gen], list[T]]) -> list[T]:
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    g = _Gen(seed)
    out: list[T] = []
    while len(out) < n:
        out.extend(batch(g))
    del out[n:]
    return out


def executions(n: int, seed: int = 0) -> list[execution_pb2.Execution]:
    """``n`` realistic ``flyteidl.admin.Execution`` messages, the same for the same ``(n, seed)``.

    About 62 % succeeded (a fifth of those with inline output literals), 11 % failed with long
    tracebacks, the rest running, queued, aborted, timed out or in transition.
    """
    return _take(n, seed, lambda g: [_execution(g)])


def node_executions(n: int, seed: int = 0) -> list[node_execution_pb2.NodeExecution]:
    """``n`` realistic ``flyteidl.admin.NodeExecution`` messages, grouped by workflow execution."""
    return _take(n, seed, _node_group)


def task_executions(n: int, seed: int = 0) -> list[task_execution_pb2.TaskExecution]:
    """``n`` realistic ``flyteidl.admin.TaskExecution`` messages, grouped by node (retry attempts)."""
    return _take(n, seed, _task_group)


def execution_list(n: int, seed: int = 0, token: str = "") -> execution_pb2.ExecutionList:
    """An ``ExecutionList`` page holding :func:`executions` ``(n, seed)`` and the next-page ``token``."""
    return execution_pb2.ExecutionList(executions=executions(n, seed), token=token)


def node_execution_list(n: int, seed: int = 0, token: str = "") -> node_execution_pb2.NodeExecutionList:
    """A ``NodeExecutionList`` page holding :func:`node_executions` ``(n, seed)`` and ``token``."""
    return node_execution_pb2.NodeExecutionList(node_executions=node_executions(n, seed), token=token)


def task_execution_list(n: int, seed: int = 0, token: str = "") -> task_execution_pb2.TaskExecutionList:
    """A ``TaskExecutionList`` page holding :func:`task_executions` ``(n, seed)`` and ``token``."""
    return task_execution_pb2.TaskExecutionList(task_executions=task_executions(n, seed), token=token)


def offload_inline_outputs(response: Message) -> Message:
    """``response`` (a ``*List`` page) with every record's inline outputs (``closure.outputs.values``) replaced
    by a uri, changed in place: flytekit cannot read inline ``LiteralMapBlob.values`` (docs/compatibility.md),
    so comparisons with it decode pages without them."""
    records = next(f for f in response.DESCRIPTOR.fields if f.message_type is not None and f.is_repeated)
    for record in getattr(response, records.name):
        closure = record.closure
        if "outputs" in closure.DESCRIPTOR.fields_by_name and closure.outputs.HasField("values"):
            closure.outputs.uri = "s3://bench/outputs.pb"
    return response


def varint(value: int) -> bytes:
    """Protobuf base-128 varint encoding of a non-negative integer."""
    if value < 0:
        raise ValueError(f"varint of a negative number: {value}")
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def delimited(messages: Iterable[Message]) -> bytes:
    """Messages in protobuf's delimited stream format: a varint length, then the message, repeated.

    Each message is serialized with ``deterministic=True`` so the stream is reproducible (the
    format of Java's ``writeDelimitedTo``, Go's ``protodelim`` and C++'s
    ``SerializeDelimitedToOstream``).
    """
    out = bytearray()
    for message in messages:
        data = message.SerializeToString(deterministic=True)
        out += varint(len(data))
        out += data
    return bytes(out)


KINDS: dict[str, tuple[Callable[[int, int], list[Any]], Callable[[int, int, str], Message]]] = {
    "execution": (executions, execution_list),
    "node-execution": (node_executions, node_execution_list),
    "task-execution": (task_executions, task_execution_list),
}
"""Record kind name → (generator ``f(n, seed)``, list builder ``f(n, seed, token)``)."""


def execution_specs(n: int, seed: int = 0) -> list[execution_pb2.ExecutionSpec]:
    """The ``spec`` of each of :func:`executions` ``(n, seed)``, as flyteadmin stores it (``executions.spec``)."""
    return [e.spec for e in executions(n, seed)]


def execution_closures(n: int, seed: int = 0) -> list[execution_pb2.ExecutionClosure]:
    """The ``closure`` of each of :func:`executions` ``(n, seed)`` (``executions.closure``)."""
    return [e.closure for e in executions(n, seed)]


def node_execution_closures(n: int, seed: int = 0) -> list[node_execution_pb2.NodeExecutionClosure]:
    """The ``closure`` of each of :func:`node_executions` ``(n, seed)`` (``node_executions.closure``)."""
    return [e.closure for e in node_executions(n, seed)]


def task_execution_closures(n: int, seed: int = 0) -> list[task_execution_pb2.TaskExecutionClosure]:
    """The ``closure`` of each of :func:`task_executions` ``(n, seed)`` (``task_executions.closure``)."""
    return [e.closure for e in task_executions(n, seed)]


PARTS: dict[str, Callable[[int, int], list[Any]]] = {
    "execution-spec": execution_specs,
    "execution-closure": execution_closures,
    "node-execution-closure": node_execution_closures,
    "task-execution-closure": task_execution_closures,
}
"""Part kind name (the parts of records flyteadmin stores in columns of their own) → generator ``f(n, seed)``."""
