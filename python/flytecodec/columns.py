"""The flattened columns of each record kind: what :meth:`Batch.to_arrow` makes, defined once.

Each column is a path of proto field names from the record's message to one field. Its Arrow type follows
from the field: ``string``; ``int32``/``int64``/``uint32``/``uint64``; ``bool`` (a ``BoolValue`` wrapper
too); an enum as ``dictionary<int32, string>`` of its value names (``phase_number`` gives the phase's
number); ``Timestamp`` as ``timestamp[us, tz=UTC]``; ``Duration`` as ``duration[us]``; a
``map<string, string>`` field as an Arrow map with its entries sorted by key; a repeated string as
``list<string>``.

A value is null when the field is absent:
- a column is null when a message on its path is not set (no ``error`` → every ``error_*`` is null);
- a string column is null when the string is empty (proto3 cannot tell an empty string from an unset one);
- a map or list column is null when it has no entries;
- a number, bool or enum column is a value (0, false, the 0 enum) whenever the message holding it is set;
- a timestamp or duration column is null when the Timestamp/Duration message is not set.

Timestamps and durations keep whole microseconds (nanoseconds are cut toward zero, as protobuf's
``ToDatetime``/``ToTimedelta`` and so flytekit's models do); one outside Arrow's int64 microseconds raises
``ValueError``. Both backends build the same table from the same bytes: the native one in Rust from the
record bytes, the python one from protobuf messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from google.protobuf.descriptor import Descriptor, FieldDescriptor

from flytecodec.kinds import BY_MESSAGE


@dataclass(frozen=True)
class Column:
    """A column: ``name``, the dotted ``path`` of proto fields it reads, and what it holds (``doc``)."""

    name: str
    path: str
    doc: str
    number: bool = False  # an enum field given as its number (int32), not its name


def _at(prefix: str, columns: Sequence[Column]) -> list[Column]:
    return [Column(c.name, f"{prefix}.{c.path}", c.doc, c.number) for c in columns]


def _error(prefix: str) -> list[Column]:
    return [
        Column("error_code", f"{prefix}.code", "error code, e.g. USER:ValueError"),
        Column("error_kind", f"{prefix}.kind", "error kind: UNKNOWN, USER or SYSTEM"),
        Column("error_message", f"{prefix}.message", "error message (often a traceback)"),
        Column("error_uri", f"{prefix}.error_uri", "where the full error document is stored"),
    ]


def _times() -> list[Column]:
    return [
        Column("phase", "phase", "the phase's name"),
        Column("phase_number", "phase", "the phase's number", number=True),
        Column("started_at", "started_at", "when it started running"),
        Column("duration", "duration", "how long it ran"),
        Column("created_at", "created_at", "when it was created"),
        Column("updated_at", "updated_at", "when it was last updated"),
    ]


def _identifier(prefix: str, path: str, what: str) -> list[Column]:
    return [
        Column(f"{prefix}_{part}", f"{path}.{part}", f"{what}: {part}")
        for part in ("project", "domain", "name", "version")
    ]


def _execution_id(prefix: str, path: str, what: str) -> list[Column]:
    return [Column(f"{prefix}_{part}", f"{path}.{part}", f"{what}: {part}") for part in ("project", "domain", "name")]


EXECUTION_SPEC = [
    *_identifier("launch_plan", "launch_plan", "launch plan"),
    Column("mode", "metadata.mode", "how it was launched: MANUAL, SCHEDULED, SYSTEM, RELAUNCH, CHILD_WORKFLOW, …"),
    Column("principal", "metadata.principal", "who launched it"),
    Column("nesting", "metadata.nesting", "how deep it is nested in parent executions (0 at the top)"),
    Column("scheduled_at", "metadata.scheduled_at", "the scheduled time, for a scheduled execution"),
    Column("parent_node_id", "metadata.parent_node_execution.node_id", "the parent node, for a child execution"),
    *_execution_id("parent_execution", "metadata.parent_node_execution.execution_id", "the parent execution"),
    Column("reference_execution_name", "metadata.reference_execution.name", "the execution it relaunches or recovers"),
    Column("cluster", "metadata.system_metadata.execution_cluster", "the cluster it ran on"),
    Column("namespace", "metadata.system_metadata.namespace", "the Kubernetes namespace it ran in"),
    Column("labels", "labels.values", "labels"),
    Column("annotations", "annotations.values", "annotations"),
    Column("tags", "tags", "tags"),
    Column("max_parallelism", "max_parallelism", "the most nodes run at once (0: the default)"),
    Column("interruptible", "interruptible", "the interruptible override (null: not overridden)"),
    Column("overwrite_cache", "overwrite_cache", "whether cached outputs are recomputed"),
    Column("service_account", "security_context.run_as.k8s_service_account", "the Kubernetes service account"),
    Column("raw_output_prefix", "raw_output_data_config.output_location_prefix", "where raw outputs are written"),
    Column("execution_cluster_label", "execution_cluster_label.value", "the execution cluster label"),
]

EXECUTION_CLOSURE = [
    *_times(),
    Column("outputs_uri", "outputs.uri", "where the outputs are stored (offloaded outputs)"),
    *_error("error"),
    Column("abort_cause", "abort_cause", "why it was aborted (the deprecated string field)"),
    Column("abort_metadata_cause", "abort_metadata.cause", "why it was aborted"),
    Column("abort_principal", "abort_metadata.principal", "who aborted it"),
    *_identifier("workflow", "workflow_id", "the workflow it ran"),
    Column("state", "state_change_details.state", "the execution state: EXECUTION_ACTIVE or EXECUTION_ARCHIVED"),
    Column("state_occurred_at", "state_change_details.occurred_at", "when the state last changed"),
    Column("state_principal", "state_change_details.principal", "who changed the state"),
]

EXECUTION = [
    Column("project", "id.project", "the execution's project"),
    Column("domain", "id.domain", "the execution's domain"),
    Column("name", "id.name", "the execution's name"),
    Column("org", "id.org", "the execution's organization"),
    *_at("spec", EXECUTION_SPEC),
    *_at("closure", EXECUTION_CLOSURE),
]

NODE_EXECUTION_CLOSURE = [
    *_times(),
    Column("output_uri", "output_uri", "where the outputs are stored"),
    *_error("error"),
    *_execution_id("child_execution", "workflow_node_metadata.executionId", "the execution a workflow node launched"),
    Column("cache_status", "task_node_metadata.cache_status", "the cache status of a task node: CACHE_HIT, …"),
    *_identifier("catalog_dataset", "task_node_metadata.catalog_key.dataset_id", "the cached dataset"),
    Column("catalog_artifact_tag", "task_node_metadata.catalog_key.artifact_tag.name", "the cached artifact's tag"),
    Column("checkpoint_uri", "task_node_metadata.checkpoint_uri", "the task's checkpoint"),
    Column("deck_uri", "deck_uri", "the Flyte deck"),
    Column("dynamic_job_spec_uri", "dynamic_job_spec_uri", "the dynamic job spec, for a dynamic node"),
]

NODE_EXECUTION = [
    Column("node_id", "id.node_id", "the node's id in its workflow"),
    *_execution_id("execution", "id.execution_id", "the workflow execution"),
    Column("execution_org", "id.execution_id.org", "the workflow execution's organization"),
    Column("input_uri", "input_uri", "where the inputs are stored"),
    *_at("closure", NODE_EXECUTION_CLOSURE),
    Column("retry_group", "metadata.retry_group", "the retry group of a node in a subworkflow"),
    Column("is_parent_node", "metadata.is_parent_node", "whether it has child node executions"),
    Column("spec_node_id", "metadata.spec_node_id", "the node's id in the workflow spec"),
    Column("is_dynamic", "metadata.is_dynamic", "whether it is a dynamic node"),
    Column("is_array", "metadata.is_array", "whether it is an array node"),
    Column("is_eager", "metadata.is_eager", "whether it is an eager node"),
]

TASK_EXECUTION_CLOSURE = [
    *_times(),
    Column("output_uri", "output_uri", "where the outputs are stored"),
    *_error("error"),
    Column("reason", "reason", "why it is in its phase"),
    Column("task_type", "task_type", "the task type, e.g. python-task"),
    Column("event_version", "event_version", "the version of the events that built it"),
    Column("generated_name", "metadata.generated_name", "the name of the pod or job"),
    Column("plugin_identifier", "metadata.plugin_identifier", "the plugin that ran it"),
    Column("instance_class", "metadata.instance_class", "DEFAULT or INTERRUPTIBLE"),
]

TASK_EXECUTION = [
    *_identifier("task", "id.task_id", "the task"),
    Column("task_org", "id.task_id.org", "the task's organization"),
    Column("node_id", "id.node_execution_id.node_id", "the node it ran for"),
    *_execution_id("execution", "id.node_execution_id.execution_id", "the workflow execution"),
    Column("retry_attempt", "id.retry_attempt", "the attempt, from 0"),
    Column("input_uri", "input_uri", "where the inputs are stored"),
    Column("is_parent", "is_parent", "whether it has child node executions"),
    *_at("closure", TASK_EXECUTION_CLOSURE),
]

COLUMNS: dict[str, list[Column]] = {
    "flyteidl.admin.Execution": EXECUTION,
    "flyteidl.admin.ExecutionSpec": EXECUTION_SPEC,
    "flyteidl.admin.ExecutionClosure": EXECUTION_CLOSURE,
    "flyteidl.admin.NodeExecution": NODE_EXECUTION,
    "flyteidl.admin.NodeExecutionClosure": NODE_EXECUTION_CLOSURE,
    "flyteidl.admin.TaskExecution": TASK_EXECUTION,
    "flyteidl.admin.TaskExecutionClosure": TASK_EXECUTION_CLOSURE,
}

_INTS = {
    FieldDescriptor.TYPE_INT32: "int32",
    FieldDescriptor.TYPE_SINT32: "int32",
    FieldDescriptor.TYPE_SFIXED32: "int32",
    FieldDescriptor.TYPE_INT64: "int64",
    FieldDescriptor.TYPE_SINT64: "int64",
    FieldDescriptor.TYPE_SFIXED64: "int64",
    FieldDescriptor.TYPE_UINT32: "uint32",
    FieldDescriptor.TYPE_FIXED32: "uint32",
    FieldDescriptor.TYPE_UINT64: "uint64",
    FieldDescriptor.TYPE_FIXED64: "uint64",
}


@dataclass(frozen=True)
class Resolved:
    """A column with its path resolved against the descriptors.

    ``fields`` are the descriptors along the path; ``kind`` is one of string, int32, int64, uint32, uint64,
    bool, enum, enum_number, timestamp, duration, bool_wrapper, map or list; ``enum_numbers`` are the enum's
    value numbers in declaration order (a value's position is its dictionary index).
    """

    name: str
    fields: tuple[FieldDescriptor, ...]
    kind: str
    enum_numbers: tuple[int, ...] = ()
    enum_names: tuple[str, ...] = ()

    @property
    def numbers(self) -> tuple[int, ...]:
        return tuple(f.number for f in self.fields)


def _leaf_kind(column: Column, field: FieldDescriptor) -> str:
    message = field.message_type
    if field.is_repeated:
        if message is not None and message.GetOptions().map_entry:
            key, value = message.fields_by_name["key"], message.fields_by_name["value"]
            if key.type == value.type == FieldDescriptor.TYPE_STRING:
                return "map"
        elif field.type == FieldDescriptor.TYPE_STRING:
            return "list"
        raise TypeError(f"column {column.name}: {field.full_name} is repeated, not a map<string,string> or strings")
    if column.number and field.enum_type is None:
        raise TypeError(f"column {column.name}: number=True is only for an enum field")
    if field.enum_type is not None:
        return "enum_number" if column.number else "enum"
    if message is not None:
        known = {
            "google.protobuf.Timestamp": "timestamp",
            "google.protobuf.Duration": "duration",
            "google.protobuf.BoolValue": "bool_wrapper",
        }
        if message.full_name in known:
            return known[message.full_name]
        raise TypeError(f"column {column.name}: {field.full_name} is a message of no column type")
    if field.type == FieldDescriptor.TYPE_STRING:
        return "string"
    if field.type == FieldDescriptor.TYPE_BOOL:
        return "bool"
    if field.type in _INTS:
        return _INTS[field.type]
    raise TypeError(f"column {column.name}: {field.full_name} has no column type")


def _resolve(descriptor: Descriptor, column: Column) -> Resolved:
    fields = []
    message: Descriptor | None = descriptor
    for part in column.path.split("."):
        if message is None or part not in message.fields_by_name:
            raise TypeError(f"column {column.name}: no field {part!r} on the path {column.path}")
        field = message.fields_by_name[part]
        fields.append(field)
        message = field.message_type
    kind = _leaf_kind(column, fields[-1])
    for field in fields[:-1]:
        if field.is_repeated:
            raise TypeError(f"column {column.name}: {field.full_name} on its path is repeated")
    enum = fields[-1].enum_type
    numbers = tuple(v.number for v in enum.values) if enum is not None else ()
    names = tuple(v.name for v in enum.values) if enum is not None else ()
    return Resolved(column.name, tuple(fields), kind, numbers, names)


@cache
def resolved(message: str) -> tuple[Resolved, ...]:
    """Every column of records of ``message`` (a proto full name), resolved."""
    from flyteidl.admin import execution_pb2, node_execution_pb2, task_execution_pb2  # noqa: F401  (the pool)
    from google.protobuf import descriptor_pool

    descriptor = descriptor_pool.Default().FindMessageTypeByName(message)
    return tuple(_resolve(descriptor, c) for c in COLUMNS[message])


def _message_of(model) -> str:
    name = getattr(model, "_pb_name", None)
    if name not in COLUMNS:
        kinds = ", ".join(m.rsplit(".", 1)[1] for m in COLUMNS)
        raise TypeError(f"no columns for {getattr(model, '__name__', model)!r}; columns exist for {kinds}")
    return name


def column_names(model) -> list[str]:
    """The column names of records of ``model`` (e.g. ``Execution``), in table order."""
    return [c.name for c in COLUMNS[_message_of(model)]]


def select(model, columns: Sequence[str] | None) -> tuple[Resolved, ...]:
    """The resolved columns of ``model`` named in ``columns`` (all when ``None``), in the order given."""
    every = resolved(_message_of(model))
    if columns is None:
        return every
    if isinstance(columns, str):
        raise TypeError("columns= takes a list of column names, not one string")
    by_name = {c.name: c for c in every}
    unknown = [name for name in columns if name not in by_name]
    if unknown:
        raise ValueError(
            f"unknown column{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} for "
            f"{getattr(model, '__name__', model)}; the columns are: {', '.join(by_name)}"
        )
    twice = sorted({name for name in columns if columns.count(name) > 1})
    if twice:
        raise ValueError(f"{', '.join(map(repr, twice))} named twice in the columns")
    return tuple(by_name[name] for name in columns)


ARROW_TYPES = {  # what each kind of column is in Arrow (flytecodec.arrow.arrow_type makes them)
    "string": "string",
    "int32": "int32",
    "int64": "int64",
    "uint32": "uint32",
    "uint64": "uint64",
    "bool": "bool",
    "bool_wrapper": "bool",
    "enum": "dictionary<int32, string>",
    "enum_number": "int32",
    "timestamp": "timestamp[us, tz=UTC]",
    "duration": "duration[us]",
    "map": "map<string, string>",
    "list": "list<string>",
}


def docs_markdown() -> str:
    """``docs/columns.md``: every column of every kind (``python scripts/columns_doc.py`` writes it)."""
    lines = [
        "# Columns of `Batch.to_arrow()`",
        "",
        "Generated from `python/flytecodec/columns.py` by `python scripts/columns_doc.py`; a test keeps it current.",
        "",
        *__doc__.replace("``", "`").replace(":meth:`Batch.to_arrow`", "`Batch.to_arrow()`").strip().splitlines(),
    ]
    for message, columns in COLUMNS.items():
        title = BY_MESSAGE[message].title
        lines += ["", f"## {title}", "", "| column | type | proto field | what |", "|---|---|---|---|"]
        for column, resolved_column in zip(columns, resolved(message)):
            kind = ARROW_TYPES[resolved_column.kind]
            lines.append(f"| `{column.name}` | {kind} | `{column.path}` | {column.doc} |")
    return "\n".join(lines) + "\n"
