//! Record categories. The order and the codes are part of the file and envelope formats: append
//! new categories at the end, never reorder or reuse a code.

use crate::error::{CryptoError, Result};

/// A record category; `code()` is the byte stored in file headers and envelope contexts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    Note,
    Lab,
    Imaging,
    Prescription,
    Allergy,
    Immunization,
    Encounter,
    Document,
    Profile,
}

impl Category {
    /// All categories, in code order (index == code).
    pub const ALL: [Category; 9] = [
        Category::Note,
        Category::Lab,
        Category::Imaging,
        Category::Prescription,
        Category::Allergy,
        Category::Immunization,
        Category::Encounter,
        Category::Document,
        Category::Profile,
    ];

    /// The stable one-byte code.
    pub const fn code(self) -> u8 {
        match self {
            Category::Note => 0,
            Category::Lab => 1,
            Category::Imaging => 2,
            Category::Prescription => 3,
            Category::Allergy => 4,
            Category::Immunization => 5,
            Category::Encounter => 6,
            Category::Document => 7,
            Category::Profile => 8,
        }
    }

    /// The stable snake_case name.
    pub const fn name(self) -> &'static str {
        match self {
            Category::Note => "note",
            Category::Lab => "lab",
            Category::Imaging => "imaging",
            Category::Prescription => "prescription",
            Category::Allergy => "allergy",
            Category::Immunization => "immunization",
            Category::Encounter => "encounter",
            Category::Document => "document",
            Category::Profile => "profile",
        }
    }

    pub fn from_code(code: u8) -> Result<Self> {
        Self::ALL
            .get(usize::from(code))
            .copied()
            .ok_or(CryptoError::UnknownCategoryCode(code))
    }

    pub fn from_name(name: &str) -> Result<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|c| c.name() == name)
            .ok_or_else(|| CryptoError::UnknownCategoryName(name.to_owned()))
    }
}

impl core::fmt::Display for Category {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

impl core::str::FromStr for Category {
    type Err = CryptoError;
    fn from_str(s: &str) -> Result<Self> {
        Self::from_name(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_are_stable() {
        let names: Vec<&str> = Category::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(
            names,
            ["note", "lab", "imaging", "prescription", "allergy", "immunization", "encounter", "document", "profile"]
        );
        for (i, c) in Category::ALL.iter().enumerate() {
            assert_eq!(usize::from(c.code()), i);
            assert_eq!(Category::from_code(c.code()), Ok(*c));
            assert_eq!(c.name().parse::<Category>(), Ok(*c));
        }
        assert_eq!(Category::from_code(9), Err(CryptoError::UnknownCategoryCode(9)));
        assert!(Category::from_name("Lab").is_err());
    }
}
