//! SHA-256 fingerprints as hex text: of model files (cache manifests), data files and run inputs.

use sha2::{Digest, Sha256};

/// The hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}
