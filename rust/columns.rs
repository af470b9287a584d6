//! Columns of a batch, built from the record bytes: the native half of `Batch.to_arrow()`.
//!
//! The columns come from Python (`flytecodec.columns`, resolved there): each is a path of field numbers
//! from the record's message and what its leaf holds. They are merged into a [`Node`] tree, so each record
//! is walked once per message on the paths, however many columns read from it. Reading follows protobuf's
//! merge rules as upb applies them (see `records`): the last occurrence of a scalar wins, a sub-message's
//! occurrences merge, a oneof member clears the others, an occurrence with the wrong wire type is unknown.
//! Values are written to arrow-rs builders; no Python object is made per record.

use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, DurationMicrosecondBuilder, Int32Builder, Int64Builder,
    ListBuilder, MapBuilder, MapFieldNames, StringBuilder, TimestampMicrosecondBuilder,
    UInt32Builder, UInt64Builder,
};
use arrow_array::types::Int32Type;
use arrow_array::{ArrayRef, DictionaryArray, RecordBatch, RecordBatchOptions, StringArray};
use arrow_schema::{Field, Schema as ArrowSchema};

use crate::messages::{Kind, Schema};
use crate::values::signed;
use crate::wire::{walk, well_known_fields};

/// What a column's leaf field holds, and so its Arrow type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Leaf {
    String,
    Int32,
    Int64,
    UInt32,
    UInt64,
    Bool,
    /// An enum as its name: the enum's value numbers in declaration order (a number's position is its
    /// dictionary index) and their names.
    Enum(Vec<i32>, Vec<String>),
    EnumNumber,
    Timestamp(OutOfRange),
    Duration(OutOfRange),
    BoolWrapper,
    /// A `map<string, string>` field.
    Map,
    /// A repeated string field.
    List,
}

impl Leaf {
    pub fn parse(kind: &str, numbers: Vec<i32>, names: Vec<String>) -> Result<Leaf, String> {
        Ok(match kind {
            "string" => Leaf::String,
            "int32" => Leaf::Int32,
            "int64" => Leaf::Int64,
            "uint32" => Leaf::UInt32,
            "uint64" => Leaf::UInt64,
            "bool" => Leaf::Bool,
            "enum" if numbers.len() == names.len() => Leaf::Enum(numbers, names),
            "enum" => return Err("an enum column needs one name per number".into()),
            "enum_number" => Leaf::EnumNumber,
            "timestamp" => Leaf::Timestamp(OutOfRange::Raise),
            "timestamp_or_null" => Leaf::Timestamp(OutOfRange::Null),
            "duration" => Leaf::Duration(OutOfRange::Raise),
            "duration_or_null" => Leaf::Duration(OutOfRange::Null),
            "bool_wrapper" => Leaf::BoolWrapper,
            "map" => Leaf::Map,
            "list" => Leaf::List,
            other => return Err(format!("unknown column kind {other:?}")),
        })
    }

    /// Whether a field of this kind (and repeatedness) can be read as this leaf.
    fn fits(&self, kind: Kind, repeated: bool, schema: &Schema) -> bool {
        let message_named = |name: &str| schema.is_message(kind, name);
        match self {
            Leaf::Map => repeated && matches!(kind, Kind::Message(_)),
            Leaf::List => repeated && kind == Kind::String,
            _ if repeated => false,
            Leaf::String => kind == Kind::String,
            Leaf::Int32 => matches!(kind, Kind::Int32 | Kind::SInt32 | Kind::SFixed32),
            Leaf::Int64 => matches!(kind, Kind::Int64 | Kind::SInt64 | Kind::SFixed64),
            Leaf::UInt32 => matches!(kind, Kind::UInt32 | Kind::Fixed32),
            Leaf::UInt64 => matches!(kind, Kind::UInt64 | Kind::Fixed64),
            Leaf::Bool => kind == Kind::Bool,
            Leaf::Enum(..) | Leaf::EnumNumber => kind == Kind::Enum,
            Leaf::Timestamp(_) => message_named("google.protobuf.Timestamp"),
            Leaf::Duration(_) => message_named("google.protobuf.Duration"),
            Leaf::BoolWrapper => message_named("google.protobuf.BoolValue"),
        }
    }
}

/// What a Timestamp or Duration column does with a value outside Arrow's int64 microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutOfRange {
    /// Fail the table, naming the record and column.
    Raise,
    /// Give null.
    Null,
}

/// One column: its name, its path of field numbers and its leaf.
#[derive(Clone, Debug)]
pub struct ColumnSpec {
    pub name: String,
    pub path: Vec<u32>,
    pub leaf: Leaf,
}

/// A field of a message that some column reads: a message on a path, or the leaf of columns.
#[derive(Debug)]
struct Child {
    /// Where this field's occurrences are gathered in a record's scratch space.
    id: usize,
    number: u32,
    wire: u8,
    kind: Kind,
    oneof: Option<usize>,
    target: Target,
}

#[derive(Debug)]
enum Target {
    Node(Node),
    /// The columns (indexes) whose leaf is this field.
    Leaves(Vec<usize>),
}

/// A message on the columns' paths: the fields read from it, and the oneofs of all its fields.
#[derive(Debug, Default)]
struct Node {
    children: Vec<Child>,
    /// Every column under this node (all null when its message is not set).
    columns: Vec<usize>,
    /// For each field number up to the highest one that matters here: the child reading it and the
    /// oneof it is in (with its wire type), if any.
    slots: Vec<Slot>,
}

#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    child: Option<usize>,
    oneof: Option<(usize, u8)>,
}

/// The columns of a batch of one message, merged into a tree of the messages they read.
#[derive(Debug)]
pub struct Plan {
    columns: Vec<ColumnSpec>,
    root: Node,
    /// How many fields the tree reads (the size of a record's scratch space).
    fields: usize,
}

/// Per-thread space reused from record to record: each field's occurrences in a record, the record's
/// parts, and a map column's entries.
pub struct Scratch {
    found: Vec<Vec<Occurrence>>,
    parts: Vec<Occurrence>,
    entries: Vec<Entry>,
}

impl Plan {
    pub fn new(schema: &Schema, message: usize, columns: Vec<ColumnSpec>) -> Result<Plan, String> {
        let mut root = Node::default();
        for (index, column) in columns.iter().enumerate() {
            root.add(schema, message, column, 0, index)?;
        }
        let mut fields = 0;
        root.index(schema, message, &mut fields);
        Ok(Plan {
            columns,
            root,
            fields,
        })
    }

    pub fn scratch(&self) -> Scratch {
        Scratch {
            found: vec![Vec::new(); self.fields],
            parts: Vec::new(),
            entries: Vec::new(),
        }
    }

    /// Builders for `rows` records, one per column.
    pub fn builders(&self, rows: usize) -> Vec<Builder> {
        self.columns
            .iter()
            .map(|c| Builder::new(&c.leaf, rows))
            .collect()
    }

    /// Append one record (its bytes, in one or more parts of `buffer`) to `builders`; `row` names it in errors.
    pub fn append(
        &self,
        buffer: &[u8],
        parts: &[(usize, usize)],
        builders: &mut [Builder],
        scratch: &mut Scratch,
        row: usize,
    ) -> Result<(), String> {
        let mut reader = Reader {
            buffer,
            columns: &self.columns,
            row,
            entries: &mut scratch.entries,
        };
        scratch.parts.clear();
        scratch
            .parts
            .extend(parts.iter().map(|&(start, end)| (start, end, 0)));
        reader.node(&self.root, &scratch.parts, builders, &mut scratch.found)
    }

    /// The columns of `rows` records as a record batch (which keeps its row count with no column).
    pub fn finish(&self, builders: Vec<Builder>, rows: usize) -> Result<RecordBatch, String> {
        let mut fields = Vec::with_capacity(builders.len());
        let mut arrays = Vec::with_capacity(builders.len());
        for (column, builder) in self.columns.iter().zip(builders) {
            let array = builder
                .finish(&column.leaf)
                .map_err(|e| format!("column {}: {e}", column.name))?;
            fields.push(Field::new(&column.name, array.data_type().clone(), true));
            arrays.push(array);
        }
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        RecordBatch::try_new_with_options(Arc::new(ArrowSchema::new(fields)), arrays, &options)
            .map_err(|e| e.to_string())
    }
}

impl Node {
    fn add(
        &mut self,
        schema: &Schema,
        message: usize,
        column: &ColumnSpec,
        depth: usize,
        index: usize,
    ) -> Result<(), String> {
        let def = &schema.messages[message];
        let number = column.path[depth];
        let field = def.field(number).ok_or_else(|| {
            format!(
                "column {}: {} has no field {number}",
                column.name, def.full_name
            )
        })?;
        let leaf = depth + 1 == column.path.len();
        if leaf && !column.leaf.fits(field.kind, field.repeated, schema) {
            return Err(format!(
                "column {}: {}.{} cannot be read as {:?}",
                column.name, def.full_name, field.name, column.leaf
            ));
        }
        let position = match self.children.iter().position(|c| c.number == number) {
            Some(p) => p,
            None => {
                let target = if leaf {
                    Target::Leaves(Vec::new())
                } else {
                    Target::Node(Node::default())
                };
                self.children.push(Child {
                    id: 0,
                    number,
                    wire: if field.repeated || !leaf {
                        2
                    } else {
                        field.kind.wire_type()
                    },
                    kind: field.kind,
                    oneof: field.oneof,
                    target,
                });
                self.children.len() - 1
            }
        };
        match (&mut self.children[position].target, field.kind) {
            (Target::Leaves(columns), _) if leaf => {
                columns.push(index);
                Ok(())
            }
            (Target::Node(node), Kind::Message(sub)) if !leaf && !field.repeated => {
                node.add(schema, sub, column, depth + 1, index)
            }
            _ => Err(format!(
                "column {}: {}.{} is read both as a leaf and as a message on a path, or is repeated",
                column.name, def.full_name, field.name
            )),
        }
    }

    /// Fill in the slots, field ids and column lists of this node and those below it (`message` is this
    /// node's message; `fields` counts the field ids given out).
    fn index(&mut self, schema: &Schema, message: usize, fields: &mut usize) {
        let def = &schema.messages[message];
        let mut top = self.children.iter().map(|c| c.number).max().unwrap_or(0);
        for child in &self.children {
            if let Some(oneof) = child.oneof {
                top = top.max(def.oneofs[oneof].iter().copied().max().unwrap_or(0));
            }
        }
        self.slots = vec![Slot::default(); top as usize + 1];
        for (i, child) in self.children.iter().enumerate() {
            self.slots[child.number as usize].child = Some(i);
            if let Some(oneof) = child.oneof {
                for &member in &def.oneofs[oneof] {
                    if let Some(field) = def.field(member) {
                        self.slots[member as usize].oneof = Some((oneof, field.kind.wire_type()));
                    }
                }
            }
        }
        let mut columns = Vec::new();
        for child in &mut self.children {
            child.id = *fields;
            *fields += 1;
            match (&mut child.target, child.kind) {
                (Target::Node(node), Kind::Message(sub)) => {
                    node.index(schema, sub, fields);
                    columns.extend_from_slice(&node.columns);
                }
                (Target::Node(_), _) => {}
                (Target::Leaves(leaves), _) => columns.extend_from_slice(leaves),
            }
        }
        self.columns = columns;
    }
}

/// One occurrence of a field: its value's span in the buffer and, for a varint or fixed value, its bits.
type Occurrence = (usize, usize, u64);

/// A map entry's key and value spans in the buffer.
type Entry = ((usize, usize), (usize, usize));

struct Reader<'a> {
    buffer: &'a [u8],
    columns: &'a [ColumnSpec],
    row: usize,
    entries: &'a mut Vec<Entry>,
}

impl Reader<'_> {
    /// Read the columns under `node` from the message made of `parts` (the occurrences of its field;
    /// none: the message is not set).
    fn node(
        &mut self,
        node: &Node,
        parts: &[Occurrence],
        builders: &mut [Builder],
        found: &mut [Vec<Occurrence>],
    ) -> Result<(), String> {
        if parts.is_empty() {
            for &column in &node.columns {
                builders[column].null();
            }
            return Ok(());
        }
        for child in &node.children {
            found[child.id].clear();
        }
        for &(start, end, _) in parts {
            let part = &self.buffer[start..end];
            walk(part, |number, wire, s, e, raw| {
                let Some(slot) = node.slots.get(number as usize) else {
                    return;
                };
                if let Some((oneof, oneof_wire)) = slot.oneof {
                    if wire == oneof_wire {
                        for child in &node.children {
                            if child.oneof == Some(oneof) && child.number != number {
                                found[child.id].clear();
                            }
                        }
                    }
                }
                if let Some(i) = slot.child {
                    let child = &node.children[i];
                    if child.wire == wire {
                        found[child.id].push((start + s, start + e, raw));
                    }
                }
            })
            .map_err(|e| format!("record {}: {}", self.row, e.reason))?;
        }
        for child in &node.children {
            match &child.target {
                Target::Node(sub) => {
                    // the sub-node's fields have ids of their own, so this list is left alone meanwhile
                    let occurrences = std::mem::take(&mut found[child.id]);
                    let result = self.node(sub, &occurrences, builders, found);
                    found[child.id] = occurrences;
                    result?;
                }
                Target::Leaves(columns) => {
                    for &column in columns {
                        self.leaf(column, child.kind, &found[child.id], &mut builders[column])?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Append column `column`'s value, read from the occurrences of its field in a message that is set.
    fn leaf(
        &mut self,
        column: usize,
        kind: Kind,
        found: &[Occurrence],
        builder: &mut Builder,
    ) -> Result<(), String> {
        let last = found.last().copied();
        let raw = last.map_or(0, |(_, _, raw)| raw);
        match builder {
            Builder::String(b) => match last {
                Some((s, e, _)) if s < e => b.append_value(&self.buffer[s..e]),
                _ => b.append_null(),
            },
            Builder::Int32(b) => b.append_value(signed(kind, raw) as i32),
            Builder::Int64(b) => b.append_value(signed(kind, raw)),
            Builder::UInt32(b) => b.append_value(raw as u32),
            Builder::UInt64(b) => b.append_value(raw),
            Builder::Bool(b) => b.append_value(raw != 0),
            Builder::Enum(b, numbers) => {
                let number = raw as i32;
                b.append_option(numbers.iter().position(|&n| n == number).map(|p| p as i32));
            }
            Builder::Timestamp(b, range) => b.append_option(self.micros(column, found, *range)?),
            Builder::Duration(b, range) => b.append_option(self.micros(column, found, *range)?),
            Builder::BoolWrapper(b) => {
                if found.is_empty() {
                    b.append_null();
                } else {
                    let (value, _) = self.pair(found)?;
                    b.append_value(value != 0);
                }
            }
            Builder::Map(b) => {
                self.entries.clear();
                for &(s, e, _) in found {
                    if let Some(entry) = self.entry(s, e)? {
                        self.entries.push(entry);
                    }
                }
                if self.entries.is_empty() {
                    b.append(false).map_err(|e| e.to_string())?;
                } else {
                    let buffer = self.buffer;
                    let key = |entry: &Entry| &buffer[entry.0 .0..entry.0 .1];
                    // sorted by key; of equal keys, the last one wins (as in a parsed map)
                    if !self.entries.is_sorted_by(|a, b| key(a) < key(b)) {
                        self.entries.sort_by(|a, b| key(a).cmp(key(b)));
                    }
                    for (i, entry) in self.entries.iter().enumerate() {
                        if self
                            .entries
                            .get(i + 1)
                            .is_some_and(|next| key(next) == key(entry))
                        {
                            continue;
                        }
                        b.keys().append_value(self.text(entry.0)?);
                        b.values().append_value(self.text(entry.1)?);
                    }
                    b.append(true).map_err(|e| e.to_string())?;
                }
            }
            Builder::List(b) => {
                if found.is_empty() {
                    b.append_null();
                } else {
                    for &(s, e, _) in found {
                        b.values().append_value(self.text((s, e))?);
                    }
                    b.append(true);
                }
            }
        }
        Ok(())
    }

    fn text(&self, (start, end): (usize, usize)) -> Result<&str, String> {
        simdutf8::basic::from_utf8(&self.buffer[start..end])
            .map_err(|_| format!("record {}: invalid UTF-8 in a string field", self.row))
    }

    /// Fields 1 and 2 of a (merged) Timestamp, Duration or BoolValue message: varints all three.
    fn pair(&self, found: &[Occurrence]) -> Result<(u64, u64), String> {
        let parts = found.iter().map(|&(s, e, _)| (s, e));
        let (first, second, _) = well_known_fields(self.buffer, parts, 0)
            .map_err(|e| format!("record {}: {}", self.row, e.reason))?;
        Ok((first, second))
    }

    /// A Timestamp's or Duration's whole microseconds (nanoseconds cut toward zero); `None` when not set,
    /// or when outside Arrow's int64 range and `range` says null.
    fn micros(
        &self,
        column: usize,
        found: &[Occurrence],
        range: OutOfRange,
    ) -> Result<Option<i64>, String> {
        if found.is_empty() {
            return Ok(None);
        }
        let (seconds, nanos) = self.pair(found)?;
        let micros = i128::from(seconds as i64) * 1_000_000 + i128::from(nanos as i32 / 1000);
        match (i64::try_from(micros), range) {
            (Ok(micros), _) => Ok(Some(micros)),
            (Err(_), OutOfRange::Null) => Ok(None),
            (Err(_), OutOfRange::Raise) => Err(format!(
                "record {}: column {}: {micros} µs is outside Arrow's int64 range",
                self.row, self.columns[column].name
            )),
        }
    }

    /// The key's and value's spans of a map entry (last occurrence winning; empty when absent). An entry
    /// with any other field is not in the map: upb keeps it, whole, as an unknown field of the message
    /// instead.
    fn entry(&self, start: usize, end: usize) -> Result<Option<Entry>, String> {
        let part = &self.buffer[start..end];
        let (mut key, mut value, mut unknown) = ((0, 0), (0, 0), false);
        walk(part, |number, wire, s, e, _| match (number, wire) {
            (1, 2) => key = (start + s, start + e),
            (2, 2) => value = (start + s, start + e),
            _ => unknown = true,
        })
        .map_err(|e| format!("record {}: {}", self.row, e.reason))?;
        Ok((!unknown).then_some((key, value)))
    }
}

/// A column being built, with what its leaf needs to read a value (so appending matches on it alone).
pub enum Builder {
    /// A string column's bytes, checked as UTF-8 all at once when finished.
    String(BinaryBuilder),
    /// An int32 column, or an enum column's numbers.
    Int32(Int32Builder),
    Int64(Int64Builder),
    UInt32(UInt32Builder),
    UInt64(UInt64Builder),
    Bool(BooleanBuilder),
    BoolWrapper(BooleanBuilder),
    /// An enum column's dictionary indexes, and the enum's value numbers in declaration order.
    Enum(Int32Builder, Vec<i32>),
    Timestamp(TimestampMicrosecondBuilder, OutOfRange),
    Duration(DurationMicrosecondBuilder, OutOfRange),
    Map(MapBuilder<StringBuilder, StringBuilder>),
    List(ListBuilder<StringBuilder>),
}

impl Builder {
    fn new(leaf: &Leaf, rows: usize) -> Builder {
        match leaf {
            Leaf::String => Builder::String(BinaryBuilder::with_capacity(rows, rows * 16)),
            Leaf::Int32 | Leaf::EnumNumber => Builder::Int32(Int32Builder::with_capacity(rows)),
            Leaf::Int64 => Builder::Int64(Int64Builder::with_capacity(rows)),
            Leaf::UInt32 => Builder::UInt32(UInt32Builder::with_capacity(rows)),
            Leaf::UInt64 => Builder::UInt64(UInt64Builder::with_capacity(rows)),
            Leaf::Bool => Builder::Bool(BooleanBuilder::with_capacity(rows)),
            Leaf::BoolWrapper => Builder::BoolWrapper(BooleanBuilder::with_capacity(rows)),
            Leaf::Enum(numbers, _) => {
                Builder::Enum(Int32Builder::with_capacity(rows), numbers.clone())
            }
            Leaf::Timestamp(range) => Builder::Timestamp(
                TimestampMicrosecondBuilder::with_capacity(rows).with_timezone("UTC"),
                *range,
            ),
            Leaf::Duration(range) => {
                Builder::Duration(DurationMicrosecondBuilder::with_capacity(rows), *range)
            }
            Leaf::Map => Builder::Map(MapBuilder::new(
                Some(MapFieldNames {
                    entry: "entries".into(),
                    key: "key".into(),
                    value: "value".into(),
                }),
                StringBuilder::new(),
                StringBuilder::new(),
            )),
            Leaf::List => Builder::List(ListBuilder::new(StringBuilder::new())),
        }
    }

    /// Append a null: the message holding the column's field is not set.
    fn null(&mut self) {
        match self {
            Builder::String(b) => b.append_null(),
            Builder::Int32(b) | Builder::Enum(b, _) => b.append_null(),
            Builder::Int64(b) => b.append_null(),
            Builder::UInt32(b) => b.append_null(),
            Builder::UInt64(b) => b.append_null(),
            Builder::Bool(b) | Builder::BoolWrapper(b) => b.append_null(),
            Builder::Timestamp(b, _) => b.append_null(),
            Builder::Duration(b, _) => b.append_null(),
            Builder::Map(b) => {
                // appending an empty, invalid entry list cannot fail: keys and values are in step
                let _ = b.append(false);
            }
            Builder::List(b) => b.append_null(),
        }
    }

    fn finish(self, leaf: &Leaf) -> Result<ArrayRef, String> {
        Ok(match self {
            Builder::String(mut b) => {
                let (offsets, values, nulls) = b.finish().into_parts();
                Arc::new(
                    StringArray::try_new(offsets, values, nulls)
                        .map_err(|_| "invalid UTF-8 in a string field".to_string())?,
                )
            }
            Builder::Int32(mut b) => Arc::new(b.finish()),
            Builder::Int64(mut b) => Arc::new(b.finish()),
            Builder::UInt32(mut b) => Arc::new(b.finish()),
            Builder::UInt64(mut b) => Arc::new(b.finish()),
            Builder::Bool(mut b) | Builder::BoolWrapper(mut b) => Arc::new(b.finish()),
            Builder::Timestamp(mut b, _) => Arc::new(b.finish()),
            Builder::Duration(mut b, _) => Arc::new(b.finish()),
            Builder::Map(mut b) => Arc::new(b.finish()),
            Builder::List(mut b) => Arc::new(b.finish()),
            Builder::Enum(mut b, _) => {
                let Leaf::Enum(_, names) = leaf else {
                    return Err("an enum builder for a column that is not an enum".into());
                };
                let values: ArrayRef = Arc::new(StringArray::from_iter_values(names));
                Arc::new(
                    DictionaryArray::<Int32Type>::try_new(b.finish(), values)
                        .map_err(|e| e.to_string())?,
                )
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::schema;
    use arrow_array::{Array, Int32Array, StringArray, TimestampMicrosecondArray};

    fn ld(number: u32, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![(number << 3 | 2) as u8, payload.len() as u8];
        out.extend_from_slice(payload);
        out
    }

    fn closure_plan(columns: Vec<(&str, Vec<u32>, Leaf)>) -> Plan {
        let s = schema();
        let root = s.find("flyteidl.admin.ExecutionClosure").unwrap();
        let specs = columns
            .into_iter()
            .map(|(name, path, leaf)| ColumnSpec {
                name: name.into(),
                path,
                leaf,
            })
            .collect();
        Plan::new(s, root, specs).unwrap()
    }

    fn table(plan: &Plan, records: &[Vec<u8>]) -> RecordBatch {
        let mut builders = plan.builders(records.len());
        let mut scratch = plan.scratch();
        for (row, record) in records.iter().enumerate() {
            plan.append(
                record,
                &[(0, record.len())],
                &mut builders,
                &mut scratch,
                row,
            )
            .unwrap();
        }
        plan.finish(builders, records.len()).unwrap()
    }

    #[test]
    fn oneof_members_clear_each_other_and_sub_messages_merge() {
        let plan = closure_plan(vec![
            ("error_code", vec![2, 1], Leaf::String),
            ("error_message", vec![2, 2], Leaf::String),
            ("abort_cause", vec![10], Leaf::String),
        ]);
        let error_then_abort = [ld(2, &ld(1, b"E")), ld(10, b"stop")].concat();
        let split_error = [ld(2, &ld(1, b"E")), ld(2, &ld(2, b"msg"))].concat();
        let batch = table(&plan, &[error_then_abort, split_error, Vec::new()]);
        let code = batch
            .column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        let message = batch
            .column(1)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        let abort = batch
            .column(2)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        assert!(code.is_null(0) && abort.value(0) == "stop");
        assert_eq!((code.value(1), message.value(1)), ("E", "msg"));
        assert!(abort.is_null(1) && code.is_null(2) && abort.is_null(2));
    }

    #[test]
    fn enums_times_and_their_nulls() {
        let plan = closure_plan(vec![
            (
                "phase",
                vec![4],
                Leaf::Enum(vec![0, 4], vec!["UNDEFINED".into(), "SUCCEEDED".into()]),
            ),
            ("phase_number", vec![4], Leaf::EnumNumber),
            ("started_at", vec![5], Leaf::Timestamp(OutOfRange::Raise)),
            ("created_at", vec![7], Leaf::Timestamp(OutOfRange::Null)),
        ]);
        // phase 4, then 7 (no name here); started_at 1 s + 1 999 ns (1 µs, the rest cut)
        // created_at 2^62 s: past Arrow's int64 µs, so null
        let huge = [0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40];
        let first = [
            vec![0x20, 4],
            ld(5, &[0x08, 1, 0x10, 0xcf, 0x0f]),
            ld(7, &huge),
        ]
        .concat();
        let batch = table(&plan, &[first.clone(), vec![0x20, 7]]);
        let phase = batch.column(0);
        let numbers = batch
            .column(1)
            .as_any()
            .downcast_ref::<Int32Array>()
            .unwrap();
        let started = batch
            .column(2)
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .unwrap();
        assert!(phase.is_valid(0) && phase.is_null(1));
        assert_eq!((numbers.value(0), numbers.value(1)), (4, 7));
        assert_eq!(started.value(0), 1_000_001);
        assert!(started.is_null(1));
        assert!(batch.column(3).is_null(0) && batch.column(3).is_null(1));
        let raising = closure_plan(vec![(
            "created_at",
            vec![7],
            Leaf::Timestamp(OutOfRange::Raise),
        )]);
        let mut builders = raising.builders(1);
        let error = raising
            .append(
                &first,
                &[(0, first.len())],
                &mut builders,
                &mut raising.scratch(),
                0,
            )
            .unwrap_err();
        assert!(error.contains("outside Arrow's int64 range"), "{error}");
    }

    #[test]
    fn columns_the_schema_does_not_have_are_refused() {
        let s = schema();
        let root = s.find("flyteidl.admin.ExecutionClosure").unwrap();
        let column = |path: Vec<u32>, leaf: Leaf| ColumnSpec {
            name: "x".into(),
            path,
            leaf,
        };
        assert!(Plan::new(s, root, vec![column(vec![99], Leaf::String)]).is_err());
        assert!(Plan::new(s, root, vec![column(vec![4], Leaf::String)]).is_err());
        assert!(Plan::new(s, root, vec![column(vec![10, 1], Leaf::String)]).is_err());
    }
}
