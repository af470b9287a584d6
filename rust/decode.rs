//! Framing and batch validation, without Python: split an input into record spans (`list`, `delimited`,
//! one `message`, or a sequence of buffers) and check every record as upb would, across threads.
//!
//! Where a bad input is reported follows the python backend exactly (see `python/flytecodec/bulk.py`):
//! * list: the first problem in wire order — a record (its index, its tag's offset) or a break in the
//!   list's own framing or page token (the number of records before it, the broken field's tag offset);
//!   a record too deep only when counted from the list gets index = all records, offset 0;
//! * delimited: a broken length prefix first (the records before it, the prefix's offset), then the
//!   first bad record (its index, its prefix's offset);
//! * message and sequence items: the first bad record, offset 0.

use std::num::NonZeroUsize;

use crate::messages::Schema;
use crate::wire::{read_tag, read_varint, validate_at_depth, WireError};

/// A record: which buffer, and its byte range there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub buffer: usize,
    pub start: usize,
    pub end: usize,
    /// Where the record is reported to start (its tag or length prefix), in its buffer.
    pub offset: usize,
}

/// A decode failure: which record, where it starts, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeFailure {
    pub index: usize,
    pub offset: usize,
    pub reason: String,
}

/// The framings of a bytes input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// A `*List` response: records are field `records`, the page token is field `token`.
    List {
        records: u32,
        token: u32,
    },
    Delimited,
    Message,
}

/// The spans of the records of `buf`, and the page token of a list, or the first framing failure
/// (with the records found before it, which may hold an earlier failure for a list).
pub struct Framed {
    pub spans: Vec<Span>,
    pub token: String,
    pub failure: Option<DecodeFailure>,
}

pub fn frame(buf: &[u8], framing: Framing) -> Framed {
    match framing {
        Framing::Message => Framed {
            spans: vec![Span {
                buffer: 0,
                start: 0,
                end: buf.len(),
                offset: 0,
            }],
            token: String::new(),
            failure: None,
        },
        Framing::Delimited => frame_delimited(buf),
        Framing::List { records, token } => frame_list(buf, records, token),
    }
}

fn frame_delimited(buf: &[u8]) -> Framed {
    let mut spans = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let failure = |reason: String, spans: &Vec<Span>| DecodeFailure {
            index: spans.len(),
            offset: pos,
            reason,
        };
        let (len, start) = match read_varint(buf, pos) {
            Ok(v) => v,
            Err(_) => {
                let f = failure("bad length prefix".into(), &spans);
                return framed_with(spans, f);
            }
        };
        let remaining = (buf.len() - start) as u64;
        if len > remaining {
            let f = failure(
                format!("length prefix claims {len} bytes but {remaining} remain"),
                &spans,
            );
            return framed_with(spans, f);
        }
        let end = start + len as usize;
        spans.push(Span {
            buffer: 0,
            start,
            end,
            offset: pos,
        });
        pos = end;
    }
    Framed {
        spans,
        token: String::new(),
        failure: None,
    }
}

fn framed_with(spans: Vec<Span>, failure: DecodeFailure) -> Framed {
    Framed {
        spans,
        token: String::new(),
        failure: Some(failure),
    }
}

fn frame_list(buf: &[u8], records: u32, token_field: u32) -> Framed {
    let mut spans = Vec::new();
    let mut token = String::new();
    let mut pos = 0;
    while pos < buf.len() {
        let tag_offset = pos;
        let field = read_tag(buf, pos).and_then(|(number, wire, after)| {
            let (start, end) = skip_value(buf, after, number, wire, tag_offset)?;
            Ok((number, wire, start, end))
        });
        let (number, wire, start, end) = match field {
            Ok(f) => f,
            Err(e) => {
                let failure = DecodeFailure {
                    index: spans.len(),
                    offset: tag_offset,
                    reason: e.reason.to_string(),
                };
                return Framed {
                    spans,
                    token,
                    failure: Some(failure),
                };
            }
        };
        if number == records && wire == 2 {
            spans.push(Span {
                buffer: 0,
                start,
                end,
                offset: tag_offset,
            });
        } else if number == token_field && wire == 2 {
            match std::str::from_utf8(&buf[start..end]) {
                Ok(t) => token = t.to_string(),
                Err(_) => {
                    let failure = DecodeFailure {
                        index: spans.len(),
                        offset: tag_offset,
                        reason: "page token: invalid UTF-8".into(),
                    };
                    return Framed {
                        spans,
                        token,
                        failure: Some(failure),
                    };
                }
            }
        }
        pos = end;
    }
    Framed {
        spans,
        token,
        failure: None,
    }
}

/// The value span of a top-level field of a list (payload only for length-delimited fields).
fn skip_value(
    buf: &[u8],
    after_tag: usize,
    number: u32,
    wire: u8,
    tag_offset: usize,
) -> Result<(usize, usize), WireError> {
    match wire {
        2 => {
            let (len, start) = read_varint(buf, after_tag)?;
            let end = usize::try_from(len)
                .ok()
                .and_then(|len| start.checked_add(len))
                .filter(|&end| end <= buf.len())
                .ok_or(WireError {
                    offset: tag_offset,
                    reason: "length runs past the end of the input",
                })?;
            Ok((start, end))
        }
        _ => {
            let end = crate::wire::skip_field_value(buf, after_tag, number, wire, tag_offset)?;
            Ok((after_tag, end))
        }
    }
}

/// The outcome of validating a batch of records.
#[derive(Debug, PartialEq, Eq)]
pub enum Checked {
    /// Every record is valid; `deepest` is the deepest nesting any reached (each standing alone).
    Valid { deepest: u32 },
    /// The first failing record (lowest index) and why.
    Invalid { index: usize, error: WireError },
}

/// Validate `spans` of `buffers` as messages `message`, each standing alone, on up to `threads` threads.
pub fn validate_all(
    schema: &Schema,
    message: usize,
    buffers: &[&[u8]],
    spans: &[Span],
    threads: usize,
) -> Checked {
    let check = |chunk: &[Span], first: usize| -> Checked {
        let mut deepest = 0;
        for (i, span) in chunk.iter().enumerate() {
            let bytes = &buffers[span.buffer][span.start..span.end];
            match validate_at_depth(schema, message, bytes, 0) {
                Ok(d) => deepest = deepest.max(d),
                Err(error) => {
                    return Checked::Invalid {
                        index: first + i,
                        error,
                    }
                }
            }
        }
        Checked::Valid { deepest }
    };
    let threads = threads
        .max(1)
        .min(spans.len().div_ceil(MIN_RECORDS_PER_THREAD).max(1));
    if threads == 1 {
        return check(spans, 0);
    }
    let size = spans.len().div_ceil(threads);
    let results: Vec<Checked> = std::thread::scope(|scope| {
        let handles: Vec<_> = spans
            .chunks(size)
            .enumerate()
            .map(|(k, chunk)| scope.spawn(move || check(chunk, k * size)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or(Checked::Invalid {
                    index: 0,
                    error: WireError {
                        offset: 0,
                        reason: "internal error: a decoding thread panicked",
                    },
                })
            })
            .collect()
    });
    let mut deepest = 0;
    for result in results {
        match result {
            Checked::Valid { deepest: d } => deepest = deepest.max(d),
            invalid => return invalid, // chunks are in order: the first invalid chunk has the lowest index
        }
    }
    Checked::Valid { deepest }
}

/// Below this many records per thread, one thread is faster than starting more.
const MIN_RECORDS_PER_THREAD: usize = 2048;

/// The number of threads to decode with: the machine's cores.
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(NonZeroUsize::get)
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::schema;

    fn delimited(records: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for r in records {
            out.push(r.len() as u8);
            out.extend_from_slice(r);
        }
        out
    }

    #[test]
    fn delimited_framing() {
        let data = delimited(&[b"\x0a\x00", b"", b"\x0a\x02\x0a\x00"]);
        let framed = frame(&data, Framing::Delimited);
        assert!(framed.failure.is_none());
        let ends: Vec<_> = framed
            .spans
            .iter()
            .map(|s| (s.offset, s.start, s.end))
            .collect();
        assert_eq!(ends, vec![(0, 1, 3), (3, 4, 4), (4, 5, 9)]);
        let truncated = frame(&data[..7], Framing::Delimited);
        let failure = truncated.failure.expect("truncated");
        assert_eq!((failure.index, failure.offset), (2, 4));
    }

    #[test]
    fn list_framing_and_token() {
        // executions: two records, then token "t"
        let data = b"\x0a\x00\x0a\x02\x0a\x00\x12\x01t";
        let framed = frame(
            data,
            Framing::List {
                records: 1,
                token: 2,
            },
        );
        assert!(framed.failure.is_none());
        assert_eq!(framed.spans.len(), 2);
        assert_eq!(framed.token, "t");
        let bad = frame(
            b"\x0a\x00\x12\x01\xff",
            Framing::List {
                records: 1,
                token: 2,
            },
        );
        let failure = bad.failure.expect("bad token");
        assert_eq!((failure.index, failure.offset), (1, 2));
    }

    #[test]
    fn parallel_validation_reports_the_lowest_index() {
        let s = schema();
        let id = s.find("flyteidl.core.Identifier").expect("Identifier");
        let good: &[u8] = b"\x12\x01a";
        let bad: &[u8] = b"\x12\x01\xff";
        let mut buffers: Vec<&[u8]> = vec![good; 10_000];
        buffers[7_000] = bad;
        buffers[9_000] = bad;
        let spans: Vec<Span> = (0..buffers.len())
            .map(|i| Span {
                buffer: i,
                start: 0,
                end: buffers[i].len(),
                offset: 0,
            })
            .collect();
        let found = validate_all(s, id, &buffers, &spans, 4);
        assert!(matches!(found, Checked::Invalid { index: 7_000, .. }));
        let fine = validate_all(s, id, &buffers[..5000], &spans[..5000], 4);
        assert_eq!(fine, Checked::Valid { deepest: 0 });
    }
}
