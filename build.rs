//! Generates the prost types for flyteidl from `schema/flyteidl.binpb`, the FileDescriptorSet
//! exported from the pinned flyteidl Python package by `scripts/export_descriptors.py`.
//! No protoc is involved.

use std::error::Error;
use std::path::PathBuf;

use prost::Message;

const DESCRIPTORS: &str = "schema/flyteidl.binpb";
const VERSION: &str = "schema/VERSION";

fn main() -> Result<(), Box<dyn Error>> {
    println!("cargo:rerun-if-changed={DESCRIPTORS}");
    println!("cargo:rerun-if-changed={VERSION}");
    println!("cargo:rerun-if-changed=build.rs");

    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let bytes = std::fs::read(manifest_dir.join(DESCRIPTORS)).map_err(|e| {
        format!("cannot read {DESCRIPTORS} (run scripts/export_descriptors.py): {e}")
    })?;
    let fds = prost_types::FileDescriptorSet::decode(bytes.as_slice())?;

    // `.google.protobuf` types are not generated: prost-build maps them to `prost_types`
    // (compile_well_known_types is off by default).
    prost_build::Config::new().compile_fds(fds)?;
    Ok(())
}
