//! Writes packages/ehr-crypto/test-vectors.json (or prints it with `--stdout`).
//! Deterministic: running it twice gives the same bytes.

use std::process::ExitCode;

fn main() -> ExitCode {
    let json = match ehr_crypto::vectors::generate_json() {
        Ok(json) => json,
        Err(e) => {
            eprintln!("gen-vectors: {e}");
            return ExitCode::FAILURE;
        }
    };
    if std::env::args().any(|a| a == "--stdout") {
        print!("{json}");
        return ExitCode::SUCCESS;
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/test-vectors.json");
    match std::fs::write(path, json) {
        Ok(()) => {
            println!("wrote {path}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("gen-vectors: cannot write {path}: {e}");
            ExitCode::FAILURE
        }
    }
}
