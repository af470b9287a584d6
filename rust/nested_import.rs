//! The nested import: an Arrow table of the nested layout (`docs/nested.md`, `flytecodec.layout`) back to
//! record bytes, each exactly upb's deterministic serialization of the message its row describes.
//!
//! Per row, every non-null, non-empty column is written as protobuf fields (a struct as a sub-message built
//! the same way, a timestamp or duration as its message, a wrapper as `{1: value}`, a cut column's bytes as
//! the field's payload), then the message's `_rest` bytes are appended (appending bytes merges them into the
//! message), and the whole record goes through [`crate::canonical`], which puts it in upb's deterministic
//! order and form. Rows are split over threads, without the GIL.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    DurationNanosecondType, Float32Type, Float64Type, Int32Type, Int64Type,
    TimestampNanosecondType, UInt32Type, UInt64Type,
};
use arrow_array::{
    Array, BinaryArray, BooleanArray, ListArray, MapArray, PrimitiveArray, StringArray, StructArray,
};
use arrow_data::ArrayData;
use arrow_schema::{DataType, TimeUnit};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyCapsule};

use crate::canonical::{canonical_into, put_delimited, put_varint};
use crate::decode::{default_threads, DecodeFailure};
use crate::errors::{decode_error, guard};
use crate::messages::{schema, Kind, Schema};
use crate::wire::validate;

/// Fewer rows than this per thread are written on one thread.
const MIN_ROWS_PER_THREAD: usize = 1024;

/// What one value of a slot is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Value {
    Scalar(Kind),
    /// A struct: the index of its node in the plan.
    Message(usize),
    Timestamp,
    Duration,
    /// A wrapper message holding a scalar of this kind as field 1.
    Wrapper(Kind),
    /// A message kept as bytes: its index in the schema.
    Cut(usize),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    Single,
    Optional,
    Repeated,
    /// A map: the kind of its key.
    Map(Kind),
}

#[derive(Debug)]
struct Slot {
    number: u32,
    name: String,
    value: Value,
    shape: Shape,
}

#[derive(Debug)]
struct Node {
    /// The message's index in the schema.
    message: usize,
    slots: Vec<Slot>,
}

/// A plan as `flytecodec.layout.plan()` gives it: `(message, ((number, name, kind, shape, child, key,
/// oneof, metadata), ...))` per node.
type PyPlan = Vec<(
    String,
    Vec<(u32, String, String, String, i64, String, i64, Py<PyAny>)>,
)>;

fn scalar_kind(name: &str) -> Option<Kind> {
    Some(match name {
        "double" => Kind::Double,
        "float" => Kind::Float,
        "int64" => Kind::Int64,
        "uint64" => Kind::UInt64,
        "int32" => Kind::Int32,
        "fixed64" => Kind::Fixed64,
        "fixed32" => Kind::Fixed32,
        "bool" => Kind::Bool,
        "string" => Kind::String,
        "bytes" => Kind::Bytes,
        "uint32" => Kind::UInt32,
        "enum" => Kind::Enum,
        "sfixed32" => Kind::SFixed32,
        "sfixed64" => Kind::SFixed64,
        "sint32" => Kind::SInt32,
        "sint64" => Kind::SInt64,
        _ => return None,
    })
}

/// The plan, checked against the schema: each slot a field of its message, of the kind and shape it says.
fn resolve(s: &Schema, plan: PyPlan) -> Result<Vec<Node>, String> {
    let count = plan.len();
    let mut nodes = Vec::with_capacity(count);
    for (message_name, slots) in plan {
        let message = s
            .find(&message_name)
            .ok_or_else(|| format!("unknown message {message_name}"))?;
        let def = &s.messages[message];
        let mut resolved = Vec::with_capacity(slots.len());
        for (number, name, kind, shape, child, key, _oneof, _metadata) in slots {
            let what = || format!("{message_name}.{name}");
            let field = def
                .field(number)
                .ok_or_else(|| format!("{} is not a field of the schema", what()))?;
            // the kind of one value: a map's value, or the field's own
            let value_kind = match (shape.as_str(), field.kind) {
                ("map", Kind::Message(entry)) => s.messages[entry]
                    .field(2)
                    .map(|f| f.kind)
                    .ok_or_else(|| format!("{} is not a map", what()))?,
                _ => field.kind,
            };
            let value = match kind.as_str() {
                "message" => {
                    let child = usize::try_from(child)
                        .ok()
                        .filter(|&c| c < count)
                        .ok_or_else(|| format!("{}: no node {child}", what()))?;
                    Value::Message(child)
                }
                "timestamp" => Value::Timestamp,
                "duration" => Value::Duration,
                "cut" => match value_kind {
                    Kind::Message(i) => Value::Cut(i),
                    _ => return Err(format!("{} is not a message", what())),
                },
                other => match other.strip_prefix("wrapper:").map(scalar_kind) {
                    Some(Some(inner)) => Value::Wrapper(inner),
                    Some(None) => return Err(format!("{}: unknown kind {other}", what())),
                    None => Value::Scalar(
                        scalar_kind(other)
                            .ok_or_else(|| format!("{}: unknown kind {other}", what()))?,
                    ),
                },
            };
            let fits = match value {
                Value::Scalar(k) => k == value_kind,
                _ => matches!(value_kind, Kind::Message(_)),
            };
            if !fits {
                return Err(format!("{}: kind {kind} does not fit the schema", what()));
            }
            let shape = match shape.as_str() {
                "single" => Shape::Single,
                "optional" => Shape::Optional,
                "repeated" => Shape::Repeated,
                "map" => Shape::Map(
                    scalar_kind(&key).ok_or_else(|| format!("{}: unknown key {key}", what()))?,
                ),
                other => return Err(format!("{}: unknown shape {other}", what())),
            };
            if matches!(shape, Shape::Repeated | Shape::Map(_)) != field.repeated {
                return Err(format!("{}: shape does not fit the schema", what()));
            }
            resolved.push(Slot {
                number,
                name,
                value,
                shape,
            });
        }
        nodes.push(Node {
            message,
            slots: resolved,
        });
    }
    if nodes.is_empty() {
        return Err("an empty plan".into());
    }
    Ok(nodes)
}

/// A column, typed once per batch.
enum Col<'a> {
    F64(&'a PrimitiveArray<Float64Type>),
    F32(&'a PrimitiveArray<Float32Type>),
    I32(&'a PrimitiveArray<Int32Type>),
    I64(&'a PrimitiveArray<Int64Type>),
    U32(&'a PrimitiveArray<UInt32Type>),
    U64(&'a PrimitiveArray<UInt64Type>),
    Bool(&'a BooleanArray),
    Str(&'a StringArray),
    Bin(&'a BinaryArray),
    Time(&'a PrimitiveArray<TimestampNanosecondType>),
    Span(&'a PrimitiveArray<DurationNanosecondType>),
    Struct(StructCol<'a>),
    List(&'a ListArray, Box<Col<'a>>),
    Map(&'a MapArray, Box<Col<'a>>, Box<Col<'a>>),
}

struct StructCol<'a> {
    array: &'a StructArray,
    node: usize,
    fields: Vec<Col<'a>>,
    rest: &'a BinaryArray,
}

impl Col<'_> {
    fn is_null(&self, i: usize) -> bool {
        match self {
            Col::F64(a) => a.is_null(i),
            Col::F32(a) => a.is_null(i),
            Col::I32(a) => a.is_null(i),
            Col::I64(a) => a.is_null(i),
            Col::U32(a) => a.is_null(i),
            Col::U64(a) => a.is_null(i),
            Col::Bool(a) => a.is_null(i),
            Col::Str(a) => a.is_null(i),
            Col::Bin(a) => a.is_null(i),
            Col::Time(a) => a.is_null(i),
            Col::Span(a) => a.is_null(i),
            Col::Struct(c) => c.array.is_null(i),
            Col::List(a, _) => a.is_null(i),
            Col::Map(a, _, _) => a.is_null(i),
        }
    }
}

fn wrong_type(path: &str, want: &str, got: &DataType) -> String {
    format!("column {path}: expected {want}, got {got}")
}

fn typed<'a, T: 'static>(array: &'a dyn Array, path: &str, want: &str) -> Result<&'a T, String> {
    array
        .as_any()
        .downcast_ref::<T>()
        .ok_or_else(|| wrong_type(path, want, array.data_type()))
}

/// The typed column of one value of `value` over `array`.
fn value_col<'a>(
    nodes: &[Node],
    value: Value,
    array: &'a dyn Array,
    path: &str,
) -> Result<Col<'a>, String> {
    Ok(match value {
        Value::Scalar(kind) | Value::Wrapper(kind) => match kind {
            Kind::Double => Col::F64(typed(array, path, "float64")?),
            Kind::Float => Col::F32(typed(array, path, "float32")?),
            Kind::Int32 | Kind::SInt32 | Kind::SFixed32 | Kind::Enum => {
                Col::I32(typed(array, path, "int32")?)
            }
            Kind::Int64 | Kind::SInt64 | Kind::SFixed64 => Col::I64(typed(array, path, "int64")?),
            Kind::UInt32 | Kind::Fixed32 => Col::U32(typed(array, path, "uint32")?),
            Kind::UInt64 | Kind::Fixed64 => Col::U64(typed(array, path, "uint64")?),
            Kind::Bool => Col::Bool(typed(array, path, "bool")?),
            Kind::String => Col::Str(typed(array, path, "string")?),
            Kind::Bytes => Col::Bin(typed(array, path, "binary")?),
            Kind::Message(_) | Kind::Group => {
                return Err(format!("column {path}: not a scalar"));
            }
        },
        Value::Timestamp => match array.data_type() {
            DataType::Timestamp(TimeUnit::Nanosecond, _) => {
                Col::Time(typed(array, path, "timestamp[ns]")?)
            }
            other => return Err(wrong_type(path, "timestamp[ns]", other)),
        },
        Value::Duration => Col::Span(typed(array, path, "duration[ns]")?),
        Value::Cut(_) => Col::Bin(typed(array, path, "binary")?),
        Value::Message(node) => Col::Struct(struct_col(nodes, node, array, path)?),
    })
}

fn struct_col<'a>(
    nodes: &[Node],
    node: usize,
    array: &'a dyn Array,
    path: &str,
) -> Result<StructCol<'a>, String> {
    let array: &StructArray = typed(array, path, "struct")?;
    let slots = &nodes[node].slots;
    if array.num_columns() != slots.len() + 1 {
        return Err(format!(
            "column {}: {} fields, the layout has {}",
            if path.is_empty() { "(record)" } else { path },
            array.num_columns(),
            slots.len() + 1
        ));
    }
    let join = |name: &str| {
        if path.is_empty() {
            name.to_string()
        } else {
            format!("{path}.{name}")
        }
    };
    let mut fields = Vec::with_capacity(slots.len());
    for (slot, column) in slots.iter().zip(array.columns()) {
        let here = join(&slot.name);
        let col = match slot.shape {
            Shape::Single | Shape::Optional => {
                value_col(nodes, slot.value, column.as_ref(), &here)?
            }
            Shape::Repeated => {
                let list: &ListArray = typed(column.as_ref(), &here, "list")?;
                let items = value_col(nodes, slot.value, list.values().as_ref(), &here)?;
                Col::List(list, Box::new(items))
            }
            Shape::Map(key) => {
                let map: &MapArray = typed(column.as_ref(), &here, "map")?;
                let keys = value_col(nodes, Value::Scalar(key), map.keys().as_ref(), &here)?;
                let values = value_col(nodes, slot.value, map.values().as_ref(), &here)?;
                Col::Map(map, Box::new(keys), Box::new(values))
            }
        };
        fields.push(col);
    }
    let rest_path = join(REST);
    let rest = typed(array.column(slots.len()).as_ref(), &rest_path, "binary")?;
    Ok(StructCol {
        array,
        node,
        fields,
        rest,
    })
}

/// The column holding a message's fields that no other column holds.
pub const REST: &str = "_rest";

/// Why a row cannot be written: the column (its path, innermost name first) and the reason.
struct Fail {
    path: Vec<String>,
    reason: String,
}

impl Fail {
    fn new(reason: impl Into<String>) -> Self {
        Fail {
            path: Vec::new(),
            reason: reason.into(),
        }
    }

    fn within(mut self, name: &str) -> Self {
        self.path.push(name.to_string());
        self
    }

    fn column(&self) -> String {
        let mut path = self.path.clone();
        path.reverse();
        path.join(".")
    }
}

#[inline]
fn put_tag(out: &mut Vec<u8>, number: u32, wire: u8) {
    put_varint(out, (u64::from(number) << 3) | u64::from(wire));
}

#[inline]
fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

const NANOS: i64 = 1_000_000_000;

struct Writer<'a> {
    schema: &'a Schema,
    nodes: &'a [Node],
}

impl Writer<'_> {
    /// Write field `number` holding the value of `col` at `i` (not null).
    fn field(
        &self,
        number: u32,
        value: Value,
        col: &Col<'_>,
        i: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), Fail> {
        match (value, col) {
            (Value::Scalar(kind), _) => self.scalar(number, kind, col, i, out),
            (Value::Wrapper(kind), _) => {
                put_tag(out, number, 2);
                put_delimited(out, |out| self.scalar(1, kind, col, i, out))
            }
            (Value::Message(_), Col::Struct(sc)) => {
                put_tag(out, number, 2);
                put_delimited(out, |out| self.message(sc, i, out))
            }
            (Value::Timestamp, Col::Time(a)) => {
                let ns = a.value(i);
                let (seconds, nanos) = (ns.div_euclid(NANOS), ns.rem_euclid(NANOS));
                put_tag(out, number, 2);
                put_delimited(out, |out| {
                    time_fields(out, seconds, nanos);
                    Ok(())
                })
            }
            (Value::Duration, Col::Span(a)) => {
                let ns = a.value(i);
                put_tag(out, number, 2);
                put_delimited(out, |out| {
                    time_fields(out, ns / NANOS, ns % NANOS);
                    Ok(())
                })
            }
            (Value::Cut(message), Col::Bin(a)) => {
                let bytes = a.value(i);
                validate(self.schema, message, bytes).map_err(|e| {
                    Fail::new(format!(
                        "not a valid {}: {}",
                        self.schema.messages[message].full_name, e.reason
                    ))
                })?;
                put_tag(out, number, 2);
                put_varint(out, bytes.len() as u64);
                out.extend_from_slice(bytes);
                Ok(())
            }
            _ => Err(Fail::new("a column of the wrong type")),
        }
    }

    /// Write scalar field `number` of `kind` from `col` at `i`.
    fn scalar(
        &self,
        number: u32,
        kind: Kind,
        col: &Col<'_>,
        i: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), Fail> {
        put_tag(out, number, kind.wire_type());
        match (kind, col) {
            (Kind::Double, Col::F64(a)) => out.extend_from_slice(&a.value(i).to_le_bytes()),
            (Kind::Float, Col::F32(a)) => out.extend_from_slice(&a.value(i).to_le_bytes()),
            (Kind::Int32 | Kind::Enum, Col::I32(a)) => {
                put_varint(out, i64::from(a.value(i)) as u64)
            }
            (Kind::SInt32, Col::I32(a)) => put_varint(out, zigzag(i64::from(a.value(i)))),
            (Kind::SFixed32, Col::I32(a)) => out.extend_from_slice(&a.value(i).to_le_bytes()),
            (Kind::Int64, Col::I64(a)) => put_varint(out, a.value(i) as u64),
            (Kind::SInt64, Col::I64(a)) => put_varint(out, zigzag(a.value(i))),
            (Kind::SFixed64, Col::I64(a)) => out.extend_from_slice(&a.value(i).to_le_bytes()),
            (Kind::UInt32, Col::U32(a)) => put_varint(out, u64::from(a.value(i))),
            (Kind::Fixed32, Col::U32(a)) => out.extend_from_slice(&a.value(i).to_le_bytes()),
            (Kind::UInt64, Col::U64(a)) => put_varint(out, a.value(i)),
            (Kind::Fixed64, Col::U64(a)) => out.extend_from_slice(&a.value(i).to_le_bytes()),
            (Kind::Bool, Col::Bool(a)) => out.push(u8::from(a.value(i))),
            (Kind::String, Col::Str(a)) => {
                let value = a.value(i).as_bytes();
                put_varint(out, value.len() as u64);
                out.extend_from_slice(value);
            }
            (Kind::Bytes, Col::Bin(a)) => {
                let value = a.value(i);
                put_varint(out, value.len() as u64);
                out.extend_from_slice(value);
            }
            _ => return Err(Fail::new("a column of the wrong type")),
        }
        Ok(())
    }

    /// Write the fields of the message of struct column `sc` at row `i`, then its `_rest`.
    fn message(&self, sc: &StructCol<'_>, i: usize, out: &mut Vec<u8>) -> Result<(), Fail> {
        let node = &self.nodes[sc.node];
        for (slot, col) in node.slots.iter().zip(&sc.fields) {
            self.slot(slot, col, i, out)
                .map_err(|f| f.within(&slot.name))?;
        }
        if !sc.rest.is_null(i) {
            let bytes = sc.rest.value(i);
            validate(self.schema, node.message, bytes).map_err(|e| {
                Fail::new(format!(
                    "not a valid {}: {}",
                    self.schema.messages[node.message].full_name, e.reason
                ))
                .within(REST)
            })?;
            out.extend_from_slice(bytes);
        }
        Ok(())
    }

    fn slot(&self, slot: &Slot, col: &Col<'_>, i: usize, out: &mut Vec<u8>) -> Result<(), Fail> {
        match (slot.shape, col) {
            (Shape::Single | Shape::Optional, _) => {
                if col.is_null(i) {
                    return if slot.shape == Shape::Single {
                        Err(Fail::new("null in a column that is not nullable"))
                    } else {
                        Ok(())
                    };
                }
                self.field(slot.number, slot.value, col, i, out)
            }
            (Shape::Repeated, Col::List(list, items)) => {
                if list.is_null(i) {
                    return Err(Fail::new("a null list (a repeated field is never null)"));
                }
                let offsets = list.value_offsets();
                let (start, end) = (offsets[i] as usize, offsets[i + 1] as usize);
                for k in start..end {
                    if items.is_null(k) {
                        return Err(Fail::new(format!("item {} is null", k - start)));
                    }
                    self.field(slot.number, slot.value, items, k, out)?;
                }
                Ok(())
            }
            (Shape::Map(key), Col::Map(map, keys, values)) => {
                if map.is_null(i) {
                    return Err(Fail::new("a null map (a map is never null)"));
                }
                let offsets = map.value_offsets();
                let (start, end) = (offsets[i] as usize, offsets[i + 1] as usize);
                for k in start..end {
                    if keys.is_null(k) || values.is_null(k) {
                        return Err(Fail::new(format!("entry {} has a null", k - start)));
                    }
                    put_tag(out, slot.number, 2);
                    put_delimited(out, |out| {
                        self.field(1, Value::Scalar(key), keys, k, out)?;
                        self.field(2, slot.value, values, k, out)
                    })?;
                }
                Ok(())
            }
            _ => Err(Fail::new("a column of the wrong type")),
        }
    }
}

/// A Timestamp's or Duration's fields (defaults left out; `canonical` would drop them anyway).
fn time_fields(out: &mut Vec<u8>, seconds: i64, nanos: i64) {
    if seconds != 0 {
        put_tag(out, 1, 0);
        put_varint(out, seconds as u64);
    }
    if nanos != 0 {
        put_tag(out, 2, 0);
        put_varint(out, nanos as u64);
    }
}

/// A row that cannot be written: its index in the table, the column and why.
#[derive(Debug)]
struct RowFailure {
    row: usize,
    column: String,
    reason: String,
}

/// The delimited records of rows `rows` of the table `record` (whose rows start at `first` in the whole
/// input).
fn write_rows(
    writer: &Writer<'_>,
    record: &StructCol<'_>,
    rows: std::ops::Range<usize>,
    first: usize,
) -> Result<Vec<u8>, RowFailure> {
    let root = writer.nodes[0].message;
    let mut out = Vec::new();
    let mut fields = Vec::new();
    let mut record_bytes = Vec::new();
    for i in rows {
        fields.clear();
        record_bytes.clear();
        let fail = |f: Fail| RowFailure {
            row: first + i,
            column: f.column(),
            reason: f.reason,
        };
        writer.message(record, i, &mut fields).map_err(fail)?;
        canonical_into(writer.schema, root, &fields, &mut record_bytes).map_err(|reason| {
            RowFailure {
                row: first + i,
                column: String::new(),
                reason,
            }
        })?;
        put_varint(&mut out, record_bytes.len() as u64);
        out.extend_from_slice(&record_bytes);
    }
    Ok(out)
}

/// The records of every row of `arrays` (struct arrays of the layout `nodes`), delimited, on `threads`.
fn records(
    s: &Schema,
    nodes: &[Node],
    arrays: &[StructArray],
    threads: usize,
) -> Result<Vec<u8>, Result<RowFailure, String>> {
    let writer = Writer { schema: s, nodes };
    let mut tables = Vec::with_capacity(arrays.len());
    let mut first = 0;
    for array in arrays {
        let col = struct_col(nodes, 0, array, "").map_err(Err)?;
        tables.push((col, first));
        first += array.len();
    }
    let total = first;
    // the work: (table, rows), split so that each thread gets about as many rows
    let threads = threads.clamp(1, total / MIN_ROWS_PER_THREAD + 1);
    let size = total.div_ceil(threads).max(1);
    let mut tasks = Vec::new();
    for (t, (col, first)) in tables.iter().enumerate() {
        let len = col.array.len();
        let mut start = 0;
        while start < len {
            let end = (start + size).min(len);
            tasks.push((t, start..end, *first));
            start = end;
        }
    }
    let run = |task: &(usize, std::ops::Range<usize>, usize)| {
        write_rows(&writer, &tables[task.0].0, task.1.clone(), task.2)
    };
    let parts: Vec<Result<Vec<u8>, RowFailure>> = if threads == 1 || tasks.len() <= 1 {
        tasks.iter().map(run).collect()
    } else {
        let per = tasks.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let workers: Vec<_> = tasks
                .chunks(per)
                .map(|group| scope.spawn(move || group.iter().map(run).collect::<Vec<_>>()))
                .collect();
            workers
                .into_iter()
                .flat_map(|w| {
                    w.join().unwrap_or_else(|_| {
                        vec![Err(RowFailure {
                            row: 0,
                            column: String::new(),
                            reason: "a writer thread panicked".into(),
                        })]
                    })
                })
                .collect()
        })
    };
    let mut out = Vec::with_capacity(parts.iter().map(|p| p.as_ref().map_or(0, Vec::len)).sum());
    for part in parts {
        out.extend_from_slice(&part.map_err(Ok)?);
    }
    Ok(out)
}

/// Rows `offset..offset + len` of `data`, with every struct below at offset 0 and its children cut to its
/// rows. arrow-rs slices a struct's children and also keeps the struct's offset, which `StructArray::from`
/// then applies a second time: a struct inside a sliced struct (pyarrow exports the batches of a sliced table
/// so) would panic or read the wrong rows. Lists and maps keep their offsets, their values are made so too.
fn window(data: &ArrayData, offset: usize, len: usize) -> Result<ArrayData, String> {
    if offset.checked_add(len).is_none_or(|end| end > data.len()) {
        return Err(format!(
            "rows {offset}..{} of an array of {}",
            offset.saturating_add(len),
            data.len()
        ));
    }
    match data.data_type() {
        DataType::Struct(_) => {
            let start = data.offset() + offset;
            let children = data
                .child_data()
                .iter()
                .map(|child| window(child, start, len))
                .collect::<Result<Vec<_>, _>>()?;
            ArrayData::builder(data.data_type().clone())
                .len(len)
                .nulls(data.nulls().map(|n| n.slice(offset, len)))
                .child_data(children)
                .build()
                .map_err(|e| e.to_string())
        }
        DataType::List(_) | DataType::Map(_, _) => {
            let children = data
                .child_data()
                .iter()
                .map(|child| window(child, 0, child.len()))
                .collect::<Result<Vec<_>, _>>()?;
            data.slice(offset, len)
                .into_builder()
                .child_data(children)
                .build()
                .map_err(|e| e.to_string())
        }
        _ => Ok(data.slice(offset, len)),
    }
}

/// Import one object with `__arrow_c_array__` as a struct array.
fn import(batch: &Bound<'_, PyAny>) -> PyResult<StructArray> {
    let (schema_capsule, array_capsule): (Bound<'_, PyCapsule>, Bound<'_, PyCapsule>) =
        batch.call_method0("__arrow_c_array__")?.extract()?;
    let schema_ptr = schema_capsule.pointer_checked(Some(c"arrow_schema"))?;
    let array_ptr = array_capsule.pointer_checked(Some(c"arrow_array"))?;
    // SAFETY: the capsules hold an ArrowSchema and an ArrowArray (their names say so, as the PyCapsule
    // protocol requires); the array is moved out (its capsule keeps a released one) and the schema borrowed
    // while its capsule lives.
    let data: ArrayData = unsafe {
        let array = arrow_array::ffi::FFI_ArrowArray::from_raw(array_ptr.as_ptr().cast());
        let schema = &*(schema_ptr.as_ptr() as *const arrow_schema::ffi::FFI_ArrowSchema);
        arrow_array::ffi::from_ffi(array, schema)
    }
    .map_err(|e| PyValueError::new_err(format!("cannot import the Arrow batch: {e}")))?;
    let data = window(&data, 0, data.len())
        .map_err(|e| PyValueError::new_err(format!("cannot import the Arrow batch: {e}")))?;
    let array = arrow_array::make_array(data);
    match array.as_struct_opt() {
        Some(s) => Ok(s.clone()),
        None => Err(PyValueError::new_err(format!(
            "an Arrow batch of the nested layout is a struct array, not {}",
            array.data_type()
        ))),
    }
}

/// `_native.nested_to_records(plan, batches, threads=None)`: the records the rows of `batches` (objects with
/// `__arrow_c_array__` whose schema is `flytecodec.layout.schema()` of the plan's message) describe, as one
/// buffer of length-delimited records, each upb's deterministic serialization of its message.
#[pyfunction]
#[pyo3(signature = (plan, batches, threads = None))]
pub fn nested_to_records<'py>(
    py: Python<'py>,
    plan: PyPlan,
    batches: Vec<Bound<'py, PyAny>>,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyBytes>> {
    guard(py, || {
        let s = schema();
        let nodes = resolve(s, plan).map_err(PyValueError::new_err)?;
        let arrays = batches
            .iter()
            .map(import)
            .collect::<PyResult<Vec<StructArray>>>()?;
        let threads = threads.unwrap_or_else(default_threads);
        match py.detach(|| records(s, &nodes, &arrays, threads)) {
            Ok(bytes) => Ok(PyBytes::new(py, &bytes)),
            Err(Err(reason)) => Err(PyValueError::new_err(reason)),
            Err(Ok(failure)) => {
                let model = &s.messages[nodes[0].message].full_name;
                let column = if failure.column.is_empty() {
                    "the record".to_string()
                } else {
                    format!("column {}", failure.column)
                };
                let reason = format!("row {}, {column}: {}", failure.row, failure.reason);
                Err(decode_error(
                    py,
                    model,
                    &DecodeFailure {
                        index: failure.row,
                        offset: 0,
                        reason,
                    },
                ))
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zigzag_and_time_fields() {
        assert_eq!(zigzag(0), 0);
        assert_eq!(zigzag(-1), 1);
        assert_eq!(zigzag(1), 2);
        assert_eq!(zigzag(i64::MIN), u64::MAX);
        let mut out = Vec::new();
        time_fields(&mut out, -1, 999_999_999);
        assert_eq!(out[0], 0x08);
        assert_eq!(out.len(), 1 + 10 + 1 + 5);
        out.clear();
        time_fields(&mut out, 0, 0);
        assert!(out.is_empty());
    }

    #[test]
    fn fail_paths_read_outward() {
        let f = Fail::new("x").within("started_at").within("closure");
        assert_eq!(f.column(), "closure.started_at");
    }

    #[test]
    fn scalar_kinds_are_the_layouts() {
        for name in ["double", "sint64", "enum", "bytes", "fixed32"] {
            assert!(scalar_kind(name).is_some(), "{name}");
        }
        assert!(scalar_kind("message").is_none());
    }
}
