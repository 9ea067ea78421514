//! FHIR R4 for ehr-chain (docs/fhir.md): which resources are records and of which category,
//! the export Bundle, and the ids its entries are named by.

pub mod category;
pub mod export;
pub mod ids;
pub mod import;
pub mod meta;
pub mod typed;
