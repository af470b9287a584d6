//! The message table: every message of the embedded flyteidl descriptor set, with what the decoder needs
//! to know of each field (its number, wire type, whether it is repeated, string, a sub-message, in a
//! oneof). Built once from [`crate::schema::DESCRIPTOR_SET`], so the Rust side and the Python models read
//! the same schema.

use std::collections::HashMap;
use std::sync::OnceLock;

use prost::Message as _;
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, FileDescriptorSet};

/// The protobuf scalar types, and sub-messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Int32,
    Int64,
    UInt32,
    UInt64,
    SInt32,
    SInt64,
    Fixed32,
    Fixed64,
    SFixed32,
    SFixed64,
    Bool,
    Enum,
    Float,
    Double,
    String,
    Bytes,
    /// A sub-message: its index in [`Schema::messages`].
    Message(usize),
    /// A proto2 group (none in flyteidl; read as an unknown field).
    Group,
}

impl Kind {
    /// The wire type a non-packed value of this kind is written with.
    pub fn wire_type(self) -> u8 {
        match self {
            Kind::Int32
            | Kind::Int64
            | Kind::UInt32
            | Kind::UInt64
            | Kind::SInt32
            | Kind::SInt64
            | Kind::Bool
            | Kind::Enum => 0,
            Kind::Fixed64 | Kind::SFixed64 | Kind::Double => 1,
            Kind::Fixed32 | Kind::SFixed32 | Kind::Float => 5,
            Kind::String | Kind::Bytes | Kind::Message(_) => 2,
            Kind::Group => 3,
        }
    }

    /// Whether a repeated field of this kind may be packed (all scalars but strings and bytes).
    pub fn packable(self) -> bool {
        !matches!(
            self,
            Kind::String | Kind::Bytes | Kind::Message(_) | Kind::Group
        )
    }
}

/// One field of a message.
#[derive(Clone, Debug)]
pub struct FieldDef {
    pub name: String,
    pub number: u32,
    pub kind: Kind,
    pub repeated: bool,
    /// Index of the (real or synthetic) oneof the field belongs to, in its message.
    pub oneof: Option<usize>,
}

/// What validation does with a length-delimited field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// Nothing: bytes, an unknown field, or a known field whose wire type is not 2.
    None,
    /// A `string`: valid UTF-8.
    Utf8,
    /// A sub-message of this index: valid recursively.
    Message(usize),
    /// A packed repeated scalar: whole values of this wire type (0, 1 or 5).
    Packed(u8),
}

/// What validation does with a field whose tag is one byte (field numbers 1 to 15), decided ahead from
/// that byte: the wire type and, for a length-delimited field, its [`Check`], in one table lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TagStep {
    /// Not a valid tag: field number 0, or wire type 4 (an end-group with no group), 6 or 7.
    Corrupt,
    /// A varint.
    Varint,
    /// A fixed 64-bit value.
    Fixed64,
    /// A fixed 32-bit value.
    Fixed32,
    /// A length-delimited field with nothing to check ([`Check::None`]).
    Bytes,
    /// A length-delimited `string` ([`Check::Utf8`]).
    Utf8,
    /// A length-delimited sub-message of this index ([`Check::Message`]).
    Message(u16),
    /// Anything else (a group, a packed field, a message index past `u16`): the general path.
    General,
}

/// The [`TagStep`] of every one-byte tag (below 0x80).
pub type TagSteps = [TagStep; 128];

/// One message: its fields sorted by number, the members of each of its oneofs, the check of a
/// length-delimited occurrence of each field number (dense up to [`DENSE_NUMBERS`]), and the step of each
/// one-byte tag.
#[derive(Clone, Debug)]
pub struct MessageDef {
    pub full_name: String,
    pub fields: Vec<FieldDef>,
    pub oneofs: Vec<Vec<u32>>,
    /// Whether this is the entry message of a map field (`options.map_entry`).
    pub map_entry: bool,
    checks: Vec<Check>,
    steps: TagSteps,
}

/// Field numbers below this have their check in a dense table; higher ones are looked up.
pub const DENSE_NUMBERS: u32 = 256;

impl MessageDef {
    pub fn field(&self, number: u32) -> Option<&FieldDef> {
        self.fields
            .binary_search_by_key(&number, |f| f.number)
            .ok()
            .map(|i| &self.fields[i])
    }

    /// What to check in a length-delimited occurrence of field `number`.
    #[inline]
    pub fn len_check(&self, number: u32) -> Check {
        match self.checks.get(number as usize) {
            Some(&check) => check,
            None if number < DENSE_NUMBERS => Check::None,
            None => self.field(number).map_or(Check::None, check_of),
        }
    }

    /// The validation step of each one-byte tag.
    #[inline]
    pub fn tag_steps(&self) -> &TagSteps {
        &self.steps
    }
}

/// The step of one-byte tag `tag` (below 0x80) in a message whose length-delimited checks are `checks`.
fn tag_step(tag: u8, checks: &[Check]) -> TagStep {
    let number = tag >> 3;
    if number == 0 {
        return TagStep::Corrupt;
    }
    match tag & 7 {
        0 => TagStep::Varint,
        1 => TagStep::Fixed64,
        5 => TagStep::Fixed32,
        2 => match checks
            .get(usize::from(number))
            .copied()
            .unwrap_or(Check::None)
        {
            Check::None => TagStep::Bytes,
            Check::Utf8 => TagStep::Utf8,
            Check::Message(i) => u16::try_from(i).map_or(TagStep::General, TagStep::Message),
            Check::Packed(_) => TagStep::General,
        },
        3 => TagStep::General,
        _ => TagStep::Corrupt,
    }
}

fn check_of(f: &FieldDef) -> Check {
    match f.kind {
        Kind::String => Check::Utf8,
        Kind::Message(i) => Check::Message(i),
        kind if f.repeated && kind.packable() => Check::Packed(kind.wire_type()),
        _ => Check::None,
    }
}

/// All messages of the descriptor set.
#[derive(Debug)]
pub struct Schema {
    pub messages: Vec<MessageDef>,
    index: HashMap<String, usize>,
}

impl Schema {
    /// The message index of a full name such as `flyteidl.admin.Execution`.
    pub fn find(&self, full_name: &str) -> Option<usize> {
        self.index.get(full_name).copied()
    }

    /// Whether `kind` is the message named `full_name`.
    pub fn is_message(&self, kind: Kind, full_name: &str) -> bool {
        matches!(kind, Kind::Message(i) if self.messages[i].full_name == full_name)
    }

    /// Build the table from a serialized `FileDescriptorSet`.
    pub fn from_descriptor_set(bytes: &[u8]) -> Result<Schema, String> {
        let set = FileDescriptorSet::decode(bytes).map_err(|e| e.to_string())?;
        let mut protos: Vec<(String, &DescriptorProto)> = Vec::new();
        for file in &set.file {
            let package = file.package();
            for message in &file.message_type {
                collect(package, message, &mut protos);
            }
        }
        let index: HashMap<String, usize> = protos
            .iter()
            .enumerate()
            .map(|(i, (name, _))| (name.clone(), i))
            .collect();
        let mut messages = Vec::with_capacity(protos.len());
        for (full_name, proto) in &protos {
            let mut fields = Vec::with_capacity(proto.field.len());
            for f in &proto.field {
                let kind = match f.r#type() {
                    Type::Int32 => Kind::Int32,
                    Type::Int64 => Kind::Int64,
                    Type::Uint32 => Kind::UInt32,
                    Type::Uint64 => Kind::UInt64,
                    Type::Sint32 => Kind::SInt32,
                    Type::Sint64 => Kind::SInt64,
                    Type::Fixed32 => Kind::Fixed32,
                    Type::Fixed64 => Kind::Fixed64,
                    Type::Sfixed32 => Kind::SFixed32,
                    Type::Sfixed64 => Kind::SFixed64,
                    Type::Bool => Kind::Bool,
                    Type::Enum => Kind::Enum,
                    Type::Float => Kind::Float,
                    Type::Double => Kind::Double,
                    Type::String => Kind::String,
                    Type::Bytes => Kind::Bytes,
                    Type::Group => Kind::Group,
                    Type::Message => {
                        let target = f.type_name().trim_start_matches('.');
                        Kind::Message(*index.get(target).ok_or_else(|| {
                            format!("{full_name}.{}: unknown type {target}", f.name())
                        })?)
                    }
                };
                fields.push(FieldDef {
                    name: f.name().to_string(),
                    number: u32::try_from(f.number()).map_err(|e| e.to_string())?,
                    kind,
                    repeated: f.label() == Label::Repeated,
                    oneof: f.oneof_index.and_then(|i| usize::try_from(i).ok()),
                });
            }
            fields.sort_by_key(|f| f.number);
            let mut oneofs = vec![Vec::new(); proto.oneof_decl.len()];
            for f in &fields {
                if let Some(members) = f.oneof.and_then(|i| oneofs.get_mut(i)) {
                    members.push(f.number);
                }
            }
            let dense = fields
                .iter()
                .map(|f| f.number + 1)
                .filter(|&n| n <= DENSE_NUMBERS)
                .max()
                .unwrap_or(0);
            let mut checks = vec![Check::None; dense as usize];
            for f in fields.iter().filter(|f| f.number < dense) {
                checks[f.number as usize] = check_of(f);
            }
            let steps = std::array::from_fn(|tag| tag_step(tag as u8, &checks));
            messages.push(MessageDef {
                full_name: full_name.clone(),
                fields,
                oneofs,
                map_entry: proto
                    .options
                    .as_ref()
                    .and_then(|o| o.map_entry)
                    .unwrap_or(false),
                checks,
                steps,
            });
        }
        Ok(Schema { messages, index })
    }
}

fn collect<'a>(
    scope: &str,
    message: &'a DescriptorProto,
    out: &mut Vec<(String, &'a DescriptorProto)>,
) {
    let name = if scope.is_empty() {
        message.name().to_string()
    } else {
        format!("{scope}.{}", message.name())
    };
    for nested in &message.nested_type {
        collect(&name, nested, out);
    }
    out.push((name, message));
}

/// The schema of the embedded descriptor set, built on first use.
pub fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        Schema::from_descriptor_set(crate::schema::DESCRIPTOR_SET)
            .unwrap_or_else(|e| panic!("the embedded descriptor set is invalid: {e}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn execution_fields() {
        let s = schema();
        let exec = &s.messages[s.find("flyteidl.admin.Execution").expect("Execution")];
        let id = exec.field(1).expect("id");
        assert_eq!(id.name, "id");
        assert!(
            matches!(id.kind, Kind::Message(i) if s.messages[i].full_name == "flyteidl.core.WorkflowExecutionIdentifier")
        );
        let closure = &s.messages[s.find("flyteidl.admin.ExecutionClosure").expect("closure")];
        let outputs = closure.field(1).expect("outputs");
        let error = closure.field(2).expect("error");
        assert!(outputs.oneof.is_some() && outputs.oneof == error.oneof);
        let labels = &s.messages[s
            .find("flyteidl.admin.Labels.ValuesEntry")
            .expect("map entry")];
        assert_eq!(labels.field(1).map(|f| f.kind), Some(Kind::String));
        assert!(labels.map_entry && !exec.map_entry);
    }

    #[test]
    fn wire_types() {
        assert_eq!(Kind::SInt64.wire_type(), 0);
        assert_eq!(Kind::Double.wire_type(), 1);
        assert_eq!(Kind::Float.wire_type(), 5);
        assert_eq!(Kind::Message(0).wire_type(), 2);
        assert!(Kind::Enum.packable() && !Kind::String.packable());
    }
}
