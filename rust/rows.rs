//! flyteadmin's rows → its API's messages, a batch per call: `executions` → `flyteidl.admin.Execution`,
//! `node_executions` → `NodeExecution`, `task_executions` → `TaskExecution`, by the rules of
//! `flytecodec.sources._rebuild` (flyteadmin's From*Model transformers), written into one buffer whose spans
//! become the batch's records. The rules read a row's cells through `Cells`, which a batch of a binary COPY
//! stream gives (`crate::pgcopy`, which writes without the GIL).
//! Rows whose stored bytes are not plainly well formed (a broken length, a group, a field number 0) or whose
//! `created_at` is NULL or infinite are left to the Python rules, which say what is wrong: the call then
//! returns `None`.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::decode::Span;
use crate::pgcopy::CopyRows;
use crate::record_list::{sequence_records, RecordList};
use crate::wire::walk;

const TRIMMED_ERROR_LENGTH: usize = 100; // flyteadmin's trimmedErrMessageLen
const EXECUTION_CLOSURE_ONEOF: [u32; 5] = [1, 2, 10, 12, 13]; // outputs, error, abort_cause, abort_metadata, output_data
const NODE_CLOSURE_ONEOF: [u32; 3] = [1, 2, 10]; // output_uri, error, output_data
const TASK_CLOSURE_ONEOF: [u32; 3] = [1, 2, 12]; // output_uri, error, output_data
const RESOURCE_TYPE_TASK: u64 = 1; // flyteidl.core.ResourceType.TASK
const CLOSURE_ERROR: u32 = 2;
const ERROR_MESSAGE: u32 = 2;
const STATE_CHANGE_DETAILS: u32 = 14;
const ABORT_METADATA: u32 = 12;
pub const PG_EPOCH_MICROS: i64 = 946_684_800_000_000; // 2000-01-01, PostgreSQL's epoch, in Unix microseconds
/// The room of the small buffers a message's ids and timestamps are written in first (no reallocation for the
/// usual ones)
const SCRATCH: usize = 128;

/// A top-level field: its number, wire type and value span (a length-delimited value's without its length).
struct Field {
    number: u32,
    wire: u8,
    start: usize,
    end: usize,
}

/// Calls `visit` with each top-level field of `buf`; `None` when `buf` is not plainly well formed (broken, or
/// holding a group: the Python rules handle those).
fn each_field(buf: &[u8], mut visit: impl FnMut(Field)) -> Option<()> {
    let mut group = false;
    walk(buf, |number, wire, start, end, _| {
        group |= wire == 3;
        visit(Field {
            number,
            wire,
            start,
            end,
        });
    })
    .ok()?;
    (!group).then_some(())
}

/// The top-level fields of `buf`, or `None` when it is not plainly well formed (see `each_field`).
fn fields(buf: &[u8]) -> Option<Vec<Field>> {
    let mut out = Vec::new();
    each_field(buf, |f| out.push(f))?;
    Some(out)
}

/// The values of the length-delimited field `number` of the message made of `parts`, in order.
fn submessages<'a>(parts: &[&'a [u8]], number: u32) -> Option<Vec<&'a [u8]>> {
    let mut out = Vec::new();
    for part in parts {
        for f in fields(part)? {
            if f.number == number && f.wire == 2 {
                out.push(&part[f.start..f.end]);
            }
        }
    }
    Some(out)
}

fn write_varint(out: &mut Vec<u8>, mut value: u64) {
    while value > 0x7F {
        out.push((value & 0x7F) as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// A length-delimited field of `parts` written one after the other.
fn field(out: &mut Vec<u8>, number: u32, parts: &[&[u8]]) {
    write_varint(out, u64::from(number << 3 | 2));
    write_varint(out, parts.iter().map(|p| p.len()).sum::<usize>() as u64);
    for part in parts {
        out.extend_from_slice(part);
    }
}

/// A proto3 string field: nothing when empty.
fn string(out: &mut Vec<u8>, number: u32, text: &[u8]) {
    if !text.is_empty() {
        field(out, number, &[text]);
    }
}

/// A proto3 integer field: nothing when zero (negative int64 values take ten bytes).
fn uint(out: &mut Vec<u8>, number: u32, value: u64) {
    if value != 0 {
        write_varint(out, u64::from(number << 3));
        write_varint(out, value);
    }
}

/// flyteadmin's TrimErrorMessage: the first 100 bytes, without the bytes of a UTF-8 character they split
/// (as Python's `decode("utf-8", "ignore")` drops them).
fn trimmed(message: &[u8]) -> Vec<u8> {
    let head = &message[..TRIMMED_ERROR_LENGTH.min(message.len())];
    head.utf8_chunks()
        .flat_map(|chunk| chunk.valid().as_bytes())
        .copied()
        .collect()
}

/// What a closure's top-level scan finds: whether it has state change details (an execution's field 14), the
/// oneof member set last (0: none), and the occurrences of `error` that make up the set error.
struct Scan<'a> {
    details: bool,
    last: u32,
    errors: Vec<&'a [u8]>,
}

fn scan<'a>(closure: &'a [u8], oneof: &[u32]) -> Option<Scan<'a>> {
    let mut found = Scan {
        details: false,
        last: 0,
        errors: Vec::new(),
    };
    each_field(closure, |f| {
        if f.wire != 2 {
            return; // a known message field with another wire type is an unknown field to protobuf
        }
        found.details |= f.number == STATE_CHANGE_DETAILS;
        if oneof.contains(&f.number) {
            if f.number != found.last {
                found.errors.clear(); // setting another member of a oneof clears the error set before it
            }
            found.last = f.number;
            if f.number == CLOSURE_ERROR {
                found.errors.push(&closure[f.start..f.end]);
            }
        }
    })?;
    Some(found)
}

/// The trimmed error of list calls, appended to `patch` (what is appended to a closure).
fn error_patch(patch: &mut Vec<u8>, found: &Scan<'_>, trim: bool) -> Option<()> {
    if trim && found.last == CLOSURE_ERROR {
        let messages = submessages(&found.errors, ERROR_MESSAGE)?;
        let message = messages.last().copied().unwrap_or_default();
        if message.len() > TRIMMED_ERROR_LENGTH {
            let mut error = Vec::new();
            field(&mut error, ERROR_MESSAGE, &[&trimmed(message)]);
            field(patch, CLOSURE_ERROR, &[&error]);
        }
    }
    Some(())
}

/// What to append to an execution's closure: the trimmed error of list calls, the state change details of
/// rows written before they existed, the abort metadata of rows that only have the abort_cause column.
fn closure_patch(closure: &[u8], row: &Row<'_>, trim: bool) -> Option<Vec<u8>> {
    let found = scan(closure, &EXECUTION_CLOSURE_ONEOF)?;
    let mut patch = Vec::new();
    error_patch(&mut patch, &found, trim)?;
    if !found.details {
        let micros = row.created_at.checked_add(PG_EPOCH_MICROS)?; // past i64 in the year 294247: Python's ints
        let mut timestamp = Vec::with_capacity(SCRATCH);
        uint(&mut timestamp, 1, micros.div_euclid(1_000_000) as u64);
        uint(
            &mut timestamp,
            2,
            (micros.rem_euclid(1_000_000) * 1000) as u64,
        );
        let mut details = Vec::with_capacity(SCRATCH);
        field(&mut details, 2, &[&timestamp]);
        string(&mut details, 3, row.user);
        field(&mut patch, STATE_CHANGE_DETAILS, &[&details]);
    }
    if row.phase == b"ABORTED" && found.last != ABORT_METADATA {
        let mut metadata = Vec::new();
        string(&mut metadata, 1, row.abort_cause);
        field(&mut patch, ABORT_METADATA, &[&metadata]);
    }
    Some(patch)
}

/// Whether the last varint field of each of `numbers` in `buf` (bools) is set.
fn last_varints_true<const N: usize>(buf: &[u8], numbers: [u32; N]) -> Option<[bool; N]> {
    let mut values = [0u64; N];
    walk(buf, |n, wire, _, _, raw| {
        if wire == 0 {
            if let Some(k) = numbers.iter().position(|&m| m == n) {
                values[k] = raw;
            }
        }
    })
    .ok()?;
    Some(values.map(|v| v != 0))
}

/// A `flyteidl.core.WorkflowExecutionIdentifier`.
fn workflow_execution_id(out: &mut Vec<u8>, project: &[u8], domain: &[u8], name: &[u8]) {
    string(out, 1, project);
    string(out, 2, domain);
    string(out, 4, name);
}

/// A `flyteidl.core.NodeExecutionIdentifier`.
fn node_execution_id(out: &mut Vec<u8>, execution: [&[u8]; 3], node_id: &[u8]) {
    let mut id = Vec::with_capacity(SCRATCH);
    workflow_execution_id(&mut id, execution[0], execution[1], execution[2]);
    string(out, 1, node_id);
    field(out, 2, &[&id]);
}

/// One row's cells, by position in the columns `flytecodec.sources.postgres` selects for its table: the rules
/// below read rows through it; a tuple of a `COPY ... (FORMAT BINARY)` stream gives them (`crate::pgcopy`).
pub trait Cells {
    /// A text or bytea cell's bytes (NULL: empty).
    fn bytes(&self, column: usize) -> PyResult<&[u8]>;
    /// An integer cell, or a timestamptz as microseconds since 2000-01-01 UTC (NULL: `None`).
    fn int(&self, column: usize) -> PyResult<Option<i64>>;
    /// A bool cell (NULL: `None`).
    fn flag(&self, column: usize) -> PyResult<Option<bool>>;
}

/// The columns of an `executions` row as `flytecodec.sources.postgres` selects them (NULL: empty).
struct Row<'a> {
    project: &'a [u8],
    domain: &'a [u8],
    name: &'a [u8],
    spec: &'a [u8],
    closure: &'a [u8],
    phase: &'a [u8],
    abort_cause: &'a [u8],
    user: &'a [u8],
    created_at: i64, // microseconds since 2000-01-01 UTC; ±(2**63 - 1): ±infinity
}

/// The message of the `executions` row `cells` (project, domain, name, spec, closure, phase, abort_cause,
/// user, created_at, ...), appended to `out`; `None`: the row is for the Python rules.
fn execution_row(
    out: &mut Vec<u8>,
    cells: &impl Cells,
    trim: bool,
    namespace: &[u8],
) -> PyResult<Option<()>> {
    let Some(created_at) = cells.int(8)? else {
        return Ok(None); // NULL: the Python rules say so
    };
    let row = Row {
        project: cells.bytes(0)?,
        domain: cells.bytes(1)?,
        name: cells.bytes(2)?,
        spec: cells.bytes(3)?,
        closure: cells.bytes(4)?,
        phase: cells.bytes(5)?,
        abort_cause: cells.bytes(6)?,
        user: cells.bytes(7)?,
        created_at,
    };
    Ok(execution(out, &row, trim, namespace))
}

/// `flyteidl.admin.Execution` for `row`, appended to `out`; `None`: the row is for the Python rules.
fn execution(out: &mut Vec<u8>, row: &Row<'_>, trim: bool, namespace: &[u8]) -> Option<()> {
    if row.created_at.unsigned_abs() >= i64::MAX.unsigned_abs() {
        return None; // ±infinity
    }
    let mut spec_patch = Vec::new();
    if !namespace.is_empty() {
        let system_metadata = submessages(&submessages(&[row.spec], 3)?, 17)?;
        if submessages(&system_metadata, 2)?
            .last()
            .is_none_or(|n| n.is_empty())
        {
            let (mut system, mut metadata) = (Vec::new(), Vec::new());
            string(&mut system, 2, namespace);
            field(&mut metadata, 17, &[&system]);
            field(&mut spec_patch, 3, &[&metadata]); // metadata.system_metadata.namespace
        }
    }
    let patch = closure_patch(row.closure, row, trim)?;
    let mut id = Vec::with_capacity(SCRATCH);
    workflow_execution_id(&mut id, row.project, row.domain, row.name);
    field(out, 1, &[&id]);
    field(out, 2, &[row.spec, &spec_patch]);
    field(out, 3, &[row.closure, &patch]);
    Some(())
}

/// `flyteidl.admin.NodeExecution` for the `node_executions` row `cells` (project, domain, name, node_id,
/// input_uri, closure, metadata, has children, dynamic workflow reference, ...), appended to `out`; `None`: the
/// row is for the Python rules.
fn node_execution_row(out: &mut Vec<u8>, cells: &impl Cells, trim: bool) -> PyResult<Option<()>> {
    let (closure, metadata, dynamic) = (cells.bytes(5)?, cells.bytes(6)?, cells.bytes(8)?);
    let has_children = cells.flag(7)?.unwrap_or(false);
    let Some(found) = scan(closure, &NODE_CLOSURE_ONEOF) else {
        return Ok(None);
    };
    let mut patch = Vec::new();
    if error_patch(&mut patch, &found, trim).is_none() {
        return Ok(None);
    }
    let mut flags = Vec::new();
    if has_children {
        let Some([parent, dynamic_set]) = last_varints_true(metadata, [2, 4]) else {
            return Ok(None);
        };
        if !(parent || dynamic_set) {
            uint(&mut flags, 2, 1); // is_parent_node
            if !dynamic.is_empty() {
                uint(&mut flags, 4, 1); // is_dynamic
            }
        }
    }
    let execution = [cells.bytes(0)?, cells.bytes(1)?, cells.bytes(2)?];
    let mut id = Vec::with_capacity(SCRATCH);
    node_execution_id(&mut id, execution, cells.bytes(3)?);
    field(out, 1, &[&id]);
    string(out, 2, cells.bytes(4)?);
    field(out, 3, &[closure, &patch]);
    field(out, 4, &[metadata, &flags]);
    Ok(Some(()))
}

/// `flyteidl.admin.TaskExecution` for the `task_executions` row `cells` (task project, domain, name,
/// version, execution project, domain, name, node_id, retry_attempt, input_uri, closure, has children, ...),
/// appended to `out`; `None`: the row is for the Python rules.
fn task_execution_row(out: &mut Vec<u8>, cells: &impl Cells, trim: bool) -> PyResult<Option<()>> {
    let closure = cells.bytes(10)?;
    let retry_attempt = cells.int(8)?.unwrap_or(0);
    let has_children = cells.flag(11)?.unwrap_or(false);
    let Some(found) = scan(closure, &TASK_CLOSURE_ONEOF) else {
        return Ok(None);
    };
    let mut patch = Vec::new();
    if error_patch(&mut patch, &found, trim).is_none() {
        return Ok(None);
    }
    let mut task_id = Vec::with_capacity(SCRATCH);
    uint(&mut task_id, 1, RESOURCE_TYPE_TASK);
    for (number, column) in (2..=5).zip(0..4) {
        string(&mut task_id, number, cells.bytes(column)?);
    }
    let execution = [cells.bytes(4)?, cells.bytes(5)?, cells.bytes(6)?];
    let mut node_id = Vec::with_capacity(SCRATCH);
    node_execution_id(&mut node_id, execution, cells.bytes(7)?);
    let mut id = Vec::with_capacity(SCRATCH);
    field(&mut id, 1, &[&task_id]);
    field(&mut id, 2, &[&node_id]);
    uint(&mut id, 3, retry_attempt as u64);
    field(out, 1, &[&id]);
    string(out, 2, cells.bytes(9)?);
    field(out, 3, &[closure, &patch]);
    uint(out, 4, u64::from(has_children));
    Ok(Some(()))
}

/// A flyteadmin table whose rows the rules above rebuild.
#[derive(Clone, Copy)]
pub enum Table {
    Executions,
    NodeExecutions,
    TaskExecutions,
}

impl Table {
    /// `executions`, `node_executions` or `task_executions`; `ValueError` for a table without rules.
    pub fn named(name: &str) -> PyResult<Table> {
        match name {
            "executions" => Ok(Table::Executions),
            "node_executions" => Ok(Table::NodeExecutions),
            "task_executions" => Ok(Table::TaskExecutions),
            other => Err(PyValueError::new_err(format!(
                "no rebuild for table {other:?}: executions, node_executions or task_executions"
            ))),
        }
    }

    /// How many cells of a row the rules read (the first ones).
    pub fn width(self) -> usize {
        match self {
            Table::Executions | Table::NodeExecutions => 9,
            Table::TaskExecutions => 12,
        }
    }

    /// The message of the row `cells`, appended to `out`; `None`: the row is for the Python rules.
    pub fn write(
        self,
        out: &mut Vec<u8>,
        cells: &impl Cells,
        trim: bool,
        namespace: &[u8],
    ) -> PyResult<Option<()>> {
        match self {
            Table::Executions => execution_row(out, cells, trim, namespace),
            Table::NodeExecutions => node_execution_row(out, cells, trim),
            Table::TaskExecutions => task_execution_row(out, cells, trim),
        }
    }
}

/// The messages of `rows` rows, row `i` appended to one buffer (of `capacity` bytes to begin with) by
/// `row(out, i)`, and the span of each; `None` when a row is for the Python rules (`row` gave `None`: broken
/// stored bytes, an infinite or NULL time).
pub fn write_rows(
    rows: usize,
    capacity: usize,
    mut row: impl FnMut(&mut Vec<u8>, usize) -> PyResult<Option<()>>,
) -> PyResult<Option<(Vec<u8>, Vec<Span>)>> {
    let mut buffer = Vec::with_capacity(capacity);
    let mut spans = Vec::with_capacity(rows);
    for i in 0..rows {
        let start = buffer.len();
        if row(&mut buffer, i)?.is_none() {
            return Ok(None);
        }
        spans.push(Span {
            buffer: 0,
            start,
            end: buffer.len(),
            offset: 0,
        });
    }
    Ok(Some((buffer, spans)))
}

/// The messages `spans` of `buffer` validated as `message` records (which keep a copy of `buffer`), and their
/// total size.
pub fn validated(
    py: Python<'_>,
    message: &str,
    buffer: &[u8],
    spans: Vec<Span>,
) -> PyResult<(RecordList, usize)> {
    let size = spans.iter().map(|s| s.end - s.start).sum();
    let buffer = PyBytes::new(py, buffer);
    let threads = crate::decode::default_threads();
    Ok((
        sequence_records(py, message, vec![buffer], spans, threads)?,
        size,
    ))
}

/// The messages of flyteadmin's `table` (`executions`, `node_executions` or `task_executions`) rebuilt as
/// `message` from `rows`, a batch of a COPY stream (`crate::pgcopy::CopyRows`; the columns of
/// `execution_row`, `node_execution_row`, `task_execution_row`), validated; `None` when a row is for the
/// Python rules; `namespace` is used for executions only.
#[pyfunction]
pub fn rebuild_rows(
    py: Python<'_>,
    table: &str,
    message: &str,
    rows: &Bound<'_, CopyRows>,
    trim: bool,
    namespace: &str,
) -> PyResult<Option<(RecordList, usize)>> {
    crate::errors::guard(py, || {
        rows.get().rebuild(py, table, message, trim, namespace)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trimmed_drops_what_python_decode_ignore_drops() {
        let split = format!("a{}", "é".repeat(60)); // byte 100 is the first of an é
        assert_eq!(
            trimmed(split.as_bytes()),
            format!("a{}", "é".repeat(49)).as_bytes()
        );
        assert_eq!(trimmed(b"ab\xffcd\xc3"), b"abcd");
        assert_eq!(trimmed(&[b'x'; 150]).len(), TRIMMED_ERROR_LENGTH);
    }

    #[test]
    fn fields_leave_what_is_not_plainly_well_formed_to_python() {
        let spans = |buf: &[u8]| {
            fields(buf).map(|f| {
                f.iter()
                    .map(|f| (f.number, f.wire, f.start, f.end))
                    .collect::<Vec<_>>()
            })
        };
        assert_eq!(
            spans(b"\x0a\x01x\x20\x96\x01\x82\x01\x00"),
            Some(vec![(1, 2, 2, 3), (4, 0, 4, 6), (16, 2, 9, 9)])
        );
        assert_eq!(
            spans(b"\x09\x00\x00\x00\x00\x00\x00\x00\x00\x15\x00\x00\x00\x00"),
            Some(vec![(1, 1, 1, 9), (2, 5, 10, 14)])
        );
        for broken in [
            &b"\x0a\xff\xff"[..],
            b"\x0a\x02x",
            b"\x20\x80",
            b"\x02\x00",
            b"\x0b\x0c",
            b"\x12",
        ] {
            assert_eq!(spans(broken), None, "{broken:?}");
        }
    }
}
