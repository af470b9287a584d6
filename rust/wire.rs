//! The protobuf wire format: reading varints and tags, and validating a message exactly as upb (the
//! parser behind Python's protobuf) accepts or rejects it.
//!
//! upb's rules, which the python backend inherits and this module reproduces:
//! * a tag is a varint of at most 5 bytes whose value fits 32 bits; field number 0 is an error;
//! * a varint is at most 10 bytes (the 10th byte's high bits are ignored);
//! * wire types 6 and 7, an end-group without its start, and lengths past the end are errors;
//! * a known field with another wire type than its type's is kept as an unknown field — except a packed
//!   (length-delimited) repeated scalar, whose contents must then be whole values;
//! * groups are accepted as unknown fields; they and sub-messages may nest 100 deep;
//! * `string` fields (also map keys and values, and repeated ones) must be valid UTF-8; unknown fields
//!   are not looked into.

use std::borrow::Borrow;

use crate::messages::{Check, MessageDef, Schema, TagStep};

/// How deep sub-messages and groups may nest below the message being decoded (upb's default).
pub const MAX_DEPTH: u32 = 100;

/// Where and why a message is not valid. `offset` is relative to the start of the message given to
/// [`validate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireError {
    pub offset: usize,
    pub reason: &'static str,
}

pub type WireResult<T> = Result<T, WireError>;

fn corrupt(offset: usize) -> WireError {
    WireError {
        offset,
        reason: CORRUPT,
    }
}

fn failed(offset: usize, reason: &'static str) -> WireError {
    WireError { offset, reason }
}

// The reasons a walk of the wire format gives, word for word those of the python backend's walk
// (`python/flytecodec/framing.py`); validating a record gives only CORRUPT, BAD_UTF8 or TOO_DEEP.
pub const CORRUPT: &str = "wire format is corrupt";
pub const BAD_UTF8: &str = "string field has invalid UTF-8";
pub const TOO_DEEP: &str = "nesting exceeds the maximum depth";
pub const TRUNCATED_VARINT: &str = "truncated varint";
pub const TAG_OVER_32_BITS: &str = "tag is over 32 bits";
pub const FIELD_ZERO: &str = "field number 0";
pub const LENGTH_TOO_BIG: &str = "length is 2^31 - 1 bytes or more";
pub const LENGTH_PAST_END: &str = "length runs past the end of the input";
pub const FIELD_PAST_END: &str = "field runs past the end of the input";
pub const GROUP_NOT_CLOSED: &str = "group is not closed";
pub const GROUP_MISMATCH: &str = "end-group tag does not match its group";

/// The largest length upb takes for a length-delimited field (it refuses `INT32_MAX` and above).
pub const MAX_LENGTH: u64 = i32::MAX as u64 - 1;

/// The varint at `pos` of at most `limit` (5 or 10) bytes, and the position after it.
#[inline]
fn read_varint_of(buf: &[u8], pos: usize, limit: usize) -> WireResult<(u64, usize)> {
    let mut value: u64 = 0;
    for i in 0..limit {
        let byte = *buf.get(pos + i).ok_or(WireError {
            offset: pos,
            reason: TRUNCATED_VARINT,
        })?;
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte < 0x80 {
            return Ok((value, pos + i + 1));
        }
    }
    let reason = if limit == 5 {
        "varint is longer than 5 bytes"
    } else {
        "varint is longer than 10 bytes"
    };
    Err(WireError {
        offset: pos,
        reason,
    })
}

/// The varint at `pos` and the position after it (at most 10 bytes; bits past 64 are dropped, as upb does).
#[inline]
pub fn read_varint(buf: &[u8], pos: usize) -> WireResult<(u64, usize)> {
    read_varint_of(buf, pos, 10)
}

/// The length prefix of a length-delimited field at `pos` and the position after it: upb reads it as a
/// varint of at most 5 bytes, and refuses a length of `INT32_MAX` (2^31 - 1) or more.
#[inline]
pub fn read_len(buf: &[u8], pos: usize) -> WireResult<(usize, usize)> {
    let (len, after) = read_varint_of(buf, pos, 5)?;
    if len > MAX_LENGTH {
        return Err(failed(pos, LENGTH_TOO_BIG));
    }
    Ok((
        usize::try_from(len).map_err(|_| failed(pos, LENGTH_TOO_BIG))?,
        after,
    ))
}

/// The field number and wire type of the tag at `pos`, and the position after it: a varint of at most 5
/// bytes whose value fits 32 bits, with a field number above 0.
#[inline]
pub fn read_tag(buf: &[u8], pos: usize) -> WireResult<(u32, u8, usize)> {
    let (number, wire, after) = read_tag_in_group(buf, pos)?;
    if number == 0 {
        return Err(failed(pos, FIELD_ZERO));
    }
    Ok((number, wire, after))
}

/// A tag inside a group: as [`read_tag`], but field number 0 is allowed (upb skips a group's contents
/// without looking at their field numbers).
#[inline]
fn read_tag_in_group(buf: &[u8], pos: usize) -> WireResult<(u32, u8, usize)> {
    let (value, after) = read_varint_of(buf, pos, 5)?;
    let tag = u32::try_from(value).map_err(|_| failed(pos, TAG_OVER_32_BITS))?;
    Ok((tag >> 3, (tag & 7) as u8, after))
}

/// Call `visit(number, wire, start, end, raw)` for each field of a validated message, in wire order: the
/// value's span (a varint's bytes, a fixed value, a length-delimited payload without its prefix, a group's
/// contents and end tag) and, for a varint or a fixed value, its bits (0 for the other wire types). The
/// tight loop the readers use; [`Fields`] is the general iterator.
#[inline]
pub fn walk(buf: &[u8], mut visit: impl FnMut(u32, u8, usize, usize, u64)) -> WireResult<()> {
    let end = buf.len();
    let mut pos = 0;
    while pos < end {
        let first = buf[pos];
        let (number, wire, after) = if (8..0x80).contains(&first) {
            (u32::from(first >> 3), first & 7, pos + 1)
        } else {
            read_tag(buf, pos)?
        };
        let (start, stop, raw) = match wire {
            0 => match buf.get(after) {
                Some(&b) if b < 0x80 => (after, after + 1, u64::from(b)),
                _ => {
                    let (value, stop) = read_varint(buf, after).map_err(|_| corrupt(pos))?;
                    (after, stop, value)
                }
            },
            2 => {
                let (len, start) = match buf.get(after) {
                    Some(&b) if b < 0x80 => (usize::from(b), after + 1),
                    _ => read_len(buf, after)?,
                };
                (
                    start,
                    checked_end(buf, start, len, pos, LENGTH_PAST_END)?,
                    0,
                )
            }
            1 | 5 => {
                let stop = value_end(buf, pos, after, number, wire, 0, &mut 0)?;
                (after, stop, little_endian(&buf[after..stop]))
            }
            _ => (
                after,
                value_end(buf, pos, after, number, wire, 0, &mut 0)?,
                0,
            ),
        };
        visit(number, wire, start, stop, raw);
        pos = stop;
    }
    Ok(())
}

/// One field as it stands on the wire: its number, wire type, where its tag starts, and its value
/// (`start..end`; for a length-delimited field the payload without the length prefix).
#[derive(Clone, Copy, Debug)]
pub struct WireField {
    pub number: u32,
    pub wire: u8,
    pub tag_offset: usize,
    pub start: usize,
    pub end: usize,
}

/// The fields of an already-validated message, in wire order.
pub struct Fields<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Fields<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Fields { buf, pos: 0 }
    }
}

impl Iterator for Fields<'_> {
    type Item = WireResult<WireField>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let tag_offset = self.pos;
        let result = next_field(self.buf, self.pos, 0, &mut 0);
        match result {
            Ok((field, after)) => {
                self.pos = after;
                Some(Ok(WireField {
                    tag_offset,
                    ..field
                }))
            }
            Err(e) => {
                self.pos = self.buf.len();
                Some(Err(e))
            }
        }
    }
}

/// The field whose tag is at `pos`, and the position after it. Groups are skipped whole; `deepest`
/// records how deep they nested.
fn next_field(
    buf: &[u8],
    pos: usize,
    depth: u32,
    deepest: &mut u32,
) -> WireResult<(WireField, usize)> {
    let (number, wire, after_tag) = read_tag(buf, pos)?;
    let start = if wire == 2 {
        read_len(buf, after_tag)?.1
    } else {
        after_tag
    };
    let end = value_end(buf, pos, after_tag, number, wire, depth, deepest)?;
    let field = WireField {
        number,
        wire,
        tag_offset: pos,
        start,
        end,
    };
    Ok((field, end))
}

/// The end of the value of a field whose tag (at `tag`) ends at `after_tag`.
fn value_end(
    buf: &[u8],
    tag: usize,
    after_tag: usize,
    number: u32,
    wire: u8,
    depth: u32,
    deepest: &mut u32,
) -> WireResult<usize> {
    match wire {
        0 => Ok(read_varint(buf, after_tag)?.1),
        1 => checked_end(buf, after_tag, 8, tag, FIELD_PAST_END),
        5 => checked_end(buf, after_tag, 4, tag, FIELD_PAST_END),
        2 => {
            let (len, start) = read_len(buf, after_tag).map_err(|e| failed(tag, e.reason))?;
            checked_end(buf, start, len, tag, LENGTH_PAST_END)
        }
        3 => skip_group(buf, after_tag, number, depth + 1, deepest),
        // 4: an end-group with no group open; 6, 7: no such wire type
        4 => Err(failed(tag, "unexpected wire type 4")),
        6 => Err(failed(tag, "unexpected wire type 6")),
        _ => Err(failed(tag, "unexpected wire type 7")),
    }
}

/// The end of a top-level field's value (groups skipped whole): for framing walks outside messages.
pub fn skip_field_value(
    buf: &[u8],
    after_tag: usize,
    number: u32,
    wire: u8,
    tag: usize,
) -> WireResult<usize> {
    value_end(buf, tag, after_tag, number, wire, 0, &mut 0)
}

fn checked_end(
    buf: &[u8],
    start: usize,
    len: usize,
    tag: usize,
    reason: &'static str,
) -> WireResult<usize> {
    match start.checked_add(len) {
        Some(end) if end <= buf.len() => Ok(end),
        _ => Err(failed(tag, reason)),
    }
}

/// The position after the end-group tag closing group `number`, whose contents start at `pos`.
fn skip_group(
    buf: &[u8],
    mut pos: usize,
    number: u32,
    depth: u32,
    deepest: &mut u32,
) -> WireResult<usize> {
    if depth > MAX_DEPTH {
        return Err(failed(pos, TOO_DEEP));
    }
    *deepest = (*deepest).max(depth);
    loop {
        if pos >= buf.len() {
            return Err(failed(pos, GROUP_NOT_CLOSED));
        }
        let (inner, wire, after) = read_tag_in_group(buf, pos)?;
        if wire == 4 {
            return if inner == number {
                Ok(after)
            } else {
                Err(failed(pos, GROUP_MISMATCH))
            };
        }
        pos = value_end(buf, pos, after, inner, wire, depth, deepest)?;
    }
}

/// Check that `buf` is a valid message `message` of `schema`, as upb would parse it.
pub fn validate(schema: &Schema, message: usize, buf: &[u8]) -> WireResult<()> {
    validate_at_depth(schema, message, buf, 0).map(|_| ())
}

/// [`validate`] for a message nested `depth` levels below the one being decoded; on success, the deepest
/// nesting level reached (sub-messages and groups). The error's offset is 0: callers report where the
/// record starts (upb says no more either), and not tracking positions keeps the loop tight.
pub fn validate_at_depth(
    schema: &Schema,
    message: usize,
    buf: &[u8],
    depth: u32,
) -> WireResult<u32> {
    check_message(schema, message, buf, depth).map_err(|reason| WireError { offset: 0, reason })
}

/// How many levels of sub-messages [`check_message`] walks in one loop, its parents kept in a small array;
/// a sub-message deeper than that (recursive `Literal`s) is checked by a recursive call.
const INLINE_LEVELS: usize = 16;

/// Check message `message` in `buf`, nested `depth` deep; on success the deepest level reached. A field
/// with a one-byte tag (numbers 1 to 15, nearly every field of flyteidl) takes one lookup in the message's
/// [`TagSteps`]; the rest go through [`check_general_field`]. A sub-message is entered in the same loop
/// (positions stay those of `buf`; `msg` is `buf` up to the end of the message being walked), so nesting
/// costs no call.
fn check_message(
    schema: &Schema,
    message: usize,
    buf: &[u8],
    depth: u32,
) -> Result<u32, &'static str> {
    let mut def = &schema.messages[message];
    let mut msg = buf;
    let mut parents = [(def, 0usize); INLINE_LEVELS];
    let mut level = 0;
    let mut deepest = depth;
    let mut pos = 0;
    loop {
        if pos >= msg.len() {
            if level == 0 {
                return Ok(deepest);
            }
            level -= 1;
            let (parent, end) = parents[level];
            def = parent;
            msg = &buf[..end];
            continue;
        }
        let first = msg[pos];
        let step = if first < 0x80 {
            def.tag_steps()[usize::from(first)]
        } else {
            TagStep::General
        };
        let after = pos + 1;
        pos = match step {
            TagStep::Varint => varint_end(buf, after, msg.len()).ok_or(CORRUPT)?,
            TagStep::Fixed64 => fixed_end(after, 8, msg.len())?,
            TagStep::Fixed32 => fixed_end(after, 4, msg.len())?,
            TagStep::Bytes => len_span(msg, after)?.1,
            TagStep::Utf8 => {
                let (start, stop) = len_span(msg, after)?;
                check_utf8(&msg[start..stop])?;
                stop
            }
            TagStep::Message(inner) => {
                let (start, stop) = len_span(msg, after)?;
                let here = depth + level as u32;
                if here >= MAX_DEPTH {
                    return Err(TOO_DEEP);
                }
                let inner = usize::from(inner);
                if level < INLINE_LEVELS {
                    parents[level] = (def, msg.len());
                    level += 1;
                    deepest = deepest.max(here + 1);
                    def = &schema.messages[inner];
                    msg = &buf[..stop];
                    start
                } else {
                    let reached = check_message(schema, inner, &msg[start..stop], here + 1)?;
                    deepest = deepest.max(reached);
                    stop
                }
            }
            TagStep::Corrupt => return Err(CORRUPT),
            TagStep::General => {
                let here = depth + level as u32;
                check_general_field(schema, def, msg, pos, here, &mut deepest)?
            }
        };
    }
}

/// The field whose tag is at `pos` in a message `def` nested `depth` deep, any tag: the position after it.
fn check_general_field(
    schema: &Schema,
    def: &MessageDef,
    buf: &[u8],
    pos: usize,
    depth: u32,
    deepest: &mut u32,
) -> Result<usize, &'static str> {
    let (number, wire, after) = read_tag(buf, pos).map_err(|_| CORRUPT)?;
    match wire {
        0 => varint_end(buf, after, buf.len()).ok_or(CORRUPT),
        1 => fixed_end(after, 8, buf.len()),
        5 => fixed_end(after, 4, buf.len()),
        2 => {
            let (start, stop) = len_span(buf, after)?;
            let payload = &buf[start..stop];
            match def.len_check(number) {
                Check::None => {}
                Check::Utf8 => check_utf8(payload)?,
                Check::Message(inner) => {
                    *deepest = (*deepest).max(check_sub_message(schema, inner, payload, depth)?);
                }
                Check::Packed(inner_wire) => {
                    validate_packed(inner_wire, payload).map_err(|_| CORRUPT)?;
                }
            }
            Ok(stop)
        }
        3 => {
            let mut reached = depth;
            let stop = skip_group(buf, after, number, depth + 1, &mut reached).map_err(|e| {
                if e.reason == TOO_DEEP {
                    TOO_DEEP
                } else {
                    CORRUPT
                }
            })?;
            *deepest = (*deepest).max(reached);
            Ok(stop)
        }
        _ => Err(CORRUPT),
    }
}

/// A sub-message `inner` of a message nested `depth` deep: the deepest level it reaches.
#[inline]
fn check_sub_message(
    schema: &Schema,
    inner: usize,
    payload: &[u8],
    depth: u32,
) -> Result<u32, &'static str> {
    if depth >= MAX_DEPTH {
        return Err(TOO_DEEP);
    }
    check_message(schema, inner, payload, depth + 1)
}

/// The payload span of the length-delimited value whose length prefix is at `pos`.
#[inline]
fn len_span(buf: &[u8], pos: usize) -> Result<(usize, usize), &'static str> {
    let (len, start) = match buf.get(pos) {
        Some(&b) if b < 0x80 => (usize::from(b), pos + 1),
        _ => read_len(buf, pos).map_err(|_| CORRUPT)?,
    };
    let stop = start
        .checked_add(len)
        .filter(|&e| e <= buf.len())
        .ok_or(CORRUPT)?;
    Ok((start, stop))
}

/// The end of a fixed value of `size` bytes at `pos`, in a message ending at `end`.
#[inline]
fn fixed_end(pos: usize, size: usize, end: usize) -> Result<usize, &'static str> {
    pos.checked_add(size).filter(|&e| e <= end).ok_or(CORRUPT)
}

/// A `string` field's payload must be valid UTF-8 (ASCII is checked first: it is nearly all of them).
#[inline]
fn check_utf8(payload: &[u8]) -> Result<(), &'static str> {
    if is_ascii(payload) || simdutf8::basic::from_utf8(payload).is_ok() {
        Ok(())
    } else {
        Err(BAD_UTF8)
    }
}

/// The high bit of every byte of a word.
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// Whether `s` is ASCII: a short string (most are under 32 bytes) with a few word loads, overlapping at the
/// end instead of a byte loop; a long one with the standard library's vector loop.
#[inline]
fn is_ascii(s: &[u8]) -> bool {
    if s.len() > 32 {
        return s.is_ascii();
    }
    if let Some(last) = s.last_chunk::<8>() {
        let mut seen = u64::from_le_bytes(*last);
        let mut rest = s;
        while let Some((word, tail)) = rest.split_first_chunk::<8>() {
            seen |= u64::from_le_bytes(*word);
            rest = tail;
        }
        return seen & HIGH_BITS == 0;
    }
    if let (Some(first), Some(last)) = (s.first_chunk::<4>(), s.last_chunk::<4>()) {
        return (u32::from_le_bytes(*first) | u32::from_le_bytes(*last)) & 0x8080_8080 == 0;
    }
    s.iter().all(|&b| b < 0x80)
}

/// The position after the varint at `pos` of a message ending at `end` in `buf` (at most 10 bytes, all
/// before `end`). A varint of up to 8 bytes is found with one word load when `buf` has 8 bytes from `pos`,
/// even past `end` (the bytes past it are masked off): its end is the first byte whose high bit is clear.
#[inline]
fn varint_end(buf: &[u8], pos: usize, end: usize) -> Option<usize> {
    let within = buf.get(..end)?;
    match within.get(pos) {
        Some(&b) if b < 0x80 => return Some(pos + 1),
        None => return None,
        _ => {}
    }
    if let Some(word) = buf[pos..].first_chunk::<8>() {
        let room = end - pos;
        let mut ends = !u64::from_le_bytes(*word) & HIGH_BITS;
        if room < 8 {
            ends &= (1u64 << (8 * room)) - 1;
        }
        if ends != 0 {
            return Some(pos + (ends.trailing_zeros() / 8) as usize + 1);
        }
        if room < 8 {
            return None;
        }
    }
    within[pos..]
        .iter()
        .take(10)
        .position(|&b| b < 0x80)
        .map(|i| pos + i + 1)
}

/// Fields 1 and 2 of a well-known message (a Timestamp, a Duration, a wrapper) made of `parts` of
/// `bytes`, the last occurrence of each winning: their raw values (a varint, or a little-endian fixed
/// value), and field 1's payload when it is length-delimited. Field 1 counts only with `first_wire`, field
/// 2 only as a varint; anything else is an unknown field. `parts` are `(start, end)` spans, borrowed or not
/// (a slice, or spans mapped from other data without collecting them).
pub fn well_known_fields<P: Borrow<(usize, usize)>>(
    bytes: &[u8],
    parts: impl IntoIterator<Item = P>,
    first_wire: u8,
) -> WireResult<(u64, u64, &[u8])> {
    let (mut first, mut second): (u64, u64) = (0, 0);
    let mut payload: &[u8] = &[];
    for part in parts {
        let &(start, end) = part.borrow();
        let part = &bytes[start..end];
        walk(part, |number, wire, s, e, raw| {
            let expected = if number == 1 { first_wire } else { 0 };
            if wire != expected || number > 2 {
                return;
            }
            if wire == 2 {
                payload = &part[s..e];
            }
            if number == 1 {
                first = raw;
            } else {
                second = raw;
            }
        })?;
    }
    Ok((first, second, payload))
}

/// A little-endian fixed32/fixed64 value.
#[inline]
pub fn little_endian(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .rev()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
}

fn validate_packed(wire: u8, payload: &[u8]) -> WireResult<()> {
    match wire {
        0 => {
            let mut pos = 0;
            while pos < payload.len() {
                pos = varint_end(payload, pos, payload.len()).ok_or(corrupt(pos))?;
            }
            Ok(())
        }
        1 if payload.len() % 8 == 0 => Ok(()),
        5 if payload.len() % 4 == 0 => Ok(()),
        _ => Err(corrupt(0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::schema;

    fn check(name: &str, bytes: &[u8]) -> bool {
        let s = schema();
        validate(s, s.find(name).expect("message"), bytes).is_ok()
    }

    const ID: &str = "flyteidl.core.Identifier";

    #[test]
    fn varints() {
        assert_eq!(read_varint(&[0x96, 0x01], 0), Ok((150, 2)));
        let ten = [0xff; 9].iter().copied().chain([0x7f]).collect::<Vec<_>>();
        assert!(read_varint(&ten, 0).is_ok());
        let eleven = [0xff; 10].iter().copied().chain([0x01]).collect::<Vec<_>>();
        assert!(read_varint(&eleven, 0).is_err());
        assert!(read_varint(&[0x80], 0).is_err());
    }

    #[test]
    fn upb_accepts() {
        assert!(check(ID, b""));
        assert!(check(ID, b"\x10\x05")); // string field as a varint: unknown
        assert!(check(ID, b"\x0a\x02\x01\x02")); // singular enum as length-delimited: unknown
        assert!(check(ID, b"\xfb\x01\x08\x01\xfc\x01")); // unknown group
        assert!(check(ID, b"\x13\x08\x01\x14")); // group on a known field number
        assert!(check(ID, b"\xf8\xff\xff\xff\x0f\x01")); // field 2^29-1
        assert!(check(ID, b"\x9a\x06\x01\xff")); // unknown field with bad UTF-8
                                                 // inside a group upb does not look at field numbers: field 0 is skipped like any other
        assert!(check(ID, b"\x5b\x00\x02\x5c")); // varint of field 0
        assert!(check(ID, b"\x5b\x02\x00\x5c")); // length-delimited field 0
        assert!(check(ID, b"\x5b\x03\x04\x5c")); // a group numbered 0, closed
        assert!(check(ID, b"\x5b\x80\x80\x80\x80\x00\x00\x5c")); // tag 0 in 5 bytes
    }

    #[test]
    fn length_bound_is_upbs() {
        // upb refuses a length of INT32_MAX or more, even with that many bytes present; zeroed memory is
        // mapped lazily, so the 2 GiB below cost no more than the pages touched
        for len in [(1u64 << 31) - 1, 1 << 31] {
            let mut prefix = vec![0x9a, 0x06]; // field 99, length-delimited: unknown to Identifier
            let mut rest = len;
            while rest >= 0x80 {
                prefix.push((rest as u8 & 0x7f) | 0x80);
                rest >>= 7;
            }
            prefix.push(rest as u8);
            let mut buf = vec![0u8; prefix.len() + len as usize];
            buf[..prefix.len()].copy_from_slice(&prefix);
            assert!(!check(ID, &buf), "length {len}");
            assert_eq!(
                skip_field_value(&buf, 2, 99, 2, 0).map_err(|e| e.reason),
                Err(LENGTH_TOO_BIG)
            );
        }
    }

    #[test]
    fn upb_rejects() {
        assert!(!check(ID, b"\x14")); // end group alone
        assert!(!check(ID, b"\xfb\x01\xf4\x01")); // mismatched end group
        assert!(!check(ID, b"\x02\x00")); // field 0
        assert!(!check(ID, b"\x80\x80\x80\x80\x10\x01")); // tag over 32 bits
        assert!(!check(ID, b"\x12\x01\xff")); // bad UTF-8
        assert!(!check(ID, b"\x0e")); // wire type 6
        assert!(!check(ID, b"\x12\x05ab")); // length past the end
        assert!(!check(ID, b"\x13\x13\x13")); // unterminated groups
        assert!(!check(
            "flyteidl.admin.Labels",
            b"\x0a\x05\x0a\x01\xff\x12\x00"
        )); // map key
        assert!(!check("flyteidl.admin.Notification", b"\x0a\x01\x81")); // packed, truncated
        assert!(!check(ID, b"\x12\x80\x80\x80\x80\x80\x00")); // a 6-byte length prefix
        assert!(!check(ID, b"\x5b\x04\x5c")); // an end-group of field 0 inside group 11
        assert!(!check(ID, b"\x5b\x80\x80\x80\x80\x10\x00\x5c")); // a tag over 32 bits in a group
        assert!(!check(ID, b"\x5b\x07\x5c")); // wire type 7 in a group
    }

    /// A `Literal` nesting `levels` deep (collection / literals, alternately).
    fn literal_chain(levels: usize) -> Vec<u8> {
        let mut b: Vec<u8> = Vec::new();
        for j in (0..levels).rev() {
            let field: u8 = if j % 2 == 0 { 2 } else { 1 };
            let mut out = vec![(field << 3) | 2];
            let mut len = b.len();
            loop {
                let byte = (len & 0x7f) as u8;
                len >>= 7;
                if len == 0 {
                    out.push(byte);
                    break;
                }
                out.push(byte | 0x80);
            }
            out.extend_from_slice(&b);
            b = out;
        }
        b
    }

    #[test]
    fn depth_limit() {
        assert!(check("flyteidl.core.Literal", &literal_chain(100)));
        assert!(!check("flyteidl.core.Literal", &literal_chain(101)));
    }

    /// The walk as first written, one recursive call per sub-message and nothing looked up ahead: what the
    /// table-driven loop must agree with, verdict and reason, on every input.
    fn reference(
        schema: &Schema,
        message: usize,
        buf: &[u8],
        depth: u32,
    ) -> Result<u32, &'static str> {
        let def = &schema.messages[message];
        let mut deepest = depth;
        let mut pos = 0;
        while pos < buf.len() {
            let (number, wire, after) = read_tag(buf, pos).map_err(|_| CORRUPT)?;
            pos = match wire {
                0 => (after..buf.len().min(after + 10))
                    .find(|&i| buf[i] < 0x80)
                    .map(|i| i + 1)
                    .ok_or(CORRUPT)?,
                1 | 5 => {
                    let size = if wire == 1 { 8 } else { 4 };
                    Some(after + size)
                        .filter(|&e| e <= buf.len())
                        .ok_or(CORRUPT)?
                }
                2 => {
                    let (len, start) = read_len(buf, after).map_err(|_| CORRUPT)?;
                    let stop = Some(start + len)
                        .filter(|&e| e <= buf.len())
                        .ok_or(CORRUPT)?;
                    let payload = &buf[start..stop];
                    match def.len_check(number) {
                        Check::None => {}
                        Check::Utf8 => {
                            std::str::from_utf8(payload).map_err(|_| BAD_UTF8)?;
                        }
                        Check::Message(inner) => {
                            if depth >= MAX_DEPTH {
                                return Err(TOO_DEEP);
                            }
                            deepest = deepest.max(reference(schema, inner, payload, depth + 1)?);
                        }
                        Check::Packed(w) => validate_packed(w, payload).map_err(|_| CORRUPT)?,
                    }
                    stop
                }
                3 => {
                    let mut reached = depth;
                    let stop =
                        skip_group(buf, after, number, depth + 1, &mut reached).map_err(|e| {
                            if e.reason == TOO_DEEP {
                                TOO_DEEP
                            } else {
                                CORRUPT
                            }
                        })?;
                    deepest = deepest.max(reached);
                    stop
                }
                _ => return Err(CORRUPT),
            };
        }
        Ok(deepest)
    }

    const DIFFERENTIAL: [&str; 10] = [
        "flyteidl.admin.Execution",
        "flyteidl.admin.ExecutionList",
        "flyteidl.admin.NodeExecution",
        "flyteidl.admin.TaskExecution",
        "flyteidl.admin.ExecutionClosure",
        "flyteidl.admin.Labels",
        "flyteidl.admin.Notification",
        "flyteidl.core.Literal",
        ID,
        "google.protobuf.Timestamp",
    ];

    fn agree(bytes: &[u8]) {
        let s = schema();
        for name in DIFFERENTIAL {
            let m = s.find(name).expect("message");
            for depth in [0, 90] {
                let fast = validate_at_depth(s, m, bytes, depth).map_err(|e| e.reason);
                assert_eq!(
                    fast,
                    reference(s, m, bytes, depth),
                    "{name} at depth {depth}: {bytes:02x?}"
                );
            }
        }
    }

    #[test]
    fn one_byte_and_longer_encodings_at_their_boundaries() {
        let s = schema();
        let spec = s.find("flyteidl.admin.ExecutionSpec").expect("spec");
        // field 15 has a one-byte tag, 16 a two-byte one; ExecutionSpec's 16 is a message, 24 a string
        for bytes in [
            &b"\x7a\x01\xff"[..],    // field 15, unknown: not looked into
            b"\x82\x01\x02\x08\x01", // auth_role (16), a valid message
            b"\x82\x01\x01\x80",     // auth_role (16), a truncated varint inside it
            b"\xc2\x01\x01\xff",     // tags (24), bad UTF-8 behind a two-byte tag
            b"\xc2\x01\x02\xc3\xa9", // tags (24), valid UTF-8
        ] {
            agree(bytes);
            let verdict = validate(s, spec, bytes).map_err(|e| e.reason);
            assert_eq!(verdict, reference(s, spec, bytes, 0).map(|_| ()));
        }
        // a string of 127 bytes has a one-byte length, 128 a two-byte one; a bad byte at either end
        for len in [126usize, 127, 128, 129] {
            for bad in [None, Some(0), Some(len - 1)] {
                let mut payload = vec![b'a'; len];
                if let Some(i) = bad {
                    payload[i] = 0xff;
                }
                let mut bytes = vec![0x12];
                if len < 128 {
                    bytes.push(len as u8);
                } else {
                    bytes.extend([(len as u8) | 0x80, (len >> 7) as u8]);
                }
                bytes.extend(&payload);
                assert_eq!(
                    check(ID, &bytes),
                    bad.is_none(),
                    "length {len}, bad {bad:?}"
                );
                agree(&bytes);
            }
        }
    }

    #[test]
    fn ascii_words_and_their_tails() {
        // every length around the word loads' edges, a non-ASCII byte (alone, or starting valid UTF-8)
        // at every position
        for len in 0..=72usize {
            assert!(is_ascii(&vec![b'x'; len]));
            for at in 0..len {
                let mut s = vec![b'x'; len];
                s[at] = 0x80;
                assert!(!is_ascii(&s), "length {len}, high bit at {at}");
                assert_eq!(check_utf8(&s), Err(BAD_UTF8));
                if at + 1 < len {
                    s[at..at + 2].copy_from_slice("é".as_bytes());
                    assert_eq!(check_utf8(&s), Ok(()), "length {len}, é at {at}");
                }
            }
        }
    }

    #[test]
    fn varint_ends_inside_their_message() {
        // every length of varint from 1 to 11 bytes, with 0 to 12 bytes after it in the buffer
        for len in 1..=11usize {
            for slack in 0..=12usize {
                let mut buf = vec![0x80u8; len - 1];
                buf.push(0x01);
                buf.extend(std::iter::repeat_n(0x80, slack));
                let expected = (len <= 10).then_some(len);
                assert_eq!(
                    varint_end(&buf, 0, buf.len()),
                    expected,
                    "{len} bytes, {slack} after"
                );
                // the message ends before the varint does; the buffer may go on past it
                let mut cut = buf.clone();
                cut.extend([0x01; 8]);
                for end in 0..len {
                    assert_eq!(varint_end(&cut, 0, end), None, "{len} bytes cut at {end}");
                    assert_eq!(
                        varint_end(&cut[..end], 0, end),
                        None,
                        "{len} bytes, {end} left"
                    );
                }
            }
        }
        // a sub-message's varint may not run on into its parent's bytes: Execution.id holding field 6 as
        // a varint cut at the id's end, followed in the Execution by a byte that would end it
        agree(b"\x0a\x02\x30\x80\x10\x01");
        assert!(!check(
            "flyteidl.admin.Execution",
            b"\x0a\x02\x30\x80\x10\x01"
        ));
        assert!(check(
            "flyteidl.admin.Execution",
            b"\x0a\x03\x30\x80\x01\x10\x01"
        ));
    }

    #[test]
    fn nesting_past_the_inline_levels() {
        // Literal chains cross the 16 levels kept in the loop's array into recursive calls
        for levels in [15, 16, 17, 18, 33, 99, 100, 101, 102] {
            agree(&literal_chain(levels));
        }
    }

    #[test]
    fn agrees_with_the_reference_walk() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/wire");
        let mut inputs: Vec<Vec<u8>> = std::fs::read_dir(&dir)
            .expect("the wire fuzz corpus")
            .map(|entry| std::fs::read(entry.expect("an entry").path()).expect("a file"))
            .collect();
        inputs.sort();
        assert!(!inputs.is_empty());
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for input in &inputs {
            agree(input);
            for _ in 0..300 {
                let mut bytes = input.clone();
                for _ in 0..=(next() % 3) {
                    if bytes.is_empty() {
                        break;
                    }
                    let at = (next() % bytes.len() as u64) as usize;
                    match next() % 4 {
                        0 => bytes[at] = next() as u8,
                        1 => bytes[at] ^= 0x80,
                        2 => bytes.truncate(at),
                        _ => {
                            bytes.remove(at);
                        }
                    }
                }
                agree(&bytes);
            }
        }
    }
}
