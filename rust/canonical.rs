//! Deterministic re-serialization as upb gives it: the bytes of
//! `Message.FromString(data).SerializeToString(deterministic=True)`, computed from `data` with the message
//! table, without building messages.
//!
//! Parsing follows upb (see `docs/nested.md`, "Reading the values"): the last scalar wins; the occurrences
//! of a sub-message merge (the message is read from all their payloads in turn); a oneof is the member that
//! came last, and of a message member only the occurrences after the last one of another member count; a
//! repeated scalar may come packed, unpacked or both; an occurrence whose wire type does not fit its field,
//! and a field number the message does not know, are unknown fields, kept raw in the order they came; a map's
//! later key replaces the earlier one, and an entry with any field but a fitting key and value is not an
//! entry at all but an unknown field of the map's message (upb writes it back re-serialized: the entry
//! message's own key and value when not default, then its unknown fields).
//!
//! Serializing follows upb's encoder: known fields in field-number order, then the unknown fields; a scalar
//! without presence only when it is not its default (a float by its bits, so `-0.0` is written); a field
//! with presence (a message, a oneof member, a proto3 `optional`) whenever it is set; repeated numbers, enums
//! and bools packed; map entries sorted by key, each with both its key and its value.
//!
//! The input is validated first with [`crate::wire::validate`] (what upb refuses, this refuses), so the
//! walk below meets only well-formed data; it still returns errors rather than panicking.

use std::cmp::Ordering;

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use smallvec::{smallvec, SmallVec};

use crate::decode::DecodeFailure;
use crate::errors::{decode_error, guard, message_index};
use crate::messages::{schema, FieldDef, Kind, Schema};
use crate::wire::{read_varint, validate_at_depth, walk};

/// `_native.canonical(message, data)`: the bytes upb's `SerializeToString(deterministic=True)` gives for
/// `data` parsed as `message` (a proto full name); `flytecodec.DecodeError` for bytes upb refuses.
#[pyfunction(name = "canonical")]
pub fn py_canonical<'py>(
    py: Python<'py>,
    message: &str,
    data: &[u8],
) -> PyResult<Bound<'py, PyBytes>> {
    guard(py, || {
        let index = message_index(message)?;
        match py.detach(|| canonical(schema(), index, data)) {
            Ok(bytes) => Ok(PyBytes::new(py, &bytes)),
            Err(reason) => Err(decode_error(
                py,
                message,
                &DecodeFailure {
                    index: 0,
                    offset: 0,
                    reason,
                },
            )),
        }
    })
}

/// The slot of an occurrence that belongs to no field: an unknown field.
const UNKNOWN: usize = usize::MAX;

/// One field occurrence in a message's payloads.
#[derive(Clone, Copy, Debug)]
struct Occ {
    /// The field's index in its message's `fields`, or [`UNKNOWN`].
    slot: usize,
    /// Its position among the message's occurrences.
    seq: usize,
    /// Which payload of the message it is in.
    part: usize,
    /// The value's span (a length-delimited payload without its prefix); for an unknown field, the whole
    /// field from its tag.
    start: usize,
    end: usize,
    wire: u8,
    /// A varint's or fixed value's bits.
    raw: u64,
    /// For an unknown field: the number of the map field whose entry this is (written back re-serialized),
    /// or 0 for a field kept raw.
    entry_of: u32,
}

/// A message's occurrences, inline when there are few.
type Occs = SmallVec<[Occ; 16]>;

/// `Message.FromString(data).SerializeToString(deterministic=True)` for message `message` of `schema`, or
/// why upb would refuse `data`.
pub fn canonical(schema: &Schema, message: usize, data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(data.len());
    canonical_into(schema, message, data, &mut out)?;
    Ok(out)
}

/// [`canonical`], appended to `out` (left as it was on error).
pub fn canonical_into(
    schema: &Schema,
    message: usize,
    data: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), String> {
    canonical_at_depth(schema, message, data, 0, out)
}

/// [`canonical_into`] for a message nested `depth` levels below its record (upb's depth limit counts from the
/// record).
pub fn canonical_at_depth(
    schema: &Schema,
    message: usize,
    data: &[u8],
    depth: u32,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    if message >= schema.messages.len() {
        return Err(format!("no message {message} in the schema"));
    }
    validate_at_depth(schema, message, data, depth).map_err(|e| e.reason.to_string())?;
    let mark = out.len();
    let written = write_message(schema, message, &[data], out);
    if written.is_err() {
        out.truncate(mark);
    }
    written
}

/// Whether an occurrence of wire type `wire` is a value of field `f`.
#[inline]
fn fits(f: &FieldDef, wire: u8) -> bool {
    if matches!(f.kind, Kind::Group) {
        return false;
    }
    wire == f.kind.wire_type() || (wire == 2 && f.repeated && f.kind.packable())
}

/// Whether `f` is a map field: repeated entries of a map-entry message.
#[inline]
fn map_entry_of(schema: &Schema, f: &FieldDef) -> Option<usize> {
    match f.kind {
        Kind::Message(i) if f.repeated && schema.messages[i].map_entry => Some(i),
        _ => None,
    }
}

/// Whether a map entry's payload has a field other than a fitting key (1) and value (2).
fn foreign_entry(schema: &Schema, entry: usize, payload: &[u8]) -> Result<bool, String> {
    let def = &schema.messages[entry];
    let mut foreign = false;
    walk(payload, |number, wire, _, _, _| {
        let known = matches!(number, 1 | 2) && def.field(number).is_some_and(|f| fits(f, wire));
        foreign |= !known;
    })
    .map_err(|e| e.reason.to_string())?;
    Ok(foreign)
}

/// The occurrences of message `message`'s fields in `parts`, in order.
fn occurrences(schema: &Schema, message: usize, parts: &[&[u8]]) -> Result<Occs, String> {
    let def = &schema.messages[message];
    let mut occs = Occs::new();
    for (p, part) in parts.iter().enumerate() {
        let mut tag_start = 0;
        let mut failure: Option<String> = None;
        walk(part, |number, wire, start, end, raw| {
            let field = def
                .fields
                .binary_search_by_key(&number, |f| f.number)
                .ok()
                .filter(|&i| fits(&def.fields[i], wire));
            let mut occ = Occ {
                slot: field.unwrap_or(UNKNOWN),
                seq: occs.len(),
                part: p,
                start,
                end,
                wire,
                raw,
                entry_of: 0,
            };
            if field.is_none() {
                occ.start = tag_start;
            } else if let Some(entry) = map_entry_of(schema, &def.fields[occ.slot]) {
                match foreign_entry(schema, entry, &part[start..end]) {
                    Ok(true) => {
                        occ.slot = UNKNOWN;
                        occ.entry_of = number;
                    }
                    Ok(false) => {}
                    Err(e) => failure = Some(e),
                }
            }
            occs.push(occ);
            tag_start = end;
        })
        .map_err(|e| e.reason.to_string())?;
        if let Some(e) = failure {
            return Err(e);
        }
    }
    Ok(occs)
}

#[inline]
pub(crate) fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

#[inline]
fn put_tag(out: &mut Vec<u8>, number: u32, wire: u8) {
    put_varint(out, (u64::from(number) << 3) | u64::from(wire));
}

/// Write a length-delimited value: its length, then what `body` writes (moved up when the length takes
/// more than one byte).
#[inline]
pub(crate) fn put_delimited<E>(
    out: &mut Vec<u8>,
    body: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
) -> Result<(), E> {
    let mark = out.len();
    out.push(0);
    body(out)?;
    let len = out.len() - mark - 1;
    if len < 0x80 {
        out[mark] = len as u8;
    } else {
        let mut prefix = [0u8; 10];
        let mut size = 0;
        let mut rest = len as u64;
        while rest >= 0x80 {
            prefix[size] = (rest as u8) | 0x80;
            rest >>= 7;
            size += 1;
        }
        prefix[size] = rest as u8;
        size += 1;
        out.resize(out.len() + size - 1, 0);
        out.copy_within(mark + 1..mark + 1 + len, mark + size);
        out[mark..mark + size].copy_from_slice(&prefix[..size]);
    }
    Ok(())
}

/// The value a varint of `kind` holds, as upb writes it back: 32-bit kinds keep their low 32 bits (signed
/// ones sign-extended to 64, so a negative `int32` or enum takes 10 bytes), a bool is 0 or 1.
#[inline]
fn varint_value(kind: Kind, raw: u64) -> u64 {
    match kind {
        Kind::Int32 | Kind::Enum => i64::from(raw as u32 as i32) as u64,
        Kind::UInt32 | Kind::SInt32 => u64::from(raw as u32),
        Kind::Bool => u64::from(raw != 0),
        _ => raw,
    }
}

/// Whether a scalar value of `kind` (its raw bits) is the default, which a field without presence omits.
#[inline]
fn is_default(kind: Kind, raw: u64) -> bool {
    match kind.wire_type() {
        0 => varint_value(kind, raw) == 0,
        5 => raw as u32 == 0,
        _ => raw == 0,
    }
}

/// Write one scalar value of `kind` (not string or bytes) without its tag.
#[inline]
fn put_scalar(out: &mut Vec<u8>, kind: Kind, raw: u64) {
    match kind.wire_type() {
        0 => put_varint(out, varint_value(kind, raw)),
        5 => out.extend_from_slice(&(raw as u32).to_le_bytes()),
        _ => out.extend_from_slice(&raw.to_le_bytes()),
    }
}

/// Call `each` with the raw bits of every value of a packed run of wire type `wire`.
fn unpack(payload: &[u8], wire: u8, mut each: impl FnMut(u64)) -> Result<(), String> {
    let size = match wire {
        0 => {
            let mut pos = 0;
            while pos < payload.len() {
                let (value, after) = read_varint(payload, pos).map_err(|e| e.reason.to_string())?;
                each(value);
                pos = after;
            }
            return Ok(());
        }
        1 => 8,
        5 => 4,
        _ => return Err("a packed run of a type that cannot be packed".into()),
    };
    if payload.len() % size != 0 {
        return Err(crate::wire::CORRUPT.into());
    }
    for chunk in payload.chunks_exact(size) {
        each(crate::wire::little_endian(chunk));
    }
    Ok(())
}

/// Write the canonical bytes of the message `message` read from `parts` (the payloads of its occurrences,
/// merged) to `out`.
fn write_message(
    schema: &Schema,
    message: usize,
    parts: &[&[u8]],
    out: &mut Vec<u8>,
) -> Result<(), String> {
    let def = &schema.messages[message];
    let mut occs = occurrences(schema, message, parts)?;
    // the member each oneof ends with, and the last occurrence of any other of its members
    let mut case: SmallVec<[Option<(usize, usize)>; 4]> = smallvec![None; def.oneofs.len()];
    for occ in occs.iter().filter(|o| o.slot != UNKNOWN) {
        if let Some(o) = def.fields[occ.slot].oneof {
            case[o] = Some((occ.slot, occ.seq));
        }
    }
    let mut last_other: SmallVec<[Option<usize>; 4]> = smallvec![None; def.oneofs.len()];
    for occ in occs.iter().filter(|o| o.slot != UNKNOWN) {
        if let Some(o) = def.fields[occ.slot].oneof {
            if case[o].is_some_and(|(slot, _)| slot != occ.slot) {
                last_other[o] = Some(occ.seq);
            }
        }
    }
    if !occs.is_sorted_by_key(|o| o.slot) {
        occs.sort_by_key(|o| o.slot); // stable: each field's occurrences stay in order, unknowns last
    }
    let payload = |o: &Occ| &parts[o.part][o.start..o.end];
    let mut i = 0;
    while i < occs.len() {
        let slot = occs[i].slot;
        let j = i + occs[i..].iter().take_while(|o| o.slot == slot).count();
        let group = &occs[i..j];
        i = j;
        if slot == UNKNOWN {
            for occ in group {
                if occ.entry_of == 0 {
                    out.extend_from_slice(payload(occ));
                } else {
                    let Kind::Message(entry) = def
                        .field(occ.entry_of)
                        .map(|f| f.kind)
                        .ok_or("a map entry of no field")?
                    else {
                        return Err("a map entry of a field that is not a map".into());
                    };
                    put_tag(out, occ.entry_of, 2);
                    put_delimited(out, |out| {
                        write_message(schema, entry, &[payload(occ)], out)
                    })?;
                }
            }
            continue;
        }
        let f = &def.fields[slot];
        let mut after = None;
        if let Some(o) = f.oneof {
            if case[o].is_some_and(|(member, _)| member != slot) {
                continue;
            }
            after = last_other[o];
        }
        let last = group[group.len() - 1];
        if let Some(entry) = map_entry_of(schema, f) {
            write_map(schema, f.number, entry, group, parts, out)?;
            continue;
        }
        match (f.repeated, f.kind) {
            (true, Kind::Message(child)) => {
                for occ in group {
                    put_tag(out, f.number, 2);
                    put_delimited(out, |out| {
                        write_message(schema, child, &[payload(occ)], out)
                    })?;
                }
            }
            (true, Kind::String | Kind::Bytes) => {
                for occ in group {
                    let value = payload(occ);
                    put_tag(out, f.number, 2);
                    put_varint(out, value.len() as u64);
                    out.extend_from_slice(value);
                }
            }
            (true, kind) => {
                if group.iter().all(|o| o.wire == 2 && o.start == o.end) {
                    continue; // empty packed runs only: no values
                }
                put_tag(out, f.number, 2);
                put_delimited(out, |out| {
                    for occ in group {
                        if occ.wire == 2 {
                            unpack(payload(occ), kind.wire_type(), |raw| {
                                put_scalar(out, kind, raw)
                            })?;
                        } else {
                            put_scalar(out, kind, occ.raw);
                        }
                    }
                    Ok::<(), String>(())
                })?;
            }
            (false, Kind::Message(child)) => {
                let merged: SmallVec<[&[u8]; 2]> = group
                    .iter()
                    .filter(|o| after.is_none_or(|a| o.seq > a))
                    .map(payload)
                    .collect();
                put_tag(out, f.number, 2);
                put_delimited(out, |out| write_message(schema, child, &merged, out))?;
            }
            (false, Kind::String | Kind::Bytes) => {
                let value = payload(&last);
                if f.oneof.is_some() || !value.is_empty() {
                    put_tag(out, f.number, 2);
                    put_varint(out, value.len() as u64);
                    out.extend_from_slice(value);
                }
            }
            (false, kind) => {
                if f.oneof.is_some() || !is_default(kind, last.raw) {
                    put_tag(out, f.number, kind.wire_type());
                    put_scalar(out, kind, last.raw);
                }
            }
        }
    }
    Ok(())
}

/// A map key or value as read from its entry.
#[derive(Clone, Debug)]
enum Held<'a> {
    /// A scalar's raw bits.
    Bits(u64),
    /// A string's or bytes' payload.
    Bytes(&'a [u8]),
    /// A message: the payloads of its occurrences.
    Message(Vec<&'a [u8]>),
}

/// The order upb sorts map keys of `kind` in: numbers by value, `false` before `true`, strings and bytes by
/// their common prefix and, when one is a prefix of the other, the longer first.
fn key_order(kind: Kind, a: &Held<'_>, b: &Held<'_>) -> Ordering {
    match (a, b) {
        (Held::Bytes(a), Held::Bytes(b)) => {
            let common = a.len().min(b.len());
            a[..common]
                .cmp(&b[..common])
                .then_with(|| b.len().cmp(&a.len()))
        }
        (Held::Bits(a), Held::Bits(b)) => number(kind, *a).cmp(&number(kind, *b)),
        _ => Ordering::Equal,
    }
}

/// The number a scalar of `kind` holds.
fn number(kind: Kind, raw: u64) -> i128 {
    let zigzag = |v: u64| ((v >> 1) as i64) ^ -((v & 1) as i64);
    match kind {
        Kind::Int32 | Kind::Enum | Kind::SFixed32 => i128::from(raw as u32 as i32),
        Kind::SInt32 => i128::from(zigzag(u64::from(raw as u32))),
        Kind::SInt64 => i128::from(zigzag(raw)),
        Kind::Int64 | Kind::SFixed64 => i128::from(raw as i64),
        Kind::UInt32 | Kind::Fixed32 => i128::from(raw as u32),
        Kind::Bool => i128::from(raw != 0),
        _ => i128::from(raw),
    }
}

/// The default of a map key or value of `kind`.
fn default_of(kind: Kind) -> Held<'static> {
    match kind {
        Kind::String | Kind::Bytes => Held::Bytes(&[]),
        Kind::Message(_) => Held::Message(Vec::new()),
        _ => Held::Bits(0),
    }
}

/// Write a map field's entries: later keys replace earlier ones, sorted the upb way, each with its key and
/// value whatever they are.
fn write_map(
    schema: &Schema,
    number: u32,
    entry: usize,
    group: &[Occ],
    parts: &[&[u8]],
    out: &mut Vec<u8>,
) -> Result<(), String> {
    let def = &schema.messages[entry];
    let (Some(key_def), Some(value_def)) = (def.field(1), def.field(2)) else {
        return Err(format!("{} is not a map entry", def.full_name));
    };
    let (key_kind, value_kind) = (key_def.kind, value_def.kind);
    let mut entries: Vec<(Held<'_>, Held<'_>)> = Vec::with_capacity(group.len());
    for occ in group {
        let payload = &parts[occ.part][occ.start..occ.end];
        let mut key = default_of(key_kind);
        let mut value = default_of(value_kind);
        walk(payload, |n, _, start, end, raw| {
            let kind = if n == 1 { key_kind } else { value_kind };
            let held = match kind {
                Kind::String | Kind::Bytes => Held::Bytes(&payload[start..end]),
                Kind::Message(_) => {
                    // occurrences of a message value merge
                    let mut merged = match std::mem::replace(&mut value, Held::Bits(0)) {
                        Held::Message(v) => v,
                        _ => Vec::new(),
                    };
                    merged.push(&payload[start..end]);
                    Held::Message(merged)
                }
                _ => Held::Bits(raw),
            };
            if n == 1 {
                key = held;
            } else {
                value = held;
            }
        })
        .map_err(|e| e.reason.to_string())?;
        entries.push((key, value));
    }
    // stable: of equal keys the last comes last, and is the one kept
    entries.sort_by(|a, b| key_order(key_kind, &a.0, &b.0));
    let mut k = 0;
    while k < entries.len() {
        let mut last = k;
        while last + 1 < entries.len()
            && key_order(key_kind, &entries[k].0, &entries[last + 1].0) == Ordering::Equal
        {
            last += 1;
        }
        let (key, value) = &entries[last];
        k = last + 1;
        put_tag(out, number, 2);
        put_delimited(out, |out| {
            put_held(schema, out, 1, key_kind, key)?;
            put_held(schema, out, 2, value_kind, value)
        })?;
    }
    Ok(())
}

/// Write field `number` of `kind` holding `held`, whatever its value.
fn put_held(
    schema: &Schema,
    out: &mut Vec<u8>,
    number: u32,
    kind: Kind,
    held: &Held<'_>,
) -> Result<(), String> {
    put_tag(out, number, kind.wire_type());
    match (kind, held) {
        (Kind::Message(child), Held::Message(parts)) => {
            put_delimited(out, |out| write_message(schema, child, parts, out))
        }
        (_, Held::Bytes(value)) => {
            put_varint(out, value.len() as u64);
            out.extend_from_slice(value);
            Ok(())
        }
        (_, Held::Bits(raw)) => {
            put_scalar(out, kind, *raw);
            Ok(())
        }
        _ => Err("a map value of the wrong kind".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::schema;

    fn canon(message: &str, data: &[u8]) -> Result<Vec<u8>, String> {
        let s = schema();
        canonical(s, s.find(message).expect("message"), data)
    }

    fn ld(number: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![(number << 3) | 2];
        put_varint(&mut out, payload.len() as u64);
        out.extend_from_slice(payload);
        out
    }

    const ID: &str = "flyteidl.core.Identifier";
    const LABELS: &str = "flyteidl.admin.Labels";

    #[test]
    fn fields_in_number_order_last_scalar_wins() {
        // Identifier: 1 resource_type (enum), 2 project, 3 domain, 4 name, 5 version, 6 org
        let mut data = ld(3, b"d");
        data.extend(ld(2, b"p"));
        data.extend(b"\x08\x01\x08\x02");
        data.extend(ld(2, b"q"));
        let mut want = b"\x08\x02".to_vec();
        want.extend(ld(2, b"q"));
        want.extend(ld(3, b"d"));
        assert_eq!(canon(ID, &data), Ok(want));
    }

    #[test]
    fn defaults_are_dropped_and_negative_enums_take_ten_bytes() {
        assert_eq!(canon(ID, b"\x08\x00\x12\x00"), Ok(vec![]));
        assert_eq!(
            canon(ID, b"\x08\xff\xff\xff\xff\x0f"),
            Ok(b"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01".to_vec())
        );
        // an overlong varint whose low 32 bits are zero is the default
        assert_eq!(canon(ID, b"\x08\x80\x80\x80\x80\x10"), Ok(vec![]));
    }

    #[test]
    fn unknown_fields_go_last_as_they_came() {
        let data = b"\x98\x01\x07\x12\x01p\x10\x05\x08\x01";
        // field 19 varint (unknown), project, field 2 as a varint (wrong wire type), resource_type
        assert_eq!(
            canon(ID, data),
            Ok(b"\x08\x01\x12\x01p\x98\x01\x07\x10\x05".to_vec())
        );
    }

    #[test]
    fn map_keys_sort_the_upb_way() {
        let mut data = Vec::new();
        for key in [&b""[..], b"b", b"a", b"ab"] {
            let mut entry = ld(1, key);
            entry.extend(ld(2, b"v"));
            data.extend(ld(1, &entry));
        }
        let got = canon(LABELS, &data).expect("valid");
        let mut want = Vec::new();
        for key in [&b"ab"[..], b"a", b"b", b""] {
            let mut entry = ld(1, key);
            entry.extend(ld(2, b"v"));
            want.extend(ld(1, &entry));
        }
        assert_eq!(got, want);
    }

    #[test]
    fn refuses_what_upb_refuses() {
        assert!(canon(ID, b"\x12\x01\xff").is_err());
        assert!(canon(ID, b"\x12\x05ab").is_err());
        assert!(canon(ID, b"\x0e").is_err());
    }

    #[test]
    fn long_payloads_get_long_prefixes() {
        let name = vec![b'x'; 300];
        let data = ld(4, &name);
        assert_eq!(canon(ID, &data), Ok(data.clone()));
        let mut wrapped = Vec::new();
        put_tag(&mut wrapped, 1, 2);
        put_delimited(&mut wrapped, |out| {
            out.extend_from_slice(&data);
            Ok::<(), ()>(())
        })
        .expect("writes");
        assert_eq!(wrapped[1..3], [0xaf, 0x02]); // 303 bytes
        assert_eq!(wrapped.len(), 3 + 303);
    }
}
