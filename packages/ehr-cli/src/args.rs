//! Parsers and checks of command-line input, shared by the command groups.

use std::path::Path;

use anyhow::{bail, Context, Result};
use cosmwasm_std::Timestamp;
use ehr_types::access::Scope;
use ehr_types::Category;

pub fn parse_category(text: &str) -> std::result::Result<Category, String> {
    Category::from_name(&text.to_ascii_lowercase()).ok_or_else(|| format!("unknown category {text:?} (note, lab, imaging, prescription, allergy, immunization, encounter, document, profile)"))
}

pub fn parse_scope(text: &str) -> std::result::Result<Scope, String> {
    match text.to_ascii_lowercase().as_str() {
        "read" => Ok(Scope::Read),
        "write" => Ok(Scope::Write),
        "manage" => Ok(Scope::Manage),
        _ => Err(format!("unknown scope {text:?} (read, write, manage)")),
    }
}

/// `--expires-in SECONDS` as a chain time.
pub fn expiry(seconds: Option<u64>) -> Result<Option<Timestamp>> {
    let Some(seconds) = seconds else {
        return Ok(None);
    };
    if seconds == 0 {
        bail!("--expires-in must be greater than 0");
    }
    Ok(Some(ehr_client::now()?.plus_seconds(seconds)))
}

pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}
