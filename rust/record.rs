//! One decoded record: a [`Record`] (the bytes of one message, possibly in several parts when a
//! sub-message was written in pieces: the source of one lazy model), and a [`NativeField`] (how to read
//! one field of a record into a Python value).
//!
//! Reading follows protobuf's merge rules, as upb applies them: the last occurrence of a scalar wins; the
//! occurrences of a sub-message merge (their bytes concatenate); setting one member of a oneof clears the
//! others; an occurrence with the wrong wire type is an unknown field.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};
use smallvec::{smallvec, SmallVec};
use std::cell::{Cell, RefCell};
use std::mem::MaybeUninit;

use crate::errors::message_index;
use crate::messages::{schema, Kind};
use crate::values;
use crate::wire::{little_endian, read_varint, walk, well_known_fields, CORRUPT};

/// What a field reads as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elem {
    Scalar,
    Timestamp,
    Naive,
    Duration,
    /// A `google.protobuf.*Value` wrapper holding a value of this kind.
    Wrapper(Kind),
    /// A sub-message, given back as its parts ([`Read::Message`]).
    Model,
}

/// What a field reads as when it is not set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Absent {
    /// The field's default value (an empty record for a sub-message).
    Never,
    /// `None`.
    Presence,
    /// `None` when the value is falsy (0, "", b"", False).
    Falsy,
}

/// How to read one singular field of a message.
pub struct NativeField {
    number: u32,
    kind: Kind,
    pub elem: Elem,
    absent: Absent,
    /// The other members of the field's oneof, with their wire types.
    rivals: Vec<(u32, u8)>,
    shape: Shape,
}

/// How many values a field holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    Single,
    /// Read as a list (of values, or of sub-messages).
    Repeated,
    /// Read as a dict with string keys; `kind` is then the value's kind.
    Map,
}

impl NativeField {
    /// `message`: the proto full name; `shape`: single, repeated or map; `elem`: scalar, timestamp, naive,
    /// duration, wrapper or model (only scalar or model for a list or a map's values); `absent`: never,
    /// presence or falsy.
    pub fn new(
        message: &str,
        number: u32,
        shape: &str,
        elem: &str,
        absent: &str,
    ) -> PyResult<Self> {
        let s = schema();
        let def = &s.messages[message_index(message)?];
        let field = def
            .field(number)
            .ok_or_else(|| PyValueError::new_err(format!("{message} has no field {number}")))?;
        let named = &field.name;
        let (shape, kind) = match (shape, field.repeated, field.kind) {
            ("single", false, kind) => (Shape::Single, kind),
            ("repeated", true, kind) => (Shape::Repeated, kind),
            ("map", true, Kind::Message(entry)) => {
                // a map is a repeated entry message: key field 1, value field 2
                let def = &s.messages[entry];
                match (def.field(1), def.field(2)) {
                    (Some(key), Some(value)) if key.kind == Kind::String => {
                        (Shape::Map, value.kind)
                    }
                    _ => {
                        return Err(PyValueError::new_err(format!(
                            "{message}.{named} is not a map with string keys"
                        )))
                    }
                }
            }
            (other, _, _) => {
                return Err(PyValueError::new_err(format!(
                    "{message}.{named} is not a {other} field"
                )))
            }
        };
        if shape != Shape::Single && !matches!(elem, "scalar" | "model") {
            return Err(PyValueError::new_err(format!(
                "{message}.{named} holds several values: read them as scalar or model elements"
            )));
        }
        let message_named = |expected: &str| s.is_message(kind, expected);
        let elem = match elem {
            "scalar" if !matches!(kind, Kind::Message(_) | Kind::Group) => Elem::Scalar,
            "timestamp" if message_named("google.protobuf.Timestamp") => Elem::Timestamp,
            "naive" if message_named("google.protobuf.Timestamp") => Elem::Naive,
            "duration" if message_named("google.protobuf.Duration") => Elem::Duration,
            "wrapper" => match kind {
                Kind::Message(i) => match s.messages[i].field(1) {
                    Some(value) if s.messages[i].full_name.starts_with("google.protobuf.") => {
                        Elem::Wrapper(value.kind)
                    }
                    _ => return Err(PyValueError::new_err("not a wrapper message")),
                },
                _ => return Err(PyValueError::new_err("not a wrapper message")),
            },
            "model" if matches!(kind, Kind::Message(_)) => Elem::Model,
            other => {
                return Err(PyValueError::new_err(format!(
                    "{message}.{} cannot be read as {other}",
                    field.name
                )))
            }
        };
        let absent = match absent {
            "never" => Absent::Never,
            "presence" => Absent::Presence,
            "falsy" if elem == Elem::Scalar => Absent::Falsy,
            "falsy" => Absent::Presence, // a message is falsy exactly when it is not set
            other => {
                return Err(PyValueError::new_err(format!(
                    "unknown absent policy {other}"
                )))
            }
        };
        let rivals = match field.oneof {
            Some(oneof) => def.oneofs[oneof]
                .iter()
                .filter(|&&n| n != number)
                .filter_map(|&n| def.field(n).map(|f| (n, f.kind.wire_type())))
                .collect(),
            None => Vec::new(),
        };
        Ok(NativeField {
            number,
            kind,
            elem,
            absent,
            rivals,
            shape,
        })
    }

    /// Whether the field holds one value (not a list or a map).
    pub fn single(&self) -> bool {
        self.shape == Shape::Single
    }
}

/// One occurrence of a field: its value's span in the buffer and, for a varint or fixed value, its bits.
type Occurrence = (usize, usize, u64);

/// Field numbers below this are placed by an [`Index`] (those of a tag of one byte).
const INDEXED: usize = 16;

/// Where the fields of one message stand, found by one walk of its bytes (its first read), so that the
/// reads after it look their field up instead of walking the message again: for each number below
/// [`INDEXED`], whether it occurs, whether more than once, and its occurrence's wire type and value span.
/// A lookup answers only when the merge rules need no more than that (one occurrence of the field, its oneof
/// rivals placed too); otherwise the reader walks the bytes as without an index.
pub struct Index {
    /// Whether the walk was made.
    built: bool,
    /// Whether the walk failed or the buffer is too large for the spans: no lookup answers.
    unusable: bool,
    /// Whether a field numbered [`INDEXED`] or above occurs.
    beyond: bool,
    /// Bit `n`: field `n` occurs; occurs more than once.
    seen: u16,
    repeated: u16,
    /// Each number's wire type and value span in the buffer, written when its bit of `seen` is set (left
    /// unwritten otherwise, so that a model's index costs nothing until it is built).
    wires: [MaybeUninit<u8>; INDEXED],
    spans: [MaybeUninit<(u32, u32)>; INDEXED],
}

/// What an [`Index`] says of a field.
#[derive(Clone, Copy)]
pub enum Lookup {
    /// It cannot tell: walk the bytes.
    Unknown,
    /// The field is not set (no occurrence that counts).
    Absent,
    /// Its one occurrence that counts: the value's span.
    Found(usize, usize),
}

/// An index not built yet.
impl Default for Index {
    fn default() -> Self {
        Index {
            built: false,
            unusable: false,
            beyond: false,
            seen: 0,
            repeated: 0,
            wires: [MaybeUninit::uninit(); INDEXED],
            spans: [MaybeUninit::uninit(); INDEXED],
        }
    }
}

impl Index {
    /// Where `field` (a single field) of `record`, whose buffer is `bytes`, stands: the index is built by
    /// the first lookup.
    pub fn find(&mut self, record: &Record, bytes: &[u8], field: &NativeField) -> Lookup {
        if !self.built {
            self.build(record, bytes);
        }
        self.lookup(field)
    }

    /// Walk `record`'s fields in `bytes`, its buffer.
    fn build(&mut self, record: &Record, bytes: &[u8]) {
        self.built = true;
        if u32::try_from(bytes.len()).is_err() {
            self.unusable = true;
            return;
        }
        for &(start, end) in &record.parts {
            let walked = walk(&bytes[start..end], |number, wire, s, e, _| {
                let n = number as usize;
                if n >= INDEXED {
                    self.beyond = true;
                    return;
                }
                let bit = 1u16 << n;
                self.repeated |= self.seen & bit;
                self.seen |= bit;
                self.wires[n] = MaybeUninit::new(wire);
                // the buffer's length fits 32 bits (checked above)
                self.spans[n] = MaybeUninit::new(((start + s) as u32, (start + e) as u32));
            });
            if walked.is_err() {
                self.unusable = true;
            }
        }
    }

    /// Field `n`'s wire type and span (`n` below [`INDEXED`], its bit of `seen` set).
    fn at(&self, n: usize) -> (u8, u32, u32) {
        debug_assert!(self.seen & (1 << n) != 0);
        // SAFETY: `build` wrote both when it set the bit of `seen`.
        unsafe {
            let (start, end) = self.spans[n].assume_init();
            (self.wires[n].assume_init(), start, end)
        }
    }

    /// Where `field` (a single field) stands: its one occurrence that counts, not set, or unknown.
    fn lookup(&self, field: &NativeField) -> Lookup {
        let n = field.number as usize;
        if self.unusable {
            return Lookup::Unknown;
        }
        if n >= INDEXED {
            return if self.beyond {
                Lookup::Unknown
            } else {
                Lookup::Absent
            };
        }
        let bit = 1u16 << n;
        if self.seen & bit == 0 {
            return Lookup::Absent;
        }
        if self.repeated & bit != 0 {
            return Lookup::Unknown;
        }
        let (wire, start, end) = self.at(n);
        if wire != field.kind.wire_type() {
            // an occurrence of the wrong wire type is an unknown field
            return Lookup::Absent;
        }
        for &(rival, wire) in &field.rivals {
            let r = rival as usize;
            if r >= INDEXED {
                if self.beyond {
                    return Lookup::Unknown;
                }
                continue;
            }
            let bit = 1u16 << r;
            if self.seen & bit == 0 {
                continue;
            }
            if self.repeated & bit != 0 {
                return Lookup::Unknown;
            }
            let (rival_wire, rival_start, _) = self.at(r);
            if rival_wire == wire && rival_start > start {
                // a rival set after the field clears it
                return Lookup::Absent;
            }
        }
        Lookup::Found(start as usize, end as usize)
    }
}

/// The spans of a message's parts in its buffer: one for a message written whole (held inline, no
/// allocation), more for a sub-message written in pieces.
pub type Parts = SmallVec<[(usize, usize); 1]>;

/// The bytes of one message: one or more parts of a buffer, read as their concatenation (a sub-message
/// written in pieces merges them).
pub struct Record {
    pub buffer: Py<PyBytes>,
    pub parts: Parts,
    /// Whether this is a record of a batch (its bytes are given back as they were), not a sub-message.
    pub top: bool,
}

/// What reading a field gives: a Python value, or the parts of a sub-message (made into a model by the
/// caller).
pub enum Read<'py> {
    Value(Bound<'py, PyAny>),
    Message(Parts),
    /// The elements of a repeated sub-message field, each a message of its own.
    Messages(Vec<(usize, usize)>),
    /// The entries of a map whose values are sub-messages: each key and its value's parts.
    Entries(Vec<(Bound<'py, PyAny>, Parts)>),
}

impl Record {
    pub fn new(buffer: Py<PyBytes>, parts: Parts, top: bool) -> Self {
        Record { buffer, parts, top }
    }

    /// A record of the whole of `buffer[start..end]`.
    pub fn whole(buffer: Py<PyBytes>, start: usize, end: usize, top: bool) -> Self {
        Record::new(buffer, smallvec![(start, end)], top)
    }

    /// Walk the occurrences of `field` that count (wire type right; none before a rival oneof member):
    /// `keep(start, end, raw value)` for each, `forget()` when a rival member clears the ones before.
    fn occurrences(
        &self,
        bytes: &[u8],
        field: &NativeField,
        mut keep: impl FnMut(usize, usize, u64),
        mut forget: impl FnMut(),
    ) -> PyResult<()> {
        let wire = field.kind.wire_type();
        for &(start, end) in &self.parts {
            let part = &bytes[start..end];
            walk(part, |number, w, s, e, raw| {
                if number == field.number && w == wire {
                    keep(start + s, start + e, raw);
                } else if !field.rivals.is_empty() && field.rivals.contains(&(number, w)) {
                    forget();
                }
            })
            .map_err(|e| PyValueError::new_err(e.reason))?;
        }
        Ok(())
    }

    /// The value of `field` in this record; a sub-message comes back as its parts. `found`: where a single
    /// field stands, as this record's [`Index`] says (the bytes are walked when it is `Unknown`).
    pub fn read<'py>(
        &self,
        py: Python<'py>,
        field: &NativeField,
        found: Lookup,
    ) -> PyResult<Read<'py>> {
        let bytes = self.buffer.as_bytes(py);
        match field.shape {
            Shape::Single => {}
            Shape::Repeated => return self.read_repeated(py, bytes, field),
            Shape::Map => return self.read_map(py, bytes, field),
        }
        if field.elem == Elem::Scalar {
            let last = match found {
                Lookup::Found(start, end) => {
                    Some((start, end, raw_value(bytes, field, start, end)))
                }
                Lookup::Absent => None,
                // the last occurrence wins
                Lookup::Unknown => {
                    let last = Cell::new(None);
                    self.occurrences(
                        bytes,
                        field,
                        |s, e, raw| last.set(Some((s, e, raw))),
                        || last.set(None),
                    )?;
                    last.get()
                }
            };
            let Some((start, end, raw)) = last else {
                return Self::absent(py, field);
            };
            let payload = &bytes[start..end];
            if field.absent == Absent::Falsy && is_falsy(field.kind, raw, payload) {
                return Ok(Read::Value(py.None().into_bound(py)));
            }
            return values::scalar(py, field.kind, raw, payload).map(Read::Value);
        }
        let parts = match found {
            Lookup::Found(start, end) => smallvec![(start, end)],
            Lookup::Absent => Parts::new(),
            // a message's occurrences merge
            Lookup::Unknown => {
                let found = RefCell::new(Parts::new());
                self.occurrences(
                    bytes,
                    field,
                    |s, e, _| found.borrow_mut().push((s, e)),
                    || found.borrow_mut().clear(),
                )?;
                found.into_inner()
            }
        };
        if parts.is_empty() {
            return Self::absent(py, field);
        }
        match field.elem {
            Elem::Model => Ok(Read::Message(parts)),
            elem => Self::well_known(py, bytes, &parts, elem).map(Read::Value),
        }
    }

    /// Call `visit(wire, start, end, raw)` for each occurrence of field `number` in the record's parts, in
    /// wire order: its wire type, its value's span in `bytes` and, for a varint or fixed value, its bits.
    fn each(
        &self,
        bytes: &[u8],
        number: u32,
        mut visit: impl FnMut(u8, usize, usize, u64),
    ) -> PyResult<()> {
        for &(start, end) in &self.parts {
            walk(&bytes[start..end], |n, w, s, e, raw| {
                if n == number {
                    visit(w, start + s, start + e, raw);
                }
            })
            .map_err(|e| PyValueError::new_err(e.reason))?;
        }
        Ok(())
    }

    /// The elements of repeated `field`, in wire order: a list of values, or the spans of the sub-messages.
    /// A packable scalar's elements may come one by one or packed (several in one length-delimited
    /// payload), in any mix, as protobuf reads them.
    fn read_repeated<'py>(
        &self,
        py: Python<'py>,
        bytes: &[u8],
        field: &NativeField,
    ) -> PyResult<Read<'py>> {
        let wire = field.kind.wire_type();
        let packed = field.kind.packable();
        let mut spans: Vec<(usize, usize)> = Vec::new();
        let values = PyList::empty(py);
        let mut failed: Option<PyErr> = None;
        self.each(bytes, field.number, |w, s, e, raw| {
            if failed.is_some() {
                return;
            }
            let added = if field.elem == Elem::Model {
                if w == 2 {
                    spans.push((s, e));
                }
                Ok(())
            } else if w == wire {
                values::scalar(py, field.kind, raw, &bytes[s..e]).and_then(|v| values.append(v))
            } else if w == 2 && packed {
                unpack(py, field.kind, &bytes[s..e], &values)
            } else {
                Ok(())
            };
            if let Err(error) = added {
                failed = Some(error);
            }
        })?;
        if let Some(error) = failed {
            return Err(error);
        }
        let empty = if field.elem == Elem::Model {
            spans.is_empty()
        } else {
            values.is_empty()
        };
        if empty && field.absent != Absent::Never {
            return Ok(Read::Value(py.None().into_bound(py)));
        }
        Ok(match field.elem {
            Elem::Model => Read::Messages(spans),
            _ => Read::Value(values.into_any()),
        })
    }

    /// The entries of map `field` (string keys), sorted by key, a later entry of the same key replacing
    /// an earlier one: a dict of values, or the keys and the parts of their sub-message values. An entry
    /// missing its key or value has the default one; an entry holding any other field (or a key or value of
    /// the wrong wire type) is not in the map, as upb keeps such an entry whole as an unknown field of the
    /// message. (A parsed map iterates in an order of its own, which varies from process to process; both
    /// backends give a map's entries sorted by key, the order of a deterministic serialization.)
    fn read_map<'py>(
        &self,
        py: Python<'py>,
        bytes: &[u8],
        field: &NativeField,
    ) -> PyResult<Read<'py>> {
        let value_wire = field.kind.wire_type();
        let model = field.elem == Elem::Model;
        let mut spans: Vec<(usize, usize)> = Vec::new();
        self.each(bytes, field.number, |w, s, e, _| {
            if w == 2 {
                spans.push((s, e));
            }
        })?;
        // each entry's key, value occurrence (a scalar) or value parts (a sub-message), in wire order
        let mut entries: Vec<(&[u8], Occurrence, Parts)> = Vec::with_capacity(spans.len());
        for (start, end) in spans {
            let (mut key, mut value, mut parts) = (&b""[..], (0, 0, 0), Parts::new());
            let mut foreign = false;
            walk(&bytes[start..end], |number, w, s, e, raw| {
                match (number, w) {
                    (1, 2) => key = &bytes[start + s..start + e],
                    (2, w) if w == value_wire && model => parts.push((start + s, start + e)),
                    (2, w) if w == value_wire => value = (start + s, start + e, raw),
                    _ => foreign = true,
                }
            })
            .map_err(|e| PyValueError::new_err(e.reason))?;
            if !foreign {
                entries.push((key, value, parts));
            }
        }
        // a stable sort keeps a key's entries in wire order: the last of each run wins
        entries.sort_by(|a, b| a.0.cmp(b.0));
        let winners = (0..entries.len())
            .filter(|&i| entries.get(i + 1).is_none_or(|next| next.0 != entries[i].0))
            .collect::<Vec<_>>();
        if winners.is_empty() && field.absent != Absent::Never {
            return Ok(Read::Value(py.None().into_bound(py)));
        }
        let key = |k: &[u8]| values::scalar(py, Kind::String, 0, k);
        if model {
            let entries = winners
                .into_iter()
                .map(|i| Ok((key(entries[i].0)?, entries[i].2.clone())))
                .collect::<PyResult<_>>()?;
            return Ok(Read::Entries(entries));
        }
        let dict = PyDict::new(py);
        for i in winners {
            let (k, (start, end, raw), _) = &entries[i];
            dict.set_item(
                key(k)?,
                values::scalar(py, field.kind, *raw, &bytes[*start..*end])?,
            )?;
        }
        Ok(Read::Value(dict.into_any()))
    }

    /// What `field` reads as when it is not set.
    fn absent<'py>(py: Python<'py>, field: &NativeField) -> PyResult<Read<'py>> {
        match field.absent {
            Absent::Presence | Absent::Falsy => Ok(Read::Value(py.None().into_bound(py))),
            Absent::Never if field.elem == Elem::Model => Ok(Read::Message(Parts::new())),
            Absent::Never => Self::default_value(py, field).map(Read::Value),
        }
    }

    fn default_value<'py>(py: Python<'py>, field: &NativeField) -> PyResult<Bound<'py, PyAny>> {
        match field.elem {
            Elem::Scalar => values::default_scalar(py, field.kind),
            elem => Self::well_known(py, &[], &[], elem),
        }
    }

    /// A Timestamp, Duration or wrapper from the parts of its (merged) message.
    fn well_known<'py>(
        py: Python<'py>,
        bytes: &[u8],
        parts: &[(usize, usize)],
        elem: Elem,
    ) -> PyResult<Bound<'py, PyAny>> {
        let value_kind = match elem {
            Elem::Wrapper(kind) => kind,
            _ => Kind::Int64,
        };
        let (first, second, payload) = well_known_fields(bytes, parts, value_kind.wire_type())
            .map_err(|e| PyValueError::new_err(e.reason))?;
        match elem {
            Elem::Timestamp => values::timestamp(py, first as i64, second as u32 as i32, true),
            Elem::Naive => values::timestamp(py, first as i64, second as u32 as i32, false),
            Elem::Duration => values::duration(py, first as i64, second as u32 as i32),
            _ => values::scalar(py, value_kind, first, payload),
        }
    }

    /// The message's bytes, exactly as decoded (the parts joined).
    pub fn bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let buffer = self.buffer.bind(py);
        let bytes = buffer.as_bytes();
        match self.parts.as_slice() {
            [(0, end)] if *end == bytes.len() => buffer.clone(),
            [(start, end)] => PyBytes::new(py, &bytes[*start..*end]),
            parts => {
                let mut joined = Vec::with_capacity(parts.iter().map(|(s, e)| e - s).sum());
                for &(start, end) in parts {
                    joined.extend_from_slice(&bytes[start..end]);
                }
                PyBytes::new(py, &joined)
            }
        }
    }

    /// The message's size in bytes.
    pub fn size(&self) -> usize {
        self.parts.iter().map(|(s, e)| e - s).sum()
    }
}

/// Append the values of a packed repeated scalar of `kind` (a validated payload of whole values).
fn unpack(py: Python<'_>, kind: Kind, payload: &[u8], into: &Bound<'_, PyList>) -> PyResult<()> {
    let mut pos = 0;
    while pos < payload.len() {
        let (raw, next) = match kind.wire_type() {
            0 => read_varint(payload, pos).map_err(|e| PyValueError::new_err(e.reason))?,
            1 => (
                little_endian(payload.get(pos..pos + 8).unwrap_or(&[])),
                pos + 8,
            ),
            _ => (
                little_endian(payload.get(pos..pos + 4).unwrap_or(&[])),
                pos + 4,
            ),
        };
        if next > payload.len() {
            return Err(PyValueError::new_err(CORRUPT));
        }
        into.append(values::scalar(py, kind, raw, &[])?)?;
        pos = next;
    }
    Ok(())
}

/// The bits of a varint or fixed value at `start..end` of `bytes` (validated), read as `field`'s wire type.
fn raw_value(bytes: &[u8], field: &NativeField, start: usize, end: usize) -> u64 {
    match field.kind.wire_type() {
        0 => read_varint(bytes, start).map_or(0, |(value, _)| value),
        1 | 5 => little_endian(&bytes[start..end]),
        _ => 0,
    }
}

fn is_falsy(kind: Kind, raw: u64, payload: &[u8]) -> bool {
    match kind {
        Kind::String | Kind::Bytes => payload.is_empty(),
        Kind::Float => f32::from_bits(raw as u32) == 0.0,
        Kind::Double => f64::from_bits(raw) == 0.0,
        Kind::Int32 | Kind::Enum | Kind::SFixed32 | Kind::UInt32 | Kind::Fixed32 | Kind::SInt32 => {
            raw as u32 == 0
        }
        _ => raw == 0,
    }
}
