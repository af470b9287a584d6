"""flyteadmin's tables (DDL written after the GORM models and migrations of flyteadmin v1.16.8), rows written as
its repository writes them from corpus messages, and an independent implementation of its row → message rules
(parse the stored bytes with upb, set fields, as the Go transformers do) to compare flytecodec with."""

from __future__ import annotations

import calendar
import datetime

from flyteidl.admin import execution_pb2, node_execution_pb2, task_execution_pb2
from flyteidl.core import execution_pb2 as core

from flytecodec.testing import corpus

UTC = datetime.timezone.utc

SCHEMA = """
CREATE TABLE executions (
    id bigserial, created_at timestamptz, updated_at timestamptz, deleted_at timestamptz,
    execution_project text NOT NULL, execution_domain text NOT NULL, execution_name text NOT NULL,
    launch_plan_id bigint, workflow_id bigint, task_id bigint, phase text, closure bytea, spec bytea NOT NULL,
    started_at timestamptz, execution_created_at timestamptz, execution_updated_at timestamptz, duration bigint,
    abort_cause text, mode integer, source_execution_id bigint, parent_node_execution_id bigint, cluster text,
    inputs_uri text, user_inputs_uri text, error_kind text, error_code text, "user" text, state integer DEFAULT 0,
    launch_entity text,
    PRIMARY KEY (execution_project, execution_domain, execution_name)
);
CREATE INDEX idx_executions_id ON executions (id);
CREATE INDEX idx_executions_deleted_at ON executions (deleted_at);
CREATE INDEX idx_executions_phase ON executions (phase);
CREATE INDEX idx_executions_created_at ON executions (execution_created_at);
CREATE INDEX idx_executions_state ON executions (state);
CREATE INDEX idx_executions_user ON executions ("user");
CREATE TABLE node_executions (
    id bigserial, created_at timestamptz, updated_at timestamptz, deleted_at timestamptz,
    execution_project text NOT NULL, execution_domain text NOT NULL, execution_name text NOT NULL,
    node_id text NOT NULL, phase text, input_uri text, closure bytea, started_at timestamptz,
    node_execution_created_at timestamptz, node_execution_updated_at timestamptz, duration bigint,
    node_execution_metadata bytea, parent_id bigint, parent_task_execution_id bigint, error_kind text,
    error_code text, cache_status text, dynamic_workflow_remote_closure_reference text, internal_data bytea,
    PRIMARY KEY (execution_project, execution_domain, execution_name, node_id)
);
CREATE INDEX idx_node_executions_id ON node_executions (id);
CREATE INDEX idx_node_executions_parent_id ON node_executions (parent_id);
CREATE INDEX idx_node_executions_parent_task_execution_id ON node_executions (parent_task_execution_id);
CREATE TABLE task_executions (
    id bigserial, created_at timestamptz, updated_at timestamptz, deleted_at timestamptz,
    project text NOT NULL, domain text NOT NULL, name text NOT NULL, version text NOT NULL,
    execution_project text NOT NULL, execution_domain text NOT NULL, execution_name text NOT NULL,
    node_id text NOT NULL, retry_attempt bigint NOT NULL, phase text, phase_version bigint, input_uri text,
    closure bytea, started_at timestamptz, task_execution_created_at timestamptz,
    task_execution_updated_at timestamptz, duration bigint,
    PRIMARY KEY (project, domain, name, version, execution_project, execution_domain, execution_name, node_id,
                 retry_attempt)
);
CREATE INDEX idx_task_executions_id ON task_executions (id);
"""

BASE = datetime.datetime(2026, 1, 1, tzinfo=UTC)


def _time(ts) -> datetime.datetime | None:
    """A Timestamp as Postgres keeps it (microseconds), or None when unset."""
    if ts.seconds == 0 and ts.nanos == 0:
        return None
    return datetime.datetime.fromtimestamp(ts.seconds, UTC) + datetime.timedelta(microseconds=ts.nanos // 1000)


def _nanos(duration) -> int:
    return duration.seconds * 1_000_000_000 + duration.nanos


def _error(closure) -> tuple[str | None, str | None]:
    if closure.WhichOneof("output_result") != "error":
        return None, None
    return core.ExecutionError.ErrorKind.Name(closure.error.kind), closure.error.code


def _row_times(i: int, closure) -> tuple[datetime.datetime, datetime.datetime]:
    created = _time(closure.created_at) or BASE + datetime.timedelta(seconds=i)
    updated = max(created, _time(closure.updated_at) or created)
    return created, updated


def execution_rows(n: int, seed: int = 0, messages=None) -> list[dict]:
    """Rows of ``executions`` as flyteadmin writes them for the corpus's executions, with the variations old and
    odd rows have: no state_change_details in the closure (written before it existed), aborted without abort
    metadata (only the abort_cause column), a NULL closure, archived and soft-deleted rows."""
    rows, seen = [], set()
    for i, message in enumerate(corpus.executions(n, seed)):
        key = (message.id.project, message.id.domain, message.id.name)
        if key in seen:
            continue
        seen.add(key)
        closure = message.closure
        abort_cause = closure.abort_metadata.cause if closure.HasField("abort_metadata") else closure.abort_cause
        state = closure.state_change_details.state
        if i % 4 == 1:
            closure.ClearField("state_change_details")
        if i % 3 == 0 and closure.HasField("abort_metadata"):
            closure.ClearField("abort_metadata")  # predates AbortMetadata: the cause is in the column only
        phase = core.WorkflowExecution.Phase.Name(closure.phase)
        created, updated = _row_times(i, closure)
        kind, code = _error(closure)
        meta = message.spec.metadata
        rows.append(
            {
                "created_at": created,
                "updated_at": updated,
                "deleted_at": updated if i % 29 == 7 else None,
                "execution_project": key[0],
                "execution_domain": key[1],
                "execution_name": key[2],
                "launch_plan_id": 1 + i % 7,
                "workflow_id": 1 + i % 5,
                "task_id": 0,
                "phase": phase,
                "closure": None if i % 31 == 5 else closure.SerializeToString(),
                "spec": message.spec.SerializeToString(),
                "started_at": _time(closure.started_at),
                "execution_created_at": _time(closure.created_at),
                "execution_updated_at": _time(closure.updated_at),
                "duration": _nanos(closure.duration),
                "abort_cause": abort_cause,
                "mode": meta.mode,
                "source_execution_id": 0,
                "parent_node_execution_id": 0,
                "cluster": meta.system_metadata.execution_cluster,
                "inputs_uri": f"s3://bucket/metadata/{key[2]}/inputs.pb",
                "user_inputs_uri": f"s3://bucket/metadata/{key[2]}/user_inputs.pb",
                "error_kind": kind,
                "error_code": code,
                "user": meta.principal,
                "state": state,
                "launch_entity": "launch_plan",
            }
        )
    return rows


def node_execution_rows(n: int, seed: int = 0) -> list[dict]:
    """Rows of ``node_executions``; some parents without is_parent_node/is_dynamic in their metadata (written by
    an older propeller) get child rows through ``parent_id``, one of those children soft-deleted."""
    rows, seen = [], set()
    for i, message in enumerate(corpus.node_executions(n, seed)):
        ex = message.id.execution_id
        key = (ex.project, ex.domain, ex.name, message.id.node_id)
        if key in seen:
            continue
        seen.add(key)
        closure, metadata = message.closure, message.metadata
        created, updated = _row_times(i, closure)
        kind, code = _error(closure)
        rows.append(
            {
                "id": len(rows) + 1,
                "created_at": created,
                "updated_at": updated,
                "deleted_at": updated if i % 37 == 11 else None,
                "execution_project": key[0],
                "execution_domain": key[1],
                "execution_name": key[2],
                "node_id": key[3],
                "phase": core.NodeExecution.Phase.Name(closure.phase),
                "input_uri": message.input_uri,
                "closure": None if i % 41 == 3 else closure.SerializeToString(),
                "started_at": _time(closure.started_at),
                "node_execution_created_at": _time(closure.created_at),
                "node_execution_updated_at": _time(closure.updated_at),
                "duration": _nanos(closure.duration),
                "node_execution_metadata": metadata.SerializeToString(),
                "parent_id": None,
                "parent_task_execution_id": None,
                "error_kind": kind,
                "error_code": code,
                "cache_status": None,
                "dynamic_workflow_remote_closure_reference": "",
                "internal_data": b"\x08\x01",
            }
        )
    by_execution: dict[tuple, list[dict]] = {}
    for row in rows:
        by_execution.setdefault((row["execution_project"], row["execution_name"]), []).append(row)
    for j, group in enumerate(by_execution.values()):
        if len(group) < 3 or j % 2:
            continue
        parent = group[0]
        parent["node_execution_metadata"] = _metadata_without_parent_flags(parent["node_execution_metadata"])
        if j % 4 == 0:
            parent["dynamic_workflow_remote_closure_reference"] = f"s3://bucket/{parent['node_id']}/futures.pb"
        for child in group[1:3]:
            child["parent_id"] = parent["id"]
        if j % 3 == 0:  # the only child left is soft-deleted: the parent counts as childless
            group[1]["deleted_at"] = group[1]["updated_at"]
            group[2]["parent_id"] = None
    return rows


def _metadata_without_parent_flags(data: bytes) -> bytes:
    metadata = node_execution_pb2.NodeExecutionMetaData.FromString(data)
    metadata.is_parent_node = metadata.is_dynamic = False
    return metadata.SerializeToString()


def task_execution_rows(n: int, seed: int = 0) -> tuple[list[dict], list[dict]]:
    """Rows of ``task_executions``, and the node execution rows they launched (``parent_task_execution_id``) for
    the task executions the corpus marks as parents."""
    rows, children, seen = [], [], set()
    for i, message in enumerate(corpus.task_executions(n, seed)):
        task, node = message.id.task_id, message.id.node_execution_id
        ex = node.execution_id
        key = (task.project, task.domain, task.name, task.version, ex.project, ex.domain, ex.name, node.node_id,
               message.id.retry_attempt)  # fmt: skip
        if key in seen:
            continue
        seen.add(key)
        closure = message.closure
        created, updated = _row_times(i, closure)
        row_id = len(rows) + 1
        rows.append(
            {
                "id": row_id,
                "created_at": created,
                "updated_at": updated,
                "deleted_at": updated if i % 43 == 13 else None,
                **dict(zip(_TASK_KEY, key)),
                "phase": core.TaskExecution.Phase.Name(closure.phase),
                "phase_version": i % 3,
                "input_uri": message.input_uri,
                "closure": None if i % 47 == 2 else closure.SerializeToString(),
                "started_at": _time(closure.started_at),
                "task_execution_created_at": _time(closure.created_at),
                "task_execution_updated_at": _time(closure.updated_at),
                "duration": _nanos(closure.duration),
            }
        )
        if message.is_parent:
            children.append(
                {
                    "id": 1_000_000 + row_id,
                    "created_at": created,
                    "updated_at": updated,
                    "deleted_at": updated if row_id % 5 == 0 else None,
                    "execution_project": ex.project,
                    "execution_domain": ex.domain,
                    "execution_name": ex.name,
                    "node_id": f"{node.node_id}-{message.id.retry_attempt}-n0",
                    "phase": "SUCCEEDED",
                    "closure": b"",
                    "node_execution_metadata": b"",
                    "parent_task_execution_id": row_id,
                    "input_uri": "",
                    "dynamic_workflow_remote_closure_reference": "",
                }
            )
    return rows, children


_TASK_KEY = ("project", "domain", "name", "version", "execution_project", "execution_domain", "execution_name",
             "node_id", "retry_attempt")  # fmt: skip


def create_database(server, name: str) -> str:
    """A new database ``name`` on ``server`` with flyteadmin's tables; its URL."""
    import psycopg

    with psycopg.connect(server.url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = server.url(name)
    with psycopg.connect(url) as conn:
        conn.execute(SCHEMA)
    return url


def insert(conn, table: str, rows: list[dict]) -> None:
    """COPY ``rows`` into ``table`` (the columns of the first row; others default)."""
    if not rows:
        return
    columns = list(rows[0])
    names = ", ".join(f'"{c}"' for c in columns)
    with conn.cursor() as cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row.get(c) for c in columns])


# -- the oracle: flyteadmin's transformers, in upb --------------------------------------------------------------


def go_trim(message: str) -> str:
    """TrimErrorMessage: at most 100 bytes, dropping a character split by the cut."""
    out, size = [], 0
    if len(message.encode()) <= 100:
        return message
    for char in message:
        size += len(char.encode())
        if size > 100:
            break
        out.append(char)
    return "".join(out)


def _trim_closure(closure, trim: bool) -> None:
    if trim and closure.WhichOneof("output_result") == "error" and closure.error.message:
        closure.error.message = go_trim(closure.error.message)


def oracle_execution(row: dict, *, trim: bool = False, namespace: str = "") -> execution_pb2.Execution:
    spec = execution_pb2.ExecutionSpec.FromString(row["spec"])
    if namespace and not spec.metadata.system_metadata.namespace:
        spec.metadata.system_metadata.namespace = namespace
    closure = execution_pb2.ExecutionClosure.FromString(row["closure"] or b"")
    _trim_closure(closure, trim)
    if not closure.HasField("state_change_details"):
        details = closure.state_change_details
        details.state = execution_pb2.EXECUTION_ACTIVE
        created = row["created_at"]
        details.occurred_at.seconds = calendar.timegm(created.utctimetuple())
        details.occurred_at.nanos = created.microsecond * 1000
        details.principal = row["user"] or ""
    if row["phase"] == "ABORTED" and not closure.HasField("abort_metadata"):
        closure.abort_metadata.SetInParent()
        closure.abort_metadata.cause = row["abort_cause"] or ""
    out = execution_pb2.Execution(spec=spec, closure=closure)
    ident = out.id
    ident.project, ident.domain, ident.name = row["execution_project"], row["execution_domain"], row["execution_name"]
    return out


def oracle_node_execution(row: dict, children: int, *, trim: bool = False) -> node_execution_pb2.NodeExecution:
    closure = node_execution_pb2.NodeExecutionClosure.FromString(row["closure"] or b"")
    _trim_closure(closure, trim)
    metadata = node_execution_pb2.NodeExecutionMetaData.FromString(row["node_execution_metadata"] or b"")
    if not (metadata.is_parent_node or metadata.is_dynamic) and children > 0:
        metadata.is_parent_node = True
        if row["dynamic_workflow_remote_closure_reference"]:
            metadata.is_dynamic = True
    out = node_execution_pb2.NodeExecution(input_uri=row["input_uri"] or "", closure=closure, metadata=metadata)
    out.id.node_id = row["node_id"]
    ex = out.id.execution_id
    ex.project, ex.domain, ex.name = row["execution_project"], row["execution_domain"], row["execution_name"]
    return out


def oracle_task_execution(row: dict, children: int, *, trim: bool = False) -> task_execution_pb2.TaskExecution:
    closure = task_execution_pb2.TaskExecutionClosure.FromString(row["closure"] or b"")
    _trim_closure(closure, trim)
    out = task_execution_pb2.TaskExecution(input_uri=row["input_uri"] or "", closure=closure, is_parent=children > 0)
    task = out.id.task_id
    task.resource_type = 1  # TASK
    task.project, task.domain, task.name, task.version = row["project"], row["domain"], row["name"], row["version"]
    node = out.id.node_execution_id
    node.node_id = row["node_id"]
    ex = node.execution_id
    ex.project, ex.domain, ex.name = row["execution_project"], row["execution_domain"], row["execution_name"]
    out.id.retry_attempt = row["retry_attempt"]
    return out
