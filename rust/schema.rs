//! The flyteidl schema this build was generated from, embedded for identification.

/// `schema/flyteidl.binpb`: the FileDescriptorSet that `build.rs` generated the types from.
pub const DESCRIPTOR_SET: &[u8] = include_bytes!("../schema/flyteidl.binpb");

/// The flyteidl Python package version the descriptors were exported from (`schema/VERSION`).
pub const FLYTEIDL_VERSION: &str = include_str!("../schema/VERSION").trim_ascii();

/// 64-bit FNV-1a of `bytes`: cheap, stable, and easy to recompute in Python.
pub const fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

/// `fnv1a64` of [`DESCRIPTOR_SET`], computed at compile time.
pub const DESCRIPTOR_SET_FNV1A64: u64 = fnv1a64(DESCRIPTOR_SET);

/// The schema digest as exposed to Python: 16 lowercase hex digits of [`DESCRIPTOR_SET_FNV1A64`].
pub fn digest_hex() -> String {
    format!("{DESCRIPTOR_SET_FNV1A64:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn fnv1a64_known_values() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn digest_is_hex_of_embedded_bytes() {
        let hex = digest_hex();
        assert_eq!(hex.len(), 16);
        assert_eq!(
            u64::from_str_radix(&hex, 16).ok(),
            Some(fnv1a64(DESCRIPTOR_SET))
        );
    }

    #[test]
    fn version_is_trimmed() {
        assert!(!FLYTEIDL_VERSION.is_empty());
        assert_eq!(FLYTEIDL_VERSION, FLYTEIDL_VERSION.trim());
    }

    #[test]
    fn embedded_descriptors_cover_the_admin_execution_files() {
        let fds = prost_types::FileDescriptorSet::decode(DESCRIPTOR_SET)
            .expect("valid FileDescriptorSet");
        let names: Vec<&str> = fds.file.iter().map(|f| f.name()).collect();
        for wanted in [
            "flyteidl/admin/execution.proto",
            "flyteidl/admin/node_execution.proto",
            "flyteidl/admin/task_execution.proto",
        ] {
            assert!(names.contains(&wanted), "{wanted} missing from {names:?}");
        }
    }
}
