//! The nested import: an Arrow table of the nested layout (`docs/nested.md`, `flytecodec.layout`) back to
//! record bytes, each exactly upb's deterministic serialization of the message its row describes.
//!
//! The columns are written as upb's encoder would write the message: fields by number, a scalar without
//! presence only when it is not its default, one with presence (an `optional` column) whenever it is not
//! null, repeated numbers packed, map entries sorted the upb way (the last of equal keys kept) with both key
//! and value, a timestamp as `{seconds = floor(ns / 1e9), nanos}`, a duration truncated toward zero, a
//! wrapper as `{1: value}`. What comes as bytes goes through [`crate::canonical`]: a cut column's bytes, and
//! a message with `_rest` (its columns' bytes followed by `_rest`, which protobuf reads as their merge).
//!
//! Rows are written a block at a time, column by column ([`Writer::block`]); a block that fails is written
//! again row by row ([`Writer::message`]) to name the first failing row and column. Rows are split over
//! threads, without the GIL.

use std::cmp::Ordering;

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

use crate::canonical::{canonical_at_depth, put_delimited, put_varint};
use crate::decode::{default_threads, DecodeFailure};
use crate::errors::{decode_error, guard};
use crate::messages::{schema, Kind, Schema};

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
    /// The slots' indices by field number: the order upb writes the fields in.
    order: Vec<usize>,
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
        let mut order: Vec<usize> = (0..resolved.len()).collect();
        order.sort_by_key(|&j| resolved[j].number);
        nodes.push(Node {
            message,
            slots: resolved,
            order,
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

/// Why a row with a null where the layout has none cannot be written (the Python importer's words).
const NULL: &str = "null, where the schema forbids one";

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

    /// The column's path as the Python importer names it: `closure.phase`, `spec.tags[]` (the items of a
    /// list), `spec.labels.values[].value` (the values of a map).
    fn column(&self) -> String {
        let mut out = String::new();
        for name in self.path.iter().rev() {
            if !out.is_empty() && !name.starts_with('[') {
                out.push('.');
            }
            out.push_str(name);
        }
        out
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

/// The bytes of row `i` of a string column (not read as `str`: the column may come from anywhere).
#[inline]
fn string_bytes(a: &StringArray, i: usize) -> &[u8] {
    let offsets = a.value_offsets();
    let (start, end) = (offsets[i] as usize, offsets[i + 1] as usize);
    &a.value_data()[start..end]
}

#[inline]
fn put_bytes(out: &mut Vec<u8>, number: u32, value: &[u8]) {
    put_tag(out, number, 2);
    put_varint(out, value.len() as u64);
    out.extend_from_slice(value);
}

/// A map key, to sort entries the way upb does.
#[derive(Clone, Copy)]
enum Key<'a> {
    Bytes(&'a [u8]),
    Number(i128),
}

fn key_order(a: &Key<'_>, b: &Key<'_>) -> Ordering {
    match (a, b) {
        // upb: the common prefix's bytes, then the longer first
        (Key::Bytes(a), Key::Bytes(b)) => {
            let common = a.len().min(b.len());
            a[..common]
                .cmp(&b[..common])
                .then_with(|| b.len().cmp(&a.len()))
        }
        (Key::Number(a), Key::Number(b)) => a.cmp(b),
        _ => Ordering::Equal,
    }
}

/// Writing the columns of a row as upb's deterministic bytes: fields by number, scalars without presence
/// only when not default, repeated numbers packed, map entries sorted and whole; what comes as bytes (a cut
/// column, a message with `_rest`) goes through [`canonical_at_depth`].
impl Writer<'_> {
    /// Write the message of struct column `sc` at row `i` (nested `depth` below the record), fields only.
    fn message(
        &self,
        sc: &StructCol<'_>,
        i: usize,
        depth: u32,
        out: &mut Vec<u8>,
    ) -> Result<(), Fail> {
        let node = &self.nodes[sc.node];
        let start = out.len();
        for &j in &node.order {
            let slot = &node.slots[j];
            self.slot(slot, &sc.fields[j], i, depth, out)
                .map_err(|f| f.within(&slot.name))?;
        }
        if !sc.rest.is_null(i) {
            let rest = sc.rest.value(i);
            if !rest.is_empty() {
                // appending bytes merges them: the message is then the columns' bytes and `_rest` read as one
                let mut merged = Vec::with_capacity(out.len() - start + rest.len());
                merged.extend_from_slice(&out[start..]);
                merged.extend_from_slice(rest);
                out.truncate(start);
                canonical_at_depth(self.schema, node.message, &merged, depth, out).map_err(
                    |reason| {
                        Fail::new(format!(
                            "not a valid {}: {reason}",
                            self.schema.messages[node.message].full_name
                        ))
                        .within(REST)
                    },
                )?;
            }
        }
        Ok(())
    }

    fn slot(
        &self,
        slot: &Slot,
        col: &Col<'_>,
        i: usize,
        depth: u32,
        out: &mut Vec<u8>,
    ) -> Result<(), Fail> {
        match (slot.shape, col) {
            (Shape::Single | Shape::Optional, _) => {
                if col.is_null(i) {
                    return if slot.shape == Shape::Single {
                        Err(Fail::new(NULL))
                    } else {
                        Ok(())
                    };
                }
                let always = slot.shape == Shape::Optional;
                self.field(slot.number, slot.value, col, i, always, depth, out)
            }
            (Shape::Repeated, Col::List(list, items)) => {
                if list.is_null(i) {
                    return Err(Fail::new(NULL));
                }
                let offsets = list.value_offsets();
                let (start, end) = (offsets[i] as usize, offsets[i + 1] as usize);
                if let Some(k) = (start..end).find(|&k| items.is_null(k)) {
                    return Err(Fail::new(format!("{NULL} (item {})", k - start)).within("[]"));
                }
                match slot.value {
                    Value::Scalar(kind) if kind.packable() => {
                        if start < end {
                            put_tag(out, slot.number, 2);
                            put_delimited(out, |out| {
                                (start..end).try_for_each(|k| self.number(kind, items, k, out))
                            })?;
                        }
                        Ok(())
                    }
                    value => (start..end).try_for_each(|k| {
                        self.field(slot.number, value, items, k, true, depth, out)
                            .map_err(|f| f.within("[]"))
                    }),
                }
            }
            (Shape::Map(key), Col::Map(map, keys, values)) => {
                if map.is_null(i) {
                    return Err(Fail::new(NULL));
                }
                let offsets = map.value_offsets();
                let (start, end) = (offsets[i] as usize, offsets[i + 1] as usize);
                let mut entries = Vec::with_capacity(end - start);
                for k in start..end {
                    if keys.is_null(k) {
                        return Err(
                            Fail::new(format!("{NULL} (entry {})", k - start)).within("[].key")
                        );
                    }
                    if values.is_null(k) {
                        return Err(
                            Fail::new(format!("{NULL} (entry {})", k - start)).within("[].value")
                        );
                    }
                    entries.push((self.key(key, keys, k)?, k));
                }
                // stable: of equal keys the last stays last, and is the one kept
                entries.sort_by(|a, b| key_order(&a.0, &b.0));
                for (n, &(ref k_key, k)) in entries.iter().enumerate() {
                    if entries
                        .get(n + 1)
                        .is_some_and(|next| key_order(k_key, &next.0) == Ordering::Equal)
                    {
                        continue;
                    }
                    put_tag(out, slot.number, 2);
                    put_delimited(out, |out| {
                        self.field(1, Value::Scalar(key), keys, k, true, depth + 1, out)
                            .map_err(|f| f.within("[].key"))?;
                        self.field(2, slot.value, values, k, true, depth + 1, out)
                            .map_err(|f| f.within("[].value"))
                    })?;
                }
                Ok(())
            }
            _ => Err(Fail::new("a column of the wrong type")),
        }
    }

    /// The key of map entry `k`.
    fn key<'c>(&self, kind: Kind, col: &Col<'c>, k: usize) -> Result<Key<'c>, Fail> {
        Ok(match col {
            Col::Str(a) => Key::Bytes(string_bytes(a, k)),
            Col::Bin(a) => Key::Bytes(a.value(k)),
            Col::I32(a) => Key::Number(i128::from(a.value(k))),
            Col::I64(a) => Key::Number(i128::from(a.value(k))),
            Col::U32(a) => Key::Number(i128::from(a.value(k))),
            Col::U64(a) => Key::Number(i128::from(a.value(k))),
            Col::Bool(a) => Key::Number(i128::from(a.value(k))),
            _ => return Err(Fail::new(format!("a map key of kind {kind:?}"))),
        })
    }

    /// Write field `number` holding the value of `col` at `i` (not null): always when `always` (presence, a
    /// repeated item, a map's key or value), else only when it is not the default.
    #[allow(clippy::too_many_arguments)]
    fn field(
        &self,
        number: u32,
        value: Value,
        col: &Col<'_>,
        i: usize,
        always: bool,
        depth: u32,
        out: &mut Vec<u8>,
    ) -> Result<(), Fail> {
        match (value, col) {
            (Value::Scalar(kind), _) => self.scalar(number, kind, col, i, always, out),
            (Value::Wrapper(kind), _) => {
                put_tag(out, number, 2);
                put_delimited(out, |out| self.scalar(1, kind, col, i, false, out))
            }
            (Value::Message(_), Col::Struct(sc)) => {
                put_tag(out, number, 2);
                put_delimited(out, |out| self.message(sc, i, depth + 1, out))
            }
            (Value::Timestamp, Col::Time(a)) => {
                let ns = a.value(i);
                put_tag(out, number, 2);
                put_delimited(out, |out| {
                    time_fields(out, ns.div_euclid(NANOS), ns.rem_euclid(NANOS));
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
                put_tag(out, number, 2);
                put_delimited(out, |out| {
                    canonical_at_depth(self.schema, message, a.value(i), depth + 1, out).map_err(
                        |reason| {
                            Fail::new(format!(
                                "not a valid {}: {reason}",
                                self.schema.messages[message].full_name
                            ))
                        },
                    )
                })
            }
            _ => Err(Fail::new("a column of the wrong type")),
        }
    }

    /// Write one number of `kind` (a packable kind) from `col` at `i`, without a tag.
    #[inline]
    fn number(&self, kind: Kind, col: &Col<'_>, i: usize, out: &mut Vec<u8>) -> Result<(), Fail> {
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
            _ => return Err(Fail::new("a column of the wrong type")),
        }
        Ok(())
    }

    /// Write scalar field `number` of `kind` from `col` at `i`; when not `always`, only when not default
    /// (a float by its bits: `-0.0` is written).
    fn scalar(
        &self,
        number: u32,
        kind: Kind,
        col: &Col<'_>,
        i: usize,
        always: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), Fail> {
        let bytes = match col {
            Col::Str(a) => {
                let value = string_bytes(a, i);
                if !value.is_ascii() && simdutf8::basic::from_utf8(value).is_err() {
                    return Err(Fail::new("a string of invalid UTF-8"));
                }
                Some(value)
            }
            Col::Bin(a) => Some(a.value(i)),
            _ => None,
        };
        if let Some(value) = bytes {
            if always || !value.is_empty() {
                put_bytes(out, number, value);
            }
            return Ok(());
        }
        if !always {
            let default = match col {
                Col::F64(a) => a.value(i).to_bits() == 0,
                Col::F32(a) => a.value(i).to_bits() == 0,
                Col::I32(a) => a.value(i) == 0,
                Col::I64(a) => a.value(i) == 0,
                Col::U32(a) => a.value(i) == 0,
                Col::U64(a) => a.value(i) == 0,
                Col::Bool(a) => !a.value(i),
                _ => return Err(Fail::new("a column of the wrong type")),
            };
            if default {
                return Ok(());
            }
        }
        put_tag(out, number, kind.wire_type());
        self.number(kind, col, i, out)
    }
}

/// A Timestamp's or Duration's fields, defaults left out.
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

/// Rows written together, column by column: reading one column for many rows at a time keeps the reads
/// sequential (row by row, each row touches hundreds of columns and misses the cache on most of them).
const BLOCK_ROWS: usize = 256;

/// The delimited records of rows `rows` of the table `record` (whose rows start at `first` in the whole
/// input). Written a block of rows at a time ([`Writer::block`]); a block that fails is written again row by
/// row, which finds the first row that fails and says why.
fn write_rows(
    writer: &Writer<'_>,
    record: &StructCol<'_>,
    rows: std::ops::Range<usize>,
    first: usize,
) -> Result<Vec<u8>, RowFailure> {
    let mut out = Vec::new();
    let mut pools = Pools::default();
    let all: Vec<usize> = rows.collect();
    for block in all.chunks(BLOCK_ROWS) {
        let mut bufs = pools.take(0, block.len());
        if writer
            .block(record, block, &mut bufs[..block.len()], 0, &mut pools)
            .is_ok()
        {
            for buf in &bufs[..block.len()] {
                put_varint(&mut out, buf.len() as u64);
                out.extend_from_slice(buf);
            }
            pools.give(0, bufs);
            continue;
        }
        pools.give(0, bufs);
        for &i in block {
            put_delimited(&mut out, |out| writer.message(record, i, 0, out)).map_err(|f| {
                RowFailure {
                    row: first + i,
                    column: f.column(),
                    reason: f.reason,
                }
            })?;
        }
    }
    Ok(out)
}

/// Buffers kept between blocks, one set per depth of nesting.
#[derive(Default)]
struct Pools {
    levels: Vec<Vec<Vec<u8>>>,
}

impl Pools {
    /// At least `count` buffers for messages at `depth`, the first `count` empty.
    fn take(&mut self, depth: usize, count: usize) -> Vec<Vec<u8>> {
        if self.levels.len() <= depth {
            self.levels.resize_with(depth + 1, Vec::new);
        }
        let mut bufs = std::mem::take(&mut self.levels[depth]);
        if bufs.len() < count {
            bufs.resize_with(count, Vec::new);
        }
        bufs[..count].iter_mut().for_each(Vec::clear);
        bufs
    }

    fn give(&mut self, depth: usize, bufs: Vec<Vec<u8>>) {
        self.levels[depth] = bufs;
    }
}

impl Writer<'_> {
    /// The messages of struct column `sc` at rows `rows` (ascending), message `k` into `bufs[k]`, column by
    /// column. Any failure is only a signal: [`Writer::message`] says which row and why.
    fn block(
        &self,
        sc: &StructCol<'_>,
        rows: &[usize],
        bufs: &mut [Vec<u8>],
        depth: u32,
        pools: &mut Pools,
    ) -> Result<(), Fail> {
        let node = &self.nodes[sc.node];
        for &j in &node.order {
            let slot = &node.slots[j];
            let col = &sc.fields[j];
            match (slot.shape, slot.value, col) {
                (Shape::Single | Shape::Optional, Value::Message(_), Col::Struct(child)) => {
                    let mut owners = Vec::new();
                    let mut child_rows = Vec::new();
                    for (k, &r) in rows.iter().enumerate() {
                        if child.array.is_null(r) {
                            if slot.shape == Shape::Single {
                                return Err(Fail::new("null"));
                            }
                        } else {
                            owners.push(k);
                            child_rows.push(r);
                        }
                    }
                    self.children(slot.number, child, &child_rows, &owners, bufs, depth, pools)?;
                }
                (Shape::Map(key), Value::Message(_), Col::Map(map, keys, values)) => {
                    let Col::Struct(child) = values.as_ref() else {
                        return Err(Fail::new("a column of the wrong type"));
                    };
                    self.map_block(slot.number, key, map, keys, child, rows, bufs, depth, pools)?;
                }
                (Shape::Repeated, Value::Message(_), Col::List(list, items)) => {
                    let Col::Struct(child) = items.as_ref() else {
                        return Err(Fail::new("a column of the wrong type"));
                    };
                    let offsets = list.value_offsets();
                    let mut owners = Vec::new();
                    let mut child_rows = Vec::new();
                    for (k, &r) in rows.iter().enumerate() {
                        if list.is_null(r) {
                            return Err(Fail::new("null"));
                        }
                        for item in offsets[r] as usize..offsets[r + 1] as usize {
                            if child.array.is_null(item) {
                                return Err(Fail::new("null"));
                            }
                            owners.push(k);
                            child_rows.push(item);
                        }
                    }
                    self.children(slot.number, child, &child_rows, &owners, bufs, depth, pools)?;
                }
                _ => {
                    for (k, &r) in rows.iter().enumerate() {
                        self.slot(slot, col, r, depth, &mut bufs[k])?;
                    }
                }
            }
        }
        for (k, &r) in rows.iter().enumerate() {
            if !sc.rest.is_null(r) && !sc.rest.value(r).is_empty() {
                let mut merged = std::mem::take(&mut bufs[k]);
                merged.extend_from_slice(sc.rest.value(r));
                canonical_at_depth(self.schema, node.message, &merged, depth, &mut bufs[k])
                    .map_err(Fail::new)?;
            }
        }
        Ok(())
    }

    /// A map of messages, for rows `rows`: each row's entries sorted and deduplicated as upb does, their
    /// values written column by column.
    #[allow(clippy::too_many_arguments)]
    fn map_block(
        &self,
        number: u32,
        key: Kind,
        map: &MapArray,
        keys: &Col<'_>,
        child: &StructCol<'_>,
        rows: &[usize],
        bufs: &mut [Vec<u8>],
        depth: u32,
        pools: &mut Pools,
    ) -> Result<(), Fail> {
        let offsets = map.value_offsets();
        // the entries kept, row by row in order: (owner, entry)
        let mut kept: Vec<(usize, usize)> = Vec::new();
        let mut entries = Vec::new();
        for (k, &r) in rows.iter().enumerate() {
            if map.is_null(r) {
                return Err(Fail::new("null"));
            }
            entries.clear();
            for e in offsets[r] as usize..offsets[r + 1] as usize {
                if keys.is_null(e) || child.array.is_null(e) {
                    return Err(Fail::new("null"));
                }
                entries.push((self.key(key, keys, e)?, e));
            }
            entries.sort_by(|a, b| key_order(&a.0, &b.0));
            for (n, (k_key, e)) in entries.iter().enumerate() {
                let replaced = entries
                    .get(n + 1)
                    .is_some_and(|next| key_order(k_key, &next.0) == Ordering::Equal);
                if !replaced {
                    kept.push((k, *e));
                }
            }
        }
        if kept.is_empty() {
            return Ok(());
        }
        let child_rows: Vec<usize> = kept.iter().map(|&(_, e)| e).collect();
        let level = depth as usize + 2; // the entry, then its value
        let mut child_bufs = pools.take(level, child_rows.len());
        let count = child_rows.len();
        let written = self.block(
            child,
            &child_rows,
            &mut child_bufs[..count],
            depth + 2,
            pools,
        );
        let mut key_field = Vec::new();
        let result = written.and_then(|()| {
            for (&(k, e), value) in kept.iter().zip(&child_bufs) {
                key_field.clear();
                self.field(
                    1,
                    Value::Scalar(key),
                    keys,
                    e,
                    true,
                    depth + 1,
                    &mut key_field,
                )?;
                // the key, then the value's tag and length: the entry but the value's bytes
                put_tag(&mut key_field, 2, 2);
                put_varint(&mut key_field, value.len() as u64);
                let out = &mut bufs[k];
                put_tag(out, number, 2);
                put_varint(out, (key_field.len() + value.len()) as u64);
                out.extend_from_slice(&key_field);
                out.extend_from_slice(value);
            }
            Ok(())
        });
        pools.give(level, child_bufs);
        result
    }

    /// The sub-messages of struct column `child` at `child_rows`, each appended as field `number` to the
    /// buffer of its owner (`owners`, ascending, one per child row).
    #[allow(clippy::too_many_arguments)]
    fn children(
        &self,
        number: u32,
        child: &StructCol<'_>,
        child_rows: &[usize],
        owners: &[usize],
        bufs: &mut [Vec<u8>],
        depth: u32,
        pools: &mut Pools,
    ) -> Result<(), Fail> {
        if child_rows.is_empty() {
            return Ok(());
        }
        let level = depth as usize + 1;
        let mut child_bufs = pools.take(level, child_rows.len());
        let count = child_rows.len();
        let written = self.block(
            child,
            child_rows,
            &mut child_bufs[..count],
            depth + 1,
            pools,
        );
        if written.is_ok() {
            for (&k, message) in owners.iter().zip(&child_bufs) {
                let out = &mut bufs[k];
                put_tag(out, number, 2);
                put_varint(out, message.len() as u64);
                out.extend_from_slice(message);
            }
        }
        pools.give(level, child_bufs);
        written
    }
}

/// The records of every row of `arrays` (struct arrays of the layout `nodes`), delimited, on `threads`.
fn records(
    s: &Schema,
    nodes: &[Node],
    arrays: &[StructArray],
    threads: usize,
) -> Result<Vec<Vec<u8>>, Result<RowFailure, String>> {
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
    parts.into_iter().collect::<Result<Vec<_>, _>>().map_err(Ok)
}

/// Whether `data` has a struct with an offset and a struct among its children: what arrow-rs mishandles and
/// [`window`] mends.
fn sliced_struct_inside(data: &ArrayData) -> bool {
    let is_struct = |d: &ArrayData| matches!(d.data_type(), DataType::Struct(_));
    (is_struct(data) && data.offset() != 0 && data.child_data().iter().any(is_struct))
        || data.child_data().iter().any(sliced_struct_inside)
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
    let data = if sliced_struct_inside(&data) {
        window(&data, 0, data.len())
    } else {
        Ok(data)
    }
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
            Ok(parts) => {
                let total = parts.iter().map(Vec::len).sum();
                PyBytes::new_with(py, total, |buf| {
                    let mut at = 0;
                    for part in &parts {
                        buf[at..at + part.len()].copy_from_slice(part);
                        at += part.len();
                    }
                    Ok(())
                })
            }
            Err(Err(reason)) => Err(PyValueError::new_err(reason)),
            Err(Ok(failure)) => {
                let model = &s.messages[nodes[0].message].full_name;
                let column = if failure.column.is_empty() {
                    "the record".to_string()
                } else {
                    format!("column {}", failure.column)
                };
                let reason = format!("{column}, row {}: {}", failure.row, failure.reason);
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
        let f = Fail::new("x")
            .within("phases")
            .within("[]")
            .within("notifications");
        assert_eq!(f.column(), "notifications[].phases");
        let f = Fail::new("x")
            .within("[].value")
            .within("values")
            .within("labels");
        assert_eq!(f.column(), "labels.values[].value");
    }

    #[test]
    fn scalar_kinds_are_the_layouts() {
        for name in ["double", "sint64", "enum", "bytes", "fixed32"] {
            assert!(scalar_kind(name).is_some(), "{name}");
        }
        assert!(scalar_kind("message").is_none());
    }
}
