//! The nested layout (`docs/nested.md`, `flytecodec.layout`): every field of the records as Arrow structs,
//! lists and maps, built from the record bytes: the native half of `Batch.to_arrow(layout="nested")`.
//!
//! The layout comes from Python as `flytecodec.layout.plan(descriptor)` (a tree of nodes, one per message on a
//! path from the record, each a list of slots, one per field); [`NestedPlan::from_python`] turns it into the
//! Arrow schema and what reading needs. Records are read with upb's rules, as the docs spell them out: the
//! last scalar wins, a sub-message's occurrences merge, a oneof is the member that came last, repeated scalars
//! may be packed or not, a map's later key wins; what no column can hold goes to the message's `_rest`.
//!
//! Each message of a record is walked once ([`crate::wire::walk`], without validating again: the records of a
//! `RecordList` are valid): a singular scalar outside a oneof goes to its column as the walk meets it (a later
//! occurrence replacing it); the occurrences of the other fields are gathered, then read once the message's
//! walk is over (a sub-message from all its occurrences, a oneof from the member that came last).
//!
//! Most fields of a plan are absent in a given record, so nothing is appended for them: each column knows its
//! length and catches up with defaults (zero, "", empty, null) in one step when a value comes for a later row,
//! and at the end. The rows are split in contiguous runs over threads, one record batch each, in order.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use arrow_buffer::{BooleanBufferBuilder, Buffer, NullBuffer};
use arrow_data::ArrayData;
use arrow_schema::{DataType, Field, Fields, Schema as ArrowSchema, TimeUnit};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use smallvec::SmallVec;

use crate::decode::Span;
use crate::export::ArrowBatch;
use crate::wire::{little_endian, read_varint, walk};

/// Fewer records than this per thread are built on one thread.
const MIN_ROWS_PER_THREAD: usize = 2048;

/// A scalar kind of the layout (`flytecodec.layout.SCALAR_KINDS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scalar {
    Double,
    Float,
    Int64,
    UInt64,
    Int32,
    Fixed64,
    Fixed32,
    Bool,
    String,
    Bytes,
    UInt32,
    Enum,
    SFixed32,
    SFixed64,
    SInt32,
    SInt64,
}

impl Scalar {
    fn parse(kind: &str) -> Option<Scalar> {
        Some(match kind {
            "double" => Scalar::Double,
            "float" => Scalar::Float,
            "int64" => Scalar::Int64,
            "uint64" => Scalar::UInt64,
            "int32" => Scalar::Int32,
            "fixed64" => Scalar::Fixed64,
            "fixed32" => Scalar::Fixed32,
            "bool" => Scalar::Bool,
            "string" => Scalar::String,
            "bytes" => Scalar::Bytes,
            "uint32" => Scalar::UInt32,
            "enum" => Scalar::Enum,
            "sfixed32" => Scalar::SFixed32,
            "sfixed64" => Scalar::SFixed64,
            "sint32" => Scalar::SInt32,
            "sint64" => Scalar::SInt64,
            _ => return None,
        })
    }

    /// The wire type of one (unpacked) value.
    fn wire(self) -> u8 {
        match self {
            Scalar::Double | Scalar::Fixed64 | Scalar::SFixed64 => 1,
            Scalar::Float | Scalar::Fixed32 | Scalar::SFixed32 => 5,
            Scalar::String | Scalar::Bytes => 2,
            _ => 0,
        }
    }

    fn packable(self) -> bool {
        !matches!(self, Scalar::String | Scalar::Bytes)
    }

    fn data_type(self) -> DataType {
        match self {
            Scalar::Double => DataType::Float64,
            Scalar::Float => DataType::Float32,
            Scalar::Int64 | Scalar::SInt64 | Scalar::SFixed64 => DataType::Int64,
            Scalar::UInt64 | Scalar::Fixed64 => DataType::UInt64,
            Scalar::Int32 | Scalar::SInt32 | Scalar::SFixed32 | Scalar::Enum => DataType::Int32,
            Scalar::UInt32 | Scalar::Fixed32 => DataType::UInt32,
            Scalar::Bool => DataType::Boolean,
            Scalar::String => DataType::Utf8,
            Scalar::Bytes => DataType::Binary,
        }
    }

    /// Empty storage for values of this kind.
    fn values(self, capacity: usize) -> Values {
        match self {
            Scalar::Double => Values::F64(Vec::with_capacity(capacity)),
            Scalar::Float => Values::F32(Vec::with_capacity(capacity)),
            Scalar::Int64 | Scalar::SInt64 | Scalar::SFixed64 => {
                Values::I64(Vec::with_capacity(capacity))
            }
            Scalar::UInt64 | Scalar::Fixed64 => Values::U64(Vec::with_capacity(capacity)),
            Scalar::Int32 | Scalar::SInt32 | Scalar::SFixed32 | Scalar::Enum => {
                Values::I32(Vec::with_capacity(capacity))
            }
            Scalar::UInt32 | Scalar::Fixed32 => Values::U32(Vec::with_capacity(capacity)),
            Scalar::Bool => Values::Bool(BooleanBufferBuilder::new(capacity)),
            Scalar::String | Scalar::Bytes => Values::bin(capacity),
        }
    }
}

/// What one value of a slot is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    Scalar(Scalar),
    /// A struct: the node's index in the plan.
    Message(usize),
    Timestamp,
    Duration,
    /// A wrapper message holding a value of this kind in field 1.
    Wrapper(Scalar),
    /// A message kept as its bytes.
    Cut,
}

impl Value {
    fn wire(self) -> u8 {
        match self {
            Value::Scalar(s) => s.wire(),
            _ => 2,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Single,
    Optional,
    Repeated,
    /// A map with keys of this kind.
    Map(Scalar),
}

/// One field of a node.
#[derive(Debug)]
pub struct SlotDef {
    pub number: u32,
    pub value: Value,
    pub shape: Shape,
    pub oneof: Option<usize>,
    /// Its column's index among all the plan's slots.
    id: usize,
    /// The Arrow type of one value (a list's item, a map's value).
    value_type: DataType,
    /// The Arrow field of the slot.
    field: Field,
}

impl SlotDef {
    /// Whether an occurrence with wire type `wire` belongs to this field (else it is unknown).
    #[inline]
    fn fits(&self, wire: u8) -> bool {
        let own = self.value.wire();
        match self.shape {
            Shape::Repeated => {
                wire == own || (wire == 2 && matches!(self.value, Value::Scalar(s) if s.packable()))
            }
            Shape::Map(_) => wire == 2,
            _ => wire == own,
        }
    }
}

/// One message on a path from the record.
#[derive(Debug)]
pub struct NodeDef {
    pub message: String,
    pub slots: Vec<SlotDef>,
    /// What the walk needs of each field number (dense; `accepts` 0 when the message has no such field).
    lookup: Vec<Hot>,
    oneofs: usize,
    /// Whether the node's struct is nullable (a message field, not a list item or map value).
    nullable: bool,
    /// Its struct's fields: the slots', then `_rest`.
    fields: Fields,
}

const NONE: u32 = u32::MAX;

/// A field number of a node as the walk sees it: its slot, the slot's column, its oneof and the wire types
/// that fit it (bit `1 << wire`; none: an unknown number).
#[derive(Clone, Copy, Debug)]
struct Hot {
    slot: u32,
    id: u32,
    oneof: u32,
    accepts: u8,
    /// A singular scalar outside a oneof: written to its column as the walk meets it (a later occurrence
    /// replaces it), with no occurrence kept.
    direct: Option<Scalar>,
}

const UNKNOWN: Hot = Hot {
    slot: NONE,
    id: NONE,
    oneof: NONE,
    accepts: 0,
    direct: None,
};

impl NodeDef {
    /// The field `number`, if it fits wire type `wire`.
    #[inline]
    fn hot(&self, number: u32, wire: u8) -> Option<&Hot> {
        self.lookup
            .get(number as usize)
            .filter(|h| h.accepts & (1 << wire) != 0)
    }
}

/// A slot as Python's `flytecodec.layout.Slot` gives it: `(number, name, kind, shape, child, key, oneof,
/// metadata)`.
pub type PySlot = (
    u32,
    String,
    String,
    String,
    i64,
    String,
    i64,
    Vec<(String, String)>,
);

/// More oneofs than this in one message are refused (a plan's oneof index is that of the message's oneof).
const MAX_ONEOFS: usize = 1 << 12;

/// A slot read from Python, with its name and metadata, before its Arrow types are known.
type Parsed = (SlotDef, String, Vec<(String, String)>);

/// The nested layout of one record message: its nodes (node 0: the record) and its Arrow schema.
#[derive(Debug)]
pub struct NestedPlan {
    pub nodes: Vec<NodeDef>,
    pub schema: Arc<ArrowSchema>,
    slots: usize,
}

impl NestedPlan {
    /// The plan from `flytecodec.layout.plan()`'s nodes, `(message, slots)`.
    pub fn from_python(nodes: Vec<(String, Vec<PySlot>)>) -> Result<NestedPlan, String> {
        if nodes.is_empty() {
            return Err("a plan needs at least one node".into());
        }
        let count = nodes.len();
        let mut parsed: Vec<(String, Vec<Parsed>)> = Vec::with_capacity(count);
        let mut parent_of = vec![None; count];
        let mut id = 0;
        for (index, (message, slots)) in nodes.into_iter().enumerate() {
            let mut out = Vec::with_capacity(slots.len());
            for (number, name, kind, shape, child, key, oneof, metadata) in slots {
                let what = || format!("{message}.{name}");
                let value = match kind.as_str() {
                    "message" => {
                        let child = usize::try_from(child)
                            .ok()
                            .filter(|&c| c > index && c < count)
                            .ok_or_else(|| format!("{}: bad child node {child}", what()))?;
                        if parent_of[child].is_some() {
                            return Err(format!("{}: node {child} has two parents", what()));
                        }
                        parent_of[child] = Some(shape.clone());
                        Value::Message(child)
                    }
                    "timestamp" => Value::Timestamp,
                    "duration" => Value::Duration,
                    "cut" => Value::Cut,
                    other => match other.strip_prefix("wrapper:") {
                        Some(inner) => Value::Wrapper(
                            Scalar::parse(inner)
                                .ok_or_else(|| format!("{}: unknown kind {other:?}", what()))?,
                        ),
                        None => Value::Scalar(
                            Scalar::parse(other)
                                .ok_or_else(|| format!("{}: unknown kind {other:?}", what()))?,
                        ),
                    },
                };
                let shape = match shape.as_str() {
                    "single" => Shape::Single,
                    "optional" => Shape::Optional,
                    "repeated" => Shape::Repeated,
                    "map" => Shape::Map(
                        Scalar::parse(&key)
                            .filter(|k| {
                                !matches!(k, Scalar::Double | Scalar::Float | Scalar::Bytes)
                            })
                            .ok_or_else(|| format!("{}: bad map key {key:?}", what()))?,
                    ),
                    other => return Err(format!("{}: unknown shape {other:?}", what())),
                };
                let oneof = match usize::try_from(oneof) {
                    Ok(o) if o >= MAX_ONEOFS => {
                        return Err(format!("{}: bad oneof index {o}", what()))
                    }
                    o => o.ok(),
                };
                let slot = SlotDef {
                    number,
                    value,
                    shape,
                    oneof,
                    id,
                    value_type: DataType::Null,
                    field: Field::new("", DataType::Null, true),
                };
                id += 1;
                out.push((slot, name, metadata));
            }
            parsed.push((message, out));
        }
        // types bottom up: children come after their parents in a plan
        let mut defs: Vec<Option<NodeDef>> = (0..count).map(|_| None).collect();
        for index in (0..count).rev() {
            let (message, slots) = std::mem::take(&mut parsed[index]);
            let mut defs_slots = Vec::with_capacity(slots.len());
            let mut fields = Vec::with_capacity(slots.len() + 1);
            for (mut slot, name, metadata) in slots {
                let value_type = match slot.value {
                    Value::Scalar(s) | Value::Wrapper(s) => s.data_type(),
                    Value::Message(child) => {
                        let def = defs[child].as_ref().ok_or("a child node is missing")?;
                        DataType::Struct(def.fields.clone())
                    }
                    Value::Timestamp => {
                        DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
                    }
                    Value::Duration => DataType::Duration(TimeUnit::Nanosecond),
                    Value::Cut => DataType::Binary,
                };
                let data_type = match slot.shape {
                    Shape::Repeated => {
                        DataType::List(Arc::new(Field::new("item", value_type.clone(), false)))
                    }
                    Shape::Map(key) => DataType::Map(
                        Arc::new(Field::new(
                            "entries",
                            DataType::Struct(Fields::from(vec![
                                Field::new("key", key.data_type(), false),
                                Field::new("value", value_type.clone(), false),
                            ])),
                            false,
                        )),
                        false,
                    ),
                    _ => value_type.clone(),
                };
                let mut field = Field::new(name, data_type, slot.shape == Shape::Optional);
                if !metadata.is_empty() {
                    field = field.with_metadata(metadata.into_iter().collect::<HashMap<_, _>>());
                }
                fields.push(field.clone());
                slot.value_type = value_type;
                slot.field = field;
                defs_slots.push(slot);
            }
            fields.push(Field::new(REST, DataType::Binary, true));
            let top = defs_slots.iter().map(|s| s.number).max().unwrap_or(0) as usize;
            if top > 1 << 16 {
                return Err(format!(
                    "{message}: field numbers up to {top} are too sparse"
                ));
            }
            let mut lookup = vec![UNKNOWN; top + 1];
            for (i, slot) in defs_slots.iter().enumerate() {
                lookup[slot.number as usize] = Hot {
                    slot: i as u32,
                    id: slot.id as u32,
                    oneof: slot.oneof.map_or(NONE, |o| o as u32),
                    accepts: (0..8u8)
                        .filter(|&w| slot.fits(w))
                        .fold(0, |m, w| m | (1 << w)),
                    direct: match (slot.value, slot.shape, slot.oneof) {
                        (Value::Scalar(kind), Shape::Single | Shape::Optional, None) => Some(kind),
                        _ => None,
                    },
                };
            }
            let oneofs = defs_slots
                .iter()
                .filter_map(|s| s.oneof)
                .max()
                .map_or(0, |o| o + 1);
            let nullable = parent_of[index].as_deref() == Some("optional")
                || parent_of[index].as_deref() == Some("single");
            defs[index] = Some(NodeDef {
                message,
                slots: defs_slots,
                lookup,
                oneofs,
                nullable,
                fields: Fields::from(fields),
            });
        }
        let nodes: Vec<NodeDef> = defs.into_iter().map(|d| d.expect("every node")).collect();
        let metadata = HashMap::from([
            ("flytecodec.layout".to_string(), "nested".to_string()),
            ("protobuf.message".to_string(), nodes[0].message.clone()),
        ]);
        let schema = Arc::new(ArrowSchema::new_with_metadata(
            nodes[0].fields.clone(),
            metadata,
        ));
        Ok(NestedPlan {
            nodes,
            schema,
            slots: id,
        })
    }

    /// Empty builders for the plan's columns.
    pub fn builders(&self, rows: usize) -> Builders {
        // a node reached from the record through singular fields only has one row per record: its columns
        // are given room for them all at once (they are padded to that length in the end)
        let mut whole = vec![false; self.nodes.len()];
        whole[0] = true;
        let mut cols = Vec::with_capacity(self.slots);
        for (index, node) in self.nodes.iter().enumerate() {
            let capacity = if whole[index] { rows } else { 0 };
            for slot in &node.slots {
                if let Value::Message(child) = slot.value {
                    whole[child] =
                        whole[index] && matches!(slot.shape, Shape::Single | Shape::Optional);
                }
                let values = |v: Value, capacity: usize| match v {
                    Value::Scalar(s) | Value::Wrapper(s) => s.values(capacity),
                    Value::Message(child) => Values::Struct(child),
                    Value::Timestamp | Value::Duration => Values::I64(Vec::with_capacity(capacity)),
                    Value::Cut => Values::bin(capacity),
                };
                let offsets = || {
                    let mut offsets = Vec::with_capacity(capacity + 1);
                    offsets.push(0);
                    offsets
                };
                let col = match slot.shape {
                    Shape::Single => Col::Plain(values(slot.value, capacity), None),
                    Shape::Optional => match slot.value {
                        // a struct's validity is its node's
                        Value::Message(_) => Col::Plain(values(slot.value, 0), None),
                        _ => Col::Plain(
                            values(slot.value, capacity),
                            Some(BooleanBufferBuilder::new(capacity)),
                        ),
                    },
                    Shape::Repeated => Col::List(offsets(), values(slot.value, 0)),
                    Shape::Map(key) => {
                        Col::Map(Box::new((offsets(), key.values(0), values(slot.value, 0))))
                    }
                };
                cols.push(col);
            }
        }
        let nodes = self
            .nodes
            .iter()
            .zip(&whole)
            .map(|(n, &whole)| {
                let capacity = if whole { rows } else { 0 };
                NodeBuilder {
                    len: 0,
                    validity: n.nullable.then(|| BooleanBufferBuilder::new(capacity)),
                    rest: Values::bin(capacity),
                    rest_validity: BooleanBufferBuilder::new(capacity),
                }
            })
            .collect();
        Builders { cols, nodes }
    }

    /// Read one record (the bytes `buffer[start..end]`) as row `row` of node 0.
    pub fn append(
        &self,
        reader: &mut Reader,
        builders: &mut Builders,
        buffer: &[u8],
        start: usize,
        end: usize,
        row: usize,
    ) -> Result<(), String> {
        reader.node(self, builders, buffer, 0, &[(start, end)], row)
    }

    /// The struct array of node 0 for `rows` records.
    pub fn finish(&self, builders: &mut Builders, rows: usize) -> Result<ArrayData, String> {
        finish_node(self, builders, 0, rows).map_err(|e| e.to_string())
    }

    /// Per-thread scratch space for reading records.
    pub fn reader(&self) -> Reader {
        Reader {
            found: (0..self.slots).map(|_| Vec::new()).collect(),
            rest: Vec::new(),
            touched: Vec::new(),
            oneofs: Vec::new(),
            entries: Vec::new(),
            parts: Vec::new(),
        }
    }
}

/// The `_rest` column's name.
pub const REST: &str = "_rest";

/// Non-null values of one Arrow type, growing row by row.
#[derive(Debug)]
pub enum Values {
    I32(Vec<i32>),
    U32(Vec<u32>),
    I64(Vec<i64>),
    U64(Vec<u64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    Bool(BooleanBufferBuilder),
    /// Strings or bytes: offsets (starting with 0) and data.
    Bin(Vec<i32>, Vec<u8>),
    /// A struct: its rows are the node's.
    Struct(usize),
}

impl Values {
    /// Strings or bytes, with room for `capacity` of them.
    fn bin(capacity: usize) -> Values {
        let mut offsets = Vec::with_capacity(capacity + 1);
        offsets.push(0);
        Values::Bin(offsets, Vec::new())
    }

    fn len(&self, nodes: &[NodeBuilder]) -> usize {
        match self {
            Values::I32(v) => v.len(),
            Values::U32(v) => v.len(),
            Values::I64(v) => v.len(),
            Values::U64(v) => v.len(),
            Values::F32(v) => v.len(),
            Values::F64(v) => v.len(),
            Values::Bool(b) => b.len(),
            Values::Bin(offsets, _) => offsets.len() - 1,
            Values::Struct(node) => nodes[*node].len,
        }
    }

    /// Grow to `len` values with defaults (zero, empty; a null struct).
    fn pad(&mut self, len: usize, nodes: &mut [NodeBuilder]) {
        match self {
            Values::I32(v) => v.resize(len.max(v.len()), 0),
            Values::U32(v) => v.resize(len.max(v.len()), 0),
            Values::I64(v) => v.resize(len.max(v.len()), 0),
            Values::U64(v) => v.resize(len.max(v.len()), 0),
            Values::F32(v) => v.resize(len.max(v.len()), 0.0),
            Values::F64(v) => v.resize(len.max(v.len()), 0.0),
            Values::Bool(b) => {
                if len > b.len() {
                    b.append_n(len - b.len(), false);
                }
            }
            Values::Bin(offsets, data) => {
                if len + 1 > offsets.len() {
                    offsets.resize(len + 1, data.len() as i32);
                }
            }
            Values::Struct(node) => nodes[*node].pad(len),
        }
    }

    /// Append the value of a scalar of kind `kind`: `raw` bits, or `payload` for strings and bytes.
    #[inline]
    fn push(&mut self, kind: Scalar, raw: u64, payload: &[u8]) {
        match self {
            Values::I32(v) => v.push(match kind {
                Scalar::SInt32 => zigzag32(raw),
                _ => raw as u32 as i32,
            }),
            Values::U32(v) => v.push(raw as u32),
            Values::I64(v) => v.push(match kind {
                Scalar::SInt64 => zigzag64(raw),
                _ => raw as i64,
            }),
            Values::U64(v) => v.push(raw),
            Values::F32(v) => v.push(f32::from_bits(raw as u32)),
            Values::F64(v) => v.push(f64::from_bits(raw)),
            Values::Bool(b) => b.append(raw != 0),
            Values::Bin(offsets, data) => {
                data.extend_from_slice(payload);
                offsets.push(data.len() as i32);
            }
            Values::Struct(_) => {}
        }
    }

    /// Set row `row` of a scalar column to a value, the column being at most one row further (a row that
    /// already has its value from an earlier occurrence of the field gets the later one).
    #[inline]
    fn put(&mut self, row: usize, kind: Scalar, raw: u64, payload: &[u8]) {
        match self {
            Values::I32(v) => put(
                v,
                row,
                match kind {
                    Scalar::SInt32 => zigzag32(raw),
                    _ => raw as u32 as i32,
                },
            ),
            Values::U32(v) => put(v, row, raw as u32),
            Values::I64(v) => put(
                v,
                row,
                match kind {
                    Scalar::SInt64 => zigzag64(raw),
                    _ => raw as i64,
                },
            ),
            Values::U64(v) => put(v, row, raw),
            Values::F32(v) => put(v, row, f32::from_bits(raw as u32)),
            Values::F64(v) => put(v, row, f64::from_bits(raw)),
            Values::Bool(b) => {
                if b.len() > row {
                    b.truncate(row);
                } else if b.len() < row {
                    b.append_n(row - b.len(), false);
                }
                b.append(raw != 0);
            }
            Values::Bin(offsets, data) => {
                if offsets.len() > row + 1 {
                    offsets.truncate(row + 1);
                    data.truncate(offsets[row] as usize);
                } else if offsets.len() < row + 1 {
                    offsets.resize(row + 1, data.len() as i32);
                }
                data.extend_from_slice(payload);
                offsets.push(data.len() as i32);
            }
            Values::Struct(_) => {}
        }
    }

    fn push_i64(&mut self, value: i64) {
        if let Values::I64(v) = self {
            v.push(value);
        }
    }
}

/// Set `v[row]`, growing `v` with zeros up to it.
#[inline]
fn put<T: Copy + Default>(v: &mut Vec<T>, row: usize, value: T) {
    if v.len() > row {
        v[row] = value;
    } else {
        v.resize(row, T::default());
        v.push(value);
    }
}

#[inline]
fn zigzag32(raw: u64) -> i32 {
    let n = raw as u32;
    ((n >> 1) as i32) ^ -((n & 1) as i32)
}

#[inline]
fn zigzag64(raw: u64) -> i64 {
    ((raw >> 1) as i64) ^ -((raw & 1) as i64)
}

/// One slot's column.
#[derive(Debug)]
pub enum Col {
    /// Values, with their validity when nullable (a struct's is its node's).
    Plain(Values, Option<BooleanBufferBuilder>),
    /// A list: offsets (starting with 0) and items.
    List(Vec<i32>, Values),
    /// A map: offsets, keys and values.
    Map(Box<(Vec<i32>, Values, Values)>),
}

impl Col {
    fn pad(&mut self, len: usize, nodes: &mut [NodeBuilder]) {
        match self {
            Col::Plain(values, validity) => {
                if let Some(v) = validity {
                    if len > v.len() {
                        v.append_n(len - v.len(), false);
                    }
                }
                values.pad(len, nodes);
            }
            Col::List(offsets, _) => pad_offsets(offsets, len),
            Col::Map(map) => pad_offsets(&mut map.0, len),
        }
    }
}

/// Grow `offsets` to `len` lists, the new ones empty.
#[inline]
fn pad_offsets(offsets: &mut Vec<i32>, len: usize) {
    if len + 1 > offsets.len() {
        let last = *offsets.last().unwrap_or(&0);
        offsets.resize(len + 1, last);
    }
}

/// A node's struct being built: its length, validity (when nullable) and `_rest`.
#[derive(Debug)]
pub struct NodeBuilder {
    len: usize,
    validity: Option<BooleanBufferBuilder>,
    rest: Values,
    rest_validity: BooleanBufferBuilder,
}

impl NodeBuilder {
    /// Grow to `len` rows, the new ones null (their columns catch up later).
    fn pad(&mut self, len: usize) {
        if len > self.len {
            if let Some(v) = &mut self.validity {
                v.append_n(len - v.len(), false);
            }
            self.len = len;
        }
    }

    /// Start row `row` as a set message.
    fn set(&mut self, row: usize) {
        self.pad(row);
        if let Some(v) = &mut self.validity {
            v.append(true);
        }
        self.len = row + 1;
    }
}

/// The columns of a batch being built.
#[derive(Debug)]
pub struct Builders {
    cols: Vec<Col>,
    nodes: Vec<NodeBuilder>,
}

/// One occurrence of a field in a message: its order there, where its tag starts and its value's span
/// (a length-delimited payload without its prefix), its bits (a varint or fixed value) and wire type.
#[derive(Clone, Copy, Debug)]
struct Occ {
    seq: u32,
    tag: usize,
    start: usize,
    end: usize,
    raw: u64,
    wire: u8,
}

/// A map entry: its key, its value (a scalar's last occurrence, or where a message value's parts are in
/// `Reader::parts`) and order.
#[derive(Clone, Copy, Debug)]
struct Entry {
    key: Key,
    /// The key's bits (a number) or its span (a string) as on the wire.
    key_raw: (u64, usize, usize),
    value: Option<(u64, usize, usize)>,
    parts: (usize, usize),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Signed(i64),
    Unsigned(u64),
    Bytes(usize, usize),
}

/// Per-thread scratch space, reused from record to record.
pub struct Reader {
    /// Each slot's occurrences in the message being read.
    found: Vec<Vec<Occ>>,
    /// The `_rest` spans of the messages being read (a stack): `(seq, start, end)`.
    rest: Vec<(u32, usize, usize)>,
    /// The slots with occurrences in the messages being read (a stack).
    touched: Vec<u32>,
    /// Each oneof's current member in the messages being read (a stack).
    oneofs: Vec<u32>,
    entries: Vec<Entry>,
    parts: Vec<(usize, usize)>,
}

/// Why a Timestamp, Duration or wrapper cannot be a value of its column.
struct Fallback;

impl Reader {
    /// Read the message made of `parts` of `buffer` as row `row` of node `index`.
    fn node(
        &mut self,
        plan: &NestedPlan,
        b: &mut Builders,
        buffer: &[u8],
        index: usize,
        parts: &[(usize, usize)],
        row: usize,
    ) -> Result<(), String> {
        let def = &plan.nodes[index];
        b.nodes[index].set(row);
        let rest_base = self.rest.len();
        let touched_base = self.touched.len();
        let oneof_base = self.oneofs.len();
        self.oneofs.resize(oneof_base + def.oneofs, NONE);
        {
            let Reader {
                found,
                rest,
                touched,
                oneofs,
                ..
            } = self;
            let cols = &mut b.cols;
            let oneofs = &mut oneofs[oneof_base..];
            let mut seq = 0u32;
            for &(ps, pe) in parts {
                let part = &buffer[ps..pe];
                let mut cursor = 0usize;
                walk(part, |number, wire, s, e, raw| {
                    let tag = ps + cursor;
                    cursor = e;
                    seq += 1;
                    let Some(hot) = def.hot(number, wire) else {
                        rest.push((seq, tag, ps + e));
                        return;
                    };
                    if let Some(kind) = hot.direct {
                        let Col::Plain(values, validity) = &mut cols[hot.id as usize] else {
                            unreachable!("a scalar's column is plain")
                        };
                        values.put(row, kind, raw, &part[s..e]);
                        if let Some(v) = validity {
                            if v.len() <= row {
                                v.append_n(row - v.len(), false);
                                v.append(true);
                            }
                        }
                        return;
                    }
                    if hot.oneof != NONE {
                        let current = &mut oneofs[hot.oneof as usize];
                        if *current != hot.slot && *current != NONE {
                            found[def.slots[*current as usize].id].clear();
                        }
                        *current = hot.slot;
                    }
                    let list = &mut found[hot.id as usize];
                    if list.is_empty() {
                        touched.push(hot.slot);
                    }
                    list.push(Occ {
                        seq,
                        tag,
                        start: ps + s,
                        end: ps + e,
                        raw,
                        wire,
                    });
                })
                .map_err(|e| format!("{}: {}", def.message, e.reason))?;
            }
        }
        self.oneofs.truncate(oneof_base);
        let mine = self.touched.len();
        let mut fell_back = false;
        for k in touched_base..mine {
            let i = self.touched[k] as usize;
            let slot = &def.slots[i];
            let occs = std::mem::take(&mut self.found[slot.id]);
            if !occs.is_empty() {
                let result = self.slot(plan, b, buffer, slot, &occs, row);
                let mut occs = occs;
                occs.clear();
                self.found[slot.id] = occs;
                match result {
                    Ok(true) => {}
                    Ok(false) => fell_back = true,
                    Err(e) => return Err(e),
                }
            }
        }
        self.touched.truncate(touched_base);
        let rest = &mut self.rest[rest_base..];
        if !rest.is_empty() {
            if fell_back {
                rest.sort_unstable_by_key(|r| r.0);
            }
            let node = &mut b.nodes[index];
            node.rest.pad(row, &mut []);
            let pad = row - node.rest_validity.len();
            node.rest_validity.append_n(pad, false);
            node.rest_validity.append(true);
            if let Values::Bin(offsets, data) = &mut node.rest {
                for &(_, s, e) in rest.iter() {
                    data.extend_from_slice(&buffer[s..e]);
                }
                offsets.push(data.len() as i32);
            }
        }
        self.rest.truncate(rest_base);
        Ok(())
    }

    /// Write slot `slot`'s value in row `row` from its occurrences; `Ok(false)` when they went to `_rest`
    /// instead (a value its column cannot hold).
    fn slot(
        &mut self,
        plan: &NestedPlan,
        b: &mut Builders,
        buffer: &[u8],
        slot: &SlotDef,
        occs: &[Occ],
        row: usize,
    ) -> Result<bool, String> {
        let to_rest = |reader: &mut Reader| {
            reader
                .rest
                .extend(occs.iter().map(|o| (o.seq, o.tag, o.end)));
        };
        match slot.shape {
            Shape::Single | Shape::Optional => {
                let last = occs[occs.len() - 1];
                match slot.value {
                    Value::Message(child) => {
                        let parts: SmallVec<[(usize, usize); 4]> =
                            occs.iter().map(|o| (o.start, o.end)).collect();
                        self.node(plan, b, buffer, child, &parts, row)?;
                    }
                    Value::Scalar(kind) => {
                        let col = &mut b.cols[slot.id];
                        col.pad(row, &mut b.nodes);
                        let Col::Plain(values, validity) = col else {
                            unreachable!()
                        };
                        values.push(kind, last.raw, &buffer[last.start..last.end]);
                        if let Some(v) = validity {
                            v.append(true);
                        }
                    }
                    Value::Cut => {
                        let col = &mut b.cols[slot.id];
                        col.pad(row, &mut b.nodes);
                        let Col::Plain(Values::Bin(offsets, data), validity) = col else {
                            unreachable!()
                        };
                        for o in occs {
                            data.extend_from_slice(&buffer[o.start..o.end]);
                        }
                        offsets.push(data.len() as i32);
                        if let Some(v) = validity {
                            v.append(true);
                        }
                    }
                    Value::Timestamp | Value::Duration | Value::Wrapper(_) => {
                        let spans = occs.iter().map(|o| (o.start, o.end));
                        let Ok(value) = well_known(buffer, slot.value, spans) else {
                            to_rest(self);
                            return Ok(false);
                        };
                        let col = &mut b.cols[slot.id];
                        col.pad(row, &mut b.nodes);
                        let Col::Plain(values, validity) = col else {
                            unreachable!()
                        };
                        match value {
                            Known::Ns(ns) => values.push_i64(ns),
                            Known::Scalar(kind, raw, payload) => {
                                values.push(kind, raw, &buffer[payload.0..payload.1])
                            }
                        }
                        if let Some(v) = validity {
                            v.append(true);
                        }
                    }
                }
            }
            Shape::Repeated => {
                // well-known items are checked first: one that does not fit sends the whole field to `_rest`
                if matches!(
                    slot.value,
                    Value::Timestamp | Value::Duration | Value::Wrapper(_)
                ) {
                    let mut known = Vec::with_capacity(occs.len());
                    for o in occs {
                        match well_known(buffer, slot.value, std::iter::once((o.start, o.end))) {
                            Ok(k) => known.push(k),
                            Err(Fallback) => {
                                to_rest(self);
                                return Ok(false);
                            }
                        }
                    }
                    let col = &mut b.cols[slot.id];
                    col.pad(row, &mut b.nodes);
                    let Col::List(offsets, items) = col else {
                        unreachable!()
                    };
                    for k in known {
                        match k {
                            Known::Ns(ns) => items.push_i64(ns),
                            Known::Scalar(kind, raw, p) => items.push(kind, raw, &buffer[p.0..p.1]),
                        }
                    }
                    offsets.push(items.len(&b.nodes) as i32);
                    return Ok(true);
                }
                {
                    let col = &mut b.cols[slot.id];
                    col.pad(row, &mut b.nodes);
                }
                match slot.value {
                    Value::Message(child) => {
                        for o in occs {
                            let item = b.nodes[child].len;
                            self.node(plan, b, buffer, child, &[(o.start, o.end)], item)?;
                        }
                    }
                    Value::Scalar(kind) => {
                        let Col::List(_, items) = &mut b.cols[slot.id] else {
                            unreachable!()
                        };
                        for o in occs {
                            if o.wire == 2 && kind.packable() {
                                unpack(kind, &buffer[o.start..o.end], items)?;
                            } else {
                                items.push(kind, o.raw, &buffer[o.start..o.end]);
                            }
                        }
                    }
                    Value::Cut => {
                        let Col::List(_, items) = &mut b.cols[slot.id] else {
                            unreachable!()
                        };
                        for o in occs {
                            items.push(Scalar::Bytes, 0, &buffer[o.start..o.end]);
                        }
                    }
                    _ => unreachable!(),
                }
                let nodes = &b.nodes;
                let Col::List(offsets, items) = &mut b.cols[slot.id] else {
                    unreachable!()
                };
                offsets.push(items.len(nodes) as i32);
            }
            Shape::Map(key_kind) => return self.map(plan, b, buffer, slot, key_kind, occs, row),
        }
        Ok(true)
    }

    /// A map's entries, sorted by key with the later of equal keys winning; an entry with another field
    /// than its key and value goes whole to `_rest`.
    #[allow(clippy::too_many_arguments)]
    fn map(
        &mut self,
        plan: &NestedPlan,
        b: &mut Builders,
        buffer: &[u8],
        slot: &SlotDef,
        key_kind: Scalar,
        occs: &[Occ],
        row: usize,
    ) -> Result<bool, String> {
        let value_wire = slot.value.wire();
        let merges = !matches!(slot.value, Value::Scalar(_));
        let entry_base = self.entries.len();
        let parts_base = self.parts.len();
        let rest_mark = self.rest.len();
        let mut foreign = false;
        for o in occs {
            let (mut key, mut value, mut other) = (None, None, false);
            let first_part = self.parts.len();
            let parts = &mut self.parts;
            walk(&buffer[o.start..o.end], |number, wire, s, e, raw| {
                let (s, e) = (o.start + s, o.start + e);
                match number {
                    1 if wire == key_kind.wire() => key = Some((raw, s, e)),
                    2 if wire == value_wire => {
                        value = Some((raw, s, e));
                        if merges {
                            parts.push((s, e));
                        }
                    }
                    _ => other = true,
                }
            })
            .map_err(|e| format!("map entry: {}", e.reason))?;
            if other {
                self.parts.truncate(first_part);
                self.rest.push((o.seq, o.tag, o.end));
                foreign = true;
                continue;
            }
            let key_raw = key.unwrap_or((0, 0, 0));
            let key = {
                let (raw, s, e) = key_raw;
                match key_kind {
                    Scalar::String | Scalar::Bytes => Key::Bytes(s, e),
                    Scalar::UInt32 | Scalar::Fixed32 => Key::Unsigned(u64::from(raw as u32)),
                    Scalar::UInt64 | Scalar::Fixed64 => Key::Unsigned(raw),
                    Scalar::Bool => Key::Unsigned(u64::from(raw != 0)),
                    Scalar::SInt32 => Key::Signed(i64::from(zigzag32(raw))),
                    Scalar::SInt64 => Key::Signed(zigzag64(raw)),
                    Scalar::Int64 | Scalar::SFixed64 => Key::Signed(raw as i64),
                    _ => Key::Signed(i64::from(raw as u32 as i32)),
                }
            };
            self.entries.push(Entry {
                key,
                key_raw,
                value,
                parts: (first_part, self.parts.len()),
            });
        }
        let result = self.write_map(plan, b, buffer, slot, key_kind, row, entry_base);
        self.entries.truncate(entry_base);
        self.parts.truncate(parts_base);
        match result {
            Ok(true) => Ok(!foreign),
            Ok(false) => {
                // a value its column cannot hold: the whole field to `_rest`, foreign entries included
                self.rest.truncate(rest_mark);
                self.rest.extend(occs.iter().map(|o| (o.seq, o.tag, o.end)));
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn write_map(
        &mut self,
        plan: &NestedPlan,
        b: &mut Builders,
        buffer: &[u8],
        slot: &SlotDef,
        key_kind: Scalar,
        row: usize,
        entry_base: usize,
    ) -> Result<bool, String> {
        let wk = matches!(
            slot.value,
            Value::Timestamp | Value::Duration | Value::Wrapper(_)
        );
        let known = |reader: &Reader, i: usize| {
            let e = reader.entries[i];
            well_known(
                buffer,
                slot.value,
                reader.parts[e.parts.0..e.parts.1].iter().copied(),
            )
        };
        // one value that does not fit sends the whole map to `_rest`, even one a later key replaces
        if wk && (entry_base..self.entries.len()).any(|i| known(self, i).is_err()) {
            return Ok(false);
        }
        let entries = &mut self.entries[entry_base..];
        // sort by key, the later of equal keys last; keep the last of each key
        let bytes = |k: &Key| match *k {
            Key::Bytes(s, e) => &buffer[s..e],
            _ => &[],
        };
        let compare = |a: &Entry, c: &Entry| match (a.key, c.key) {
            (Key::Bytes(..), Key::Bytes(..)) => bytes(&a.key).cmp(bytes(&c.key)),
            (x, y) => x.cmp(&y),
        };
        if !entries.is_sorted_by(|a, c| compare(a, c).is_lt()) {
            entries.sort_by(compare);
        }
        let mut kept = 0;
        for i in 0..entries.len() {
            if i + 1 < entries.len() && compare(&entries[i], &entries[i + 1]).is_eq() {
                continue;
            }
            entries[kept] = entries[i];
            kept += 1;
        }
        let end = entry_base + kept;
        self.entries.truncate(end);
        {
            let col = &mut b.cols[slot.id];
            col.pad(row, &mut b.nodes);
            let Col::Map(map) = col else { unreachable!() };
            let (_, keys, values) = &mut **map;
            for i in entry_base..end {
                let e = self.entries[i];
                let (raw, s, stop) = e.key_raw;
                keys.push(key_kind, raw, &buffer[s..stop]);
                match slot.value {
                    Value::Scalar(kind) => {
                        let (raw, s, stop) = e.value.unwrap_or((0, 0, 0));
                        values.push(kind, raw, &buffer[s..stop]);
                    }
                    Value::Cut => {
                        let Values::Bin(offsets, data) = values else {
                            unreachable!()
                        };
                        for &(s, stop) in &self.parts[e.parts.0..e.parts.1] {
                            data.extend_from_slice(&buffer[s..stop]);
                        }
                        offsets.push(data.len() as i32);
                    }
                    Value::Message(_) => {}
                    _ => match known(self, i) {
                        Ok(Known::Ns(ns)) => values.push_i64(ns),
                        Ok(Known::Scalar(kind, raw, p)) => {
                            values.push(kind, raw, &buffer[p.0..p.1])
                        }
                        Err(Fallback) => unreachable!("checked above"),
                    },
                }
            }
        }
        if let Value::Message(child) = slot.value {
            for i in entry_base..end {
                let e = self.entries[i];
                let parts: SmallVec<[(usize, usize); 4]> =
                    self.parts[e.parts.0..e.parts.1].iter().copied().collect();
                let item = b.nodes[child].len;
                self.node(plan, b, buffer, child, &parts, item)?;
            }
        }
        let nodes = &b.nodes;
        let Col::Map(map) = &mut b.cols[slot.id] else {
            unreachable!()
        };
        let (offsets, keys, _) = &mut **map;
        offsets.push(keys.len(nodes) as i32);
        Ok(true)
    }
}

/// A well-known message's value: nanoseconds (Timestamp, Duration) or a wrapper's scalar (its bits, or its
/// payload's span).
#[derive(Clone, Copy, Debug)]
enum Known {
    Ns(i64),
    Scalar(Scalar, u64, (usize, usize)),
}

/// The value of a Timestamp, Duration or wrapper made of `parts` of `buffer`, or [`Fallback`] when its column
/// cannot hold it exactly (another field, a time out of range).
fn well_known(
    buffer: &[u8],
    value: Value,
    parts: impl Iterator<Item = (usize, usize)>,
) -> Result<Known, Fallback> {
    let first_wire = match value {
        Value::Wrapper(kind) => kind.wire(),
        _ => 0,
    };
    let mut first = (0u64, (0usize, 0usize));
    let mut second = 0u64;
    let mut other = false;
    for (start, end) in parts {
        walk(
            &buffer[start..end],
            |number, wire, s, e, raw| match number {
                1 if wire == first_wire => first = (raw, (start + s, start + e)),
                2 if wire == 0 && !matches!(value, Value::Wrapper(_)) => second = raw,
                _ => other = true,
            },
        )
        .map_err(|_| Fallback)?;
    }
    if other {
        return Err(Fallback);
    }
    let seconds = first.0 as i64;
    let nanos = i64::from(second as u32 as i32);
    match value {
        Value::Timestamp => {
            if !(0..1_000_000_000).contains(&nanos) {
                return Err(Fallback);
            }
            ns(seconds, nanos)
        }
        Value::Duration => {
            if nanos.abs() >= 1_000_000_000
                || (seconds > 0 && nanos < 0)
                || (seconds < 0 && nanos > 0)
            {
                return Err(Fallback);
            }
            ns(seconds, nanos)
        }
        Value::Wrapper(kind) => Ok(Known::Scalar(kind, first.0, first.1)),
        _ => Err(Fallback),
    }
}

fn ns(seconds: i64, nanos: i64) -> Result<Known, Fallback> {
    seconds
        .checked_mul(1_000_000_000)
        .and_then(|s| s.checked_add(nanos))
        .map(Known::Ns)
        .ok_or(Fallback)
}

/// The values of a packed run of `kind` into `items`.
fn unpack(kind: Scalar, payload: &[u8], items: &mut Values) -> Result<(), String> {
    match kind.wire() {
        0 => {
            let mut pos = 0;
            while pos < payload.len() {
                let (raw, next) = read_varint(payload, pos).map_err(|e| e.reason.to_string())?;
                items.push(kind, raw, &[]);
                pos = next;
            }
        }
        1 => {
            for chunk in payload.chunks_exact(8) {
                items.push(kind, little_endian(chunk), &[]);
            }
        }
        _ => {
            for chunk in payload.chunks_exact(4) {
                items.push(kind, little_endian(chunk), &[]);
            }
        }
    }
    Ok(())
}

// Finishing: arrays from the builders, every column padded to its length.

/// The array of `builder`. Validated in debug builds only: the builders make offsets that only grow and end at
/// their child's length, children as long as their parent, and string data from string fields only, which
/// the records' validation checked as UTF-8 (a `RecordList`'s records are valid): checking every offset and
/// string again would cost a good part of the time of the whole table.
fn array(builder: arrow_data::ArrayDataBuilder) -> Result<ArrayData, arrow_schema::ArrowError> {
    if cfg!(debug_assertions) {
        builder.build()
    } else {
        // SAFETY: see above; the tests build the same arrays with validation (debug) and validate the
        // tables they get in full
        Ok(unsafe { builder.build_unchecked() })
    }
}

fn nulls(validity: Option<BooleanBufferBuilder>) -> Option<NullBuffer> {
    validity
        .map(|mut v| NullBuffer::new(v.finish()))
        .filter(|n| n.null_count() > 0)
}

fn finish_node(
    plan: &NestedPlan,
    b: &mut Builders,
    index: usize,
    len: usize,
) -> Result<ArrayData, arrow_schema::ArrowError> {
    let def = &plan.nodes[index];
    b.nodes[index].pad(len);
    let mut children = Vec::with_capacity(def.slots.len() + 1);
    for slot in &def.slots {
        let col = std::mem::replace(&mut b.cols[slot.id], Col::List(vec![0], Values::bin(0)));
        children.push(finish_col(plan, b, slot, col, len)?);
    }
    let node = &mut b.nodes[index];
    let mut rest = std::mem::replace(&mut node.rest, Values::bin(0));
    rest.pad(len, &mut []);
    let rest_validity = &mut node.rest_validity;
    if len > rest_validity.len() {
        rest_validity.append_n(len - rest_validity.len(), false);
    }
    let rest_nulls = nulls(Some(std::mem::replace(
        rest_validity,
        BooleanBufferBuilder::new(0),
    )));
    children.push(values_data(
        plan,
        b,
        &DataType::Binary,
        rest,
        len,
        rest_nulls,
    )?);
    let validity = b.nodes[index].validity.take();
    array(
        ArrayData::builder(DataType::Struct(def.fields.clone()))
            .len(len)
            .nulls(nulls(validity))
            .child_data(children),
    )
}

fn finish_col(
    plan: &NestedPlan,
    b: &mut Builders,
    slot: &SlotDef,
    mut col: Col,
    len: usize,
) -> Result<ArrayData, arrow_schema::ArrowError> {
    col.pad(len, &mut b.nodes);
    match col {
        Col::Plain(values, validity) => {
            values_data(plan, b, &slot.value_type, values, len, nulls(validity))
        }
        Col::List(offsets, items) => {
            let count = *offsets.last().unwrap_or(&0) as usize;
            let items = values_data(plan, b, &slot.value_type, items, count, None)?;
            array(
                ArrayData::builder(slot.field.data_type().clone())
                    .len(len)
                    .add_buffer(Buffer::from_vec(offsets))
                    .child_data(vec![items]),
            )
        }
        Col::Map(map) => {
            let (offsets, keys, values) = *map;
            let count = *offsets.last().unwrap_or(&0) as usize;
            let DataType::Map(entries, _) = slot.field.data_type() else {
                unreachable!()
            };
            let DataType::Struct(kv) = entries.data_type() else {
                unreachable!()
            };
            let keys = values_data(plan, b, kv[0].data_type(), keys, count, None)?;
            let values = values_data(plan, b, &slot.value_type, values, count, None)?;
            let entries = array(
                ArrayData::builder(entries.data_type().clone())
                    .len(count)
                    .child_data(vec![keys, values]),
            )?;
            array(
                ArrayData::builder(slot.field.data_type().clone())
                    .len(len)
                    .add_buffer(Buffer::from_vec(offsets))
                    .child_data(vec![entries]),
            )
        }
    }
}

fn values_data(
    plan: &NestedPlan,
    b: &mut Builders,
    data_type: &DataType,
    mut values: Values,
    len: usize,
    nulls: Option<NullBuffer>,
) -> Result<ArrayData, arrow_schema::ArrowError> {
    values.pad(len, &mut b.nodes);
    let buffer = match values {
        Values::I32(v) => Buffer::from_vec(v),
        Values::U32(v) => Buffer::from_vec(v),
        Values::I64(v) => Buffer::from_vec(v),
        Values::U64(v) => Buffer::from_vec(v),
        Values::F32(v) => Buffer::from_vec(v),
        Values::F64(v) => Buffer::from_vec(v),
        Values::Bool(mut v) => v.finish().into_inner(),
        Values::Bin(offsets, data) => {
            if i32::try_from(data.len()).is_err() {
                return Err(arrow_schema::ArrowError::ComputeError(
                    "over 2 GiB of bytes in one column of a batch".into(),
                ));
            }
            return array(
                ArrayData::builder(data_type.clone())
                    .len(len)
                    .add_buffer(Buffer::from_vec(offsets))
                    .add_buffer(Buffer::from_vec(data))
                    .nulls(nulls),
            );
        }
        Values::Struct(child) => {
            let data = finish_node(plan, b, child, len)?;
            return Ok(data);
        }
    };
    array(
        ArrayData::builder(data_type.clone())
            .len(len)
            .add_buffer(buffer)
            .nulls(nulls),
    )
}

/// The plans converted lately, by the Python plan object they came from (`flytecodec.layout.plan()` caches
/// its plans, so the same object comes again; holding it keeps its identity from being reused).
static PLANS: Mutex<Vec<(Py<PyAny>, Arc<NestedPlan>)>> = Mutex::new(Vec::new());

/// How many converted plans are kept (one per record kind is plenty).
const PLANS_KEPT: usize = 16;

/// The converted plan of `plan`, from the cache when it is the same object as before (a tuple: its nodes and
/// slots are tuples of strings and numbers, so it cannot change).
pub fn plan_of(plan: &Bound<'_, PyAny>) -> PyResult<Arc<NestedPlan>> {
    let mut kept = PLANS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, found)) = kept.iter().find(|(p, _)| p.as_ptr() == plan.as_ptr()) {
        return Ok(found.clone());
    }
    let nodes: Vec<(String, Vec<PySlot>)> = plan.extract()?;
    let converted =
        Arc::new(NestedPlan::from_python(nodes).map_err(pyo3::exceptions::PyValueError::new_err)?);
    if !plan.is_instance_of::<PyTuple>() {
        return Ok(converted); // a list could change under the same identity: not kept
    }
    if kept.len() >= PLANS_KEPT {
        kept.remove(0);
    }
    kept.push((plan.clone().unbind(), converted.clone()));
    Ok(converted)
}

/// How many records ahead of the one being read the next one's bytes are asked for.
const PREFETCH_AHEAD: usize = 2;

/// Ask for `bytes` to be brought into the cache (the records are read one after the other, but each is in its
/// own place: without this, every record's first reads wait for memory).
#[inline]
fn prefetch(bytes: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        for line in bytes.chunks(64) {
            // SAFETY: a prefetch is a hint; it reads nothing, and the address is inside `bytes`
            unsafe { _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast()) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = bytes;
}

/// The most record bytes one batch is read from. Each byte of a record ends in one column at most (a string,
/// bytes, cut bytes, `_rest`), so no column of a batch outgrows Arrow's 32-bit offsets.
const MAX_BATCH_BYTES: usize = i32::MAX as usize;

/// The records of each batch: contiguous runs of at most `size` records and `max_bytes` bytes (at least one
/// record each; one empty run for no records).
fn runs(spans: &[Span], size: usize, max_bytes: usize) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0usize);
    for (i, span) in spans.iter().enumerate() {
        let len = span.end - span.start;
        if i > start && (i - start == size || bytes.saturating_add(len) > max_bytes) {
            out.push(start..i);
            (start, bytes) = (i, 0);
        }
        bytes = bytes.saturating_add(len);
    }
    if start < spans.len() || out.is_empty() {
        out.push(start..spans.len());
    }
    out
}

/// The nested table of the records at `spans` (in `buffers`): one batch per thread used (at least one; more
/// when a thread's records are over [`MAX_BATCH_BYTES`]), in order.
pub fn build(
    plan: &NestedPlan,
    buffers: &[&[u8]],
    spans: &[Span],
    threads: usize,
) -> Result<Vec<ArrowBatch>, String> {
    build_in(plan, buffers, spans, threads, MAX_BATCH_BYTES)
}

fn build_in(
    plan: &NestedPlan,
    buffers: &[&[u8]],
    spans: &[Span],
    threads: usize,
    max_bytes: usize,
) -> Result<Vec<ArrowBatch>, String> {
    let threads = threads.clamp(1, spans.len() / MIN_ROWS_PER_THREAD + 1);
    let size = spans.len().div_ceil(threads).max(1);
    let runs = runs(spans, size, max_bytes);
    let batch = |run: &Range<usize>| -> Result<ArrayData, String> {
        let part = &spans[run.clone()];
        let mut builders = plan.builders(part.len());
        let mut reader = plan.reader();
        for (i, span) in part.iter().enumerate() {
            if let Some(ahead) = part.get(i + PREFETCH_AHEAD) {
                prefetch(&buffers[ahead.buffer][ahead.start..ahead.end]);
            }
            plan.append(
                &mut reader,
                &mut builders,
                buffers[span.buffer],
                span.start,
                span.end,
                i,
            )
            .map_err(|e| format!("record {}: {e}", run.start + i))?;
        }
        plan.finish(&mut builders, part.len())
    };
    let batches: Vec<Result<ArrayData, String>> = if threads == 1 || runs.len() == 1 {
        runs.iter().map(batch).collect()
    } else {
        // each worker takes the next run until none is left
        let next = AtomicUsize::new(0);
        let done: Vec<Vec<(usize, Result<ArrayData, String>)>> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads.min(runs.len()))
                .map(|_| {
                    scope.spawn(|| {
                        let mut made = Vec::new();
                        loop {
                            let k = next.fetch_add(1, Ordering::Relaxed);
                            let Some(run) = runs.get(k) else {
                                return made;
                            };
                            made.push((k, batch(run)));
                        }
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| {
                    w.join().unwrap_or_else(|_| {
                        vec![(0, Err("a nested builder thread panicked".into()))]
                    })
                })
                .collect()
        });
        let mut all: Vec<(usize, Result<ArrayData, String>)> = done.into_iter().flatten().collect();
        all.sort_by_key(|(k, _)| *k);
        all.into_iter().map(|(_, made)| made).collect()
    };
    batches
        .into_iter()
        .map(|data| Ok(ArrowBatch::new(data?, Some(plan.schema.clone()))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::whole_spans;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{
        DurationNanosecondType, Float32Type, Int32Type, Int64Type, TimestampNanosecondType,
        UInt32Type,
    };
    use arrow_array::{Array, StructArray};

    fn varint(mut value: u64) -> Vec<u8> {
        let mut out = Vec::new();
        while value >= 0x80 {
            out.push((value as u8 & 0x7f) | 0x80);
            value >>= 7;
        }
        out.push(value as u8);
        out
    }

    fn tag(number: u32, wire: u8) -> Vec<u8> {
        varint(u64::from(number << 3 | u32::from(wire)))
    }

    /// A varint field.
    fn vi(number: u32, value: u64) -> Vec<u8> {
        [tag(number, 0), varint(value)].concat()
    }

    /// A length-delimited field.
    fn ld(number: u32, payload: &[u8]) -> Vec<u8> {
        [
            tag(number, 2),
            varint(payload.len() as u64),
            payload.to_vec(),
        ]
        .concat()
    }

    fn slot(number: u32, name: &str, kind: &str, shape: &str, child: i64) -> PySlot {
        let key = if shape == "map" { "string" } else { "" };
        (
            number,
            name.into(),
            kind.into(),
            shape.into(),
            child,
            key.into(),
            -1,
            Vec::new(),
        )
    }

    fn test_plan() -> NestedPlan {
        let mut a = slot(6, "a", "string", "optional", -1);
        a.6 = 0;
        let mut b = slot(7, "b", "message", "optional", 2);
        b.6 = 0;
        let mut e = slot(14, "e", "enum", "single", -1);
        e.7 = vec![
            ("protobuf.enum".into(), "t.E".into()),
            ("protobuf.enum_values".into(), r#"{"0":"A"}"#.into()),
        ];
        let root = vec![
            slot(1, "i32", "int32", "single", -1),
            slot(2, "s", "string", "optional", -1),
            slot(3, "child", "message", "optional", 1),
            slot(4, "zz", "sint64", "repeated", -1),
            slot(5, "m", "int64", "map", -1),
            a,
            b,
            slot(8, "ts", "timestamp", "optional", -1),
            slot(9, "d", "duration", "optional", -1),
            slot(10, "cut", "cut", "repeated", -1),
            slot(11, "w", "wrapper:int64", "optional", -1),
            slot(12, "f", "float", "single", -1),
            slot(13, "u32", "uint32", "single", -1),
            e,
            slot(15, "kids", "message", "map", 3),
            slot(16, "times", "timestamp", "map", -1),
        ];
        let child = vec![
            slot(1, "x", "int64", "single", -1),
            slot(2, "y", "string", "single", -1),
        ];
        let b_node = vec![slot(1, "v", "int32", "single", -1)];
        let kid = vec![slot(1, "n", "int32", "single", -1)];
        NestedPlan::from_python(vec![
            ("t.M".into(), root),
            ("t.Child".into(), child),
            ("t.B".into(), b_node),
            ("t.Kid".into(), kid),
        ])
        .unwrap()
    }

    fn read(plan: &NestedPlan, records: &[Vec<u8>]) -> StructArray {
        let buffers: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
        let spans = whole_spans(records.iter().map(Vec::len));
        let batches = build(plan, &buffers, &spans, 1).unwrap();
        assert_eq!(batches.len(), 1);
        let data = batches.into_iter().next().unwrap().into_data();
        data.validate_full().unwrap();
        StructArray::from(data)
    }

    fn column<'a>(array: &'a StructArray, name: &str) -> &'a dyn Array {
        array.column_by_name(name).unwrap().as_ref()
    }

    fn rest(array: &StructArray, row: usize) -> Option<Vec<u8>> {
        let rest = column(array, REST).as_binary::<i32>();
        rest.is_valid(row).then(|| rest.value(row).to_vec())
    }

    #[test]
    fn schema_follows_the_plan() {
        let plan = test_plan();
        let fields = plan.schema.fields();
        assert_eq!(fields.len(), 17);
        assert_eq!(fields[16].name(), REST);
        assert!(!fields[0].is_nullable() && fields[1].is_nullable());
        assert_eq!(
            fields[3].data_type(),
            &DataType::List(Arc::new(Field::new("item", DataType::Int64, false)))
        );
        let DataType::Map(entries, sorted) = fields[4].data_type() else {
            panic!("not a map")
        };
        assert!(!sorted && !entries.is_nullable() && entries.name() == "entries");
        assert_eq!(fields[13].metadata()["protobuf.enum"], "t.E");
        assert_eq!(
            plan.schema.metadata()["protobuf.message"],
            "t.M".to_string()
        );
        let DataType::Struct(child) = fields[2].data_type() else {
            panic!("not a struct")
        };
        assert_eq!(child.len(), 3);
        assert!(!plan.nodes[3].nullable && plan.nodes[1].nullable);
    }

    #[test]
    fn last_scalar_wins_in_its_own_bits() {
        let plan = test_plan();
        let record = [
            vi(1, 5),
            vi(1, (1 << 32) + 7), // int32: the low 32 bits
            vi(13, (1 << 32) + 9),
            [tag(12, 5), 1.5f32.to_le_bytes().to_vec()].concat(),
            ld(2, b"first"),
            ld(2, b"last"),
            vi(14, 99), // an enum number with no name is kept
        ]
        .concat();
        let minus_one = vi(1, u64::MAX); // a negative int32, written in 10 bytes
        let array = read(&plan, &[record, minus_one, Vec::new()]);
        let i32s = column(&array, "i32").as_primitive::<Int32Type>();
        assert_eq!((i32s.value(0), i32s.value(1), i32s.value(2)), (7, -1, 0));
        assert_eq!(
            column(&array, "u32").as_primitive::<UInt32Type>().value(0),
            9
        );
        assert_eq!(
            column(&array, "f").as_primitive::<Float32Type>().value(0),
            1.5
        );
        let s = column(&array, "s").as_string::<i32>();
        assert_eq!(s.value(0), "last");
        assert!(s.is_null(1) && s.is_null(2));
        assert_eq!(column(&array, "e").as_primitive::<Int32Type>().value(0), 99);
        assert!(rest(&array, 0).is_none());
    }

    #[test]
    fn unknown_fields_and_wrong_wire_types_go_to_rest_in_order() {
        let plan = test_plan();
        let unknown = vi(99, 1);
        let wrong = ld(1, b"x"); // int32 as length-delimited
        let group = [tag(50, 3), vi(1, 2), tag(50, 4)].concat();
        let child_unknown = vi(7, 3);
        let record = [
            unknown.clone(),
            vi(1, 4),
            wrong.clone(),
            ld(3, &[vi(1, 8), child_unknown.clone()].concat()),
            group.clone(),
        ]
        .concat();
        let array = read(&plan, &[record]);
        assert_eq!(rest(&array, 0), Some([unknown, wrong, group].concat()));
        assert_eq!(
            column(&array, "i32").as_primitive::<Int32Type>().value(0),
            4
        );
        let child = column(&array, "child").as_struct();
        assert_eq!(rest(child, 0), Some(child_unknown));
    }

    #[test]
    fn sub_messages_merge_and_absent_ones_are_null_with_defaults() {
        let plan = test_plan();
        let split = [ld(3, &vi(1, 8)), ld(3, &ld(2, b"y")), ld(3, &vi(1, 9))].concat();
        let array = read(&plan, &[split, Vec::new(), ld(3, &[])]);
        let child = column(&array, "child").as_struct();
        assert!(child.is_valid(0) && child.is_null(1) && child.is_valid(2));
        let x = column(child, "x").as_primitive::<Int64Type>();
        let y = column(child, "y").as_string::<i32>();
        assert_eq!((x.value(0), y.value(0)), (9, "y"));
        assert_eq!((x.value(1), y.value(1), x.value(2)), (0, "", 0));
        assert!(x.nulls().is_none() && y.nulls().is_none());
    }

    #[test]
    fn oneof_is_the_member_that_came_last() {
        let plan = test_plan();
        // b (v=1), a, b (v=2): only what came of b after the switch
        let record = [ld(7, &vi(1, 1)), ld(6, b"a"), ld(7, &ld(9, b"z"))].concat();
        let back = [ld(7, &vi(1, 1)), ld(6, b"a")].concat();
        let array = read(&plan, &[record, back]);
        let a = column(&array, "a").as_string::<i32>();
        let b = column(&array, "b").as_struct();
        assert!(a.is_null(0) && b.is_valid(0));
        assert_eq!(column(b, "v").as_primitive::<Int32Type>().value(0), 0);
        assert_eq!(rest(b, 0), Some(ld(9, b"z")));
        assert!(rest(&array, 0).is_none());
        assert!(b.is_null(1) && a.value(1) == "a");
    }

    #[test]
    fn repeated_scalars_packed_and_not() {
        let plan = test_plan();
        let packed = [varint(1), varint(4)].concat(); // zigzag: -1, 2
        let record = [vi(4, 3), ld(4, &packed), vi(4, 0)].concat();
        let array = read(&plan, &[Vec::new(), record]);
        let list = column(&array, "zz").as_list::<i32>();
        assert_eq!(list.value(0).len(), 0);
        let values = list.value(1);
        let values = values.as_primitive::<Int64Type>();
        assert_eq!(values.values().to_vec(), vec![-2, -1, 2, 0]);
    }

    #[test]
    fn maps_sorted_later_keys_win_foreign_entries_to_rest() {
        let plan = test_plan();
        let entry = |key: &[u8], value: u64| ld(5, &[ld(1, key), vi(2, value)].concat());
        let foreign = ld(5, &[ld(1, b"q"), vi(2, 1), vi(3, 1)].concat());
        let no_key = ld(5, &vi(2, 6));
        let record = [
            entry(b"b", 1),
            foreign.clone(),
            entry(b"a", 2),
            entry(b"b", 3),
            no_key,
        ]
        .concat();
        let array = read(&plan, &[record]);
        let map = column(&array, "m").as_map();
        let keys = map.keys().as_string::<i32>();
        let values = map.values().as_primitive::<Int64Type>();
        let got: Vec<(&str, i64)> = (0..keys.len())
            .map(|i| (keys.value(i), values.value(i)))
            .collect();
        assert_eq!(got, vec![("", 6), ("a", 2), ("b", 3)]);
        assert_eq!(rest(&array, 0), Some(foreign));
    }

    #[test]
    fn map_values_of_messages_merge_or_are_empty() {
        let plan = test_plan();
        let record = [
            ld(15, &[ld(1, b"k"), ld(2, &vi(1, 4)), ld(2, &[])].concat()),
            ld(15, &ld(1, b"j")),
        ]
        .concat();
        let array = read(&plan, &[record]);
        let map = column(&array, "kids").as_map();
        let values = map.values().as_struct();
        assert_eq!(values.len(), 2);
        assert!(values.nulls().is_none());
        let n = column(values, "n").as_primitive::<Int32Type>();
        assert_eq!((n.value(0), n.value(1)), (0, 4)); // "j" (no value: empty), then "k"
    }

    #[test]
    fn times_that_do_not_fit_fall_back_to_rest() {
        let plan = test_plan();
        let good_ts = ld(8, &[vi(1, 10), vi(2, 5)].concat());
        let negative_nanos = ld(8, &[vi(1, 10), vi(2, u64::MAX)].concat());
        let mixed_signs = ld(9, &[vi(1, 1), vi(2, u64::MAX)].concat()); // 1 s, -1 ns
        let negative = ld(9, &[vi(1, u64::MAX), vi(2, u64::MAX)].concat()); // -1 s, -1 ns
        let overflow = ld(8, &vi(1, 1 << 40));
        let extra = ld(11, &[vi(1, 3), vi(2, 1)].concat());
        let array = read(
            &plan,
            &[
                [good_ts, negative.clone()].concat(),
                [vi(1, 1), negative_nanos.clone(), mixed_signs.clone()].concat(),
                [overflow.clone(), extra.clone(), ld(11, &vi(1, 5))].concat(),
            ],
        );
        let ts = column(&array, "ts").as_primitive::<TimestampNanosecondType>();
        let d = column(&array, "d").as_primitive::<DurationNanosecondType>();
        let w = column(&array, "w").as_primitive::<Int64Type>();
        assert_eq!((ts.value(0), d.value(0)), (10_000_000_005, -1_000_000_001));
        assert!(ts.is_null(1) && d.is_null(1) && ts.is_null(2));
        assert_eq!(
            rest(&array, 1),
            Some([negative_nanos, mixed_signs].concat())
        );
        // the wrapper's occurrences merge: a field 2 in any of them sends them all to _rest
        assert!(w.is_null(2));
        assert_eq!(
            rest(&array, 2),
            Some([overflow, extra, ld(11, &vi(1, 5))].concat())
        );
        assert!(rest(&array, 0).is_none());
    }

    #[test]
    fn a_map_with_a_value_that_does_not_fit_goes_whole_to_rest() {
        let plan = test_plan();
        let entry = |key: &[u8], nanos: u64| ld(16, &[ld(1, key), ld(2, &vi(2, nanos))].concat());
        // the bad value is replaced by a later key, yet the map goes to _rest whole
        let record = [entry(b"k", u64::MAX), vi(1, 3), entry(b"k", 5)].concat();
        let good = [entry(b"b", 7), entry(b"a", 1)].concat();
        let array = read(&plan, &[record, good]);
        let map = column(&array, "times").as_map();
        assert_eq!(map.value_length(0), 0);
        assert_eq!(
            rest(&array, 0),
            Some([entry(b"k", u64::MAX), entry(b"k", 5)].concat())
        );
        assert_eq!(map.value_length(1), 2);
        let values = map.values().as_primitive::<TimestampNanosecondType>();
        assert_eq!((values.value(0), values.value(1)), (1, 7));
        assert!(rest(&array, 1).is_none());
    }

    #[test]
    fn cut_messages_are_their_bytes() {
        let plan = test_plan();
        let one = [vi(1, 1), ld(2, b"deep")].concat();
        let array = read(&plan, &[[ld(10, &one), ld(10, &[])].concat()]);
        let list = column(&array, "cut").as_list::<i32>();
        let items = list.value(0);
        let items = items.as_binary::<i32>();
        assert_eq!((items.value(0), items.value(1)), (one.as_slice(), &[][..]));
    }

    #[test]
    fn rows_split_over_threads_keep_their_order() {
        let plan = test_plan();
        let records: Vec<Vec<u8>> = (0..10_000u64)
            .map(|i| {
                if i % 3 == 0 {
                    ld(3, &vi(1, i))
                } else {
                    vi(1, i)
                }
            })
            .collect();
        let buffers: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
        let spans = whole_spans(records.iter().map(Vec::len));
        let batches = build(&plan, &buffers, &spans, 3).unwrap();
        assert_eq!(batches.len(), 3);
        let mut row = 0u64;
        for batch in batches {
            let array = StructArray::from(batch.into_data());
            let i32s = column(&array, "i32").as_primitive::<Int32Type>();
            let child = column(&array, "child").as_struct();
            let x = column(child, "x").as_primitive::<Int64Type>();
            for i in 0..array.len() {
                if row % 3 == 0 {
                    assert!(child.is_valid(i) && x.value(i) == row as i64);
                } else {
                    assert!(child.is_null(i) && i32s.value(i) == row as i32);
                }
                row += 1;
            }
        }
        assert_eq!(row, 10_000);
    }

    #[test]
    fn batches_are_cut_by_bytes_too() {
        let plan = test_plan();
        let records: Vec<Vec<u8>> = (0..7u8).map(|i| ld(2, &[b'a' + i; 10])).collect();
        let buffers: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
        let spans = whole_spans(records.iter().map(Vec::len));
        // 12 bytes a record, at most 30 bytes a batch: runs of two
        let batches = build_in(&plan, &buffers, &spans, 2, 30).unwrap();
        assert_eq!(
            batches.iter().map(ArrowBatch::len).collect::<Vec<_>>(),
            vec![2, 2, 2, 1]
        );
        let strings: Vec<String> = batches
            .into_iter()
            .flat_map(|b| {
                let array = StructArray::from(b.into_data());
                let s = column(&array, "s").as_string::<i32>().clone();
                (0..s.len()).map(move |i| s.value(i).to_string())
            })
            .collect();
        let expected: Vec<String> = (0..7u8)
            .map(|i| String::from_utf8(vec![b'a' + i; 10]).unwrap())
            .collect();
        assert_eq!(strings, expected);
        assert_eq!(runs(&[], 5, 30), vec![0..0]);
    }

    #[test]
    fn plans_that_are_not_plans_are_refused() {
        let bad_child = vec![("t.M".into(), vec![slot(1, "c", "message", "optional", 0)])];
        assert!(NestedPlan::from_python(bad_child).is_err());
        let bad_kind = vec![("t.M".into(), vec![slot(1, "c", "int128", "single", -1)])];
        assert!(NestedPlan::from_python(bad_kind).is_err());
        let mut far = slot(1, "c", "int32", "optional", -1);
        far.6 = 1 << 40;
        assert!(NestedPlan::from_python(vec![("t.M".into(), vec![far])]).is_err());
        assert!(NestedPlan::from_python(Vec::new()).is_err());
    }
}
