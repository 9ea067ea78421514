use cosmwasm_schema::cw_serde;

/// What kind of health data a record holds. Grants are scoped by category.
///
/// The order is stable: `code()` is used in storage keys, in the encrypted file header and in HPKE
/// envelope contexts. Append new categories at the end; never reorder or reuse a code.
#[cw_serde]
#[derive(Copy, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    Note,
    Lab,
    Imaging,
    Prescription,
    Allergy,
    Immunization,
    Encounter,
    Document,
    /// The patient's encrypted profile (name, date of birth, ...). Reserved for the profile blob;
    /// records cannot use it.
    Profile,
}

impl Category {
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

    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(code: u8) -> Option<Category> {
        Category::ALL.get(usize::from(code)).copied()
    }

    /// The stable snake_case name, as in the JSON messages.
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

    /// The name people read ("Lab", "Prescription").
    pub const fn label(self) -> &'static str {
        match self {
            Category::Note => "Note",
            Category::Lab => "Lab",
            Category::Imaging => "Imaging",
            Category::Prescription => "Prescription",
            Category::Allergy => "Allergy",
            Category::Immunization => "Immunization",
            Category::Encounter => "Encounter",
            Category::Document => "Document",
            Category::Profile => "Profile",
        }
    }

    pub fn from_name(name: &str) -> Option<Category> {
        Category::ALL
            .iter()
            .copied()
            .find(|category| category.name() == name)
    }
}

impl core::fmt::Display for Category {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_follow_declaration_order() {
        for (index, category) in Category::ALL.iter().enumerate() {
            assert_eq!(usize::from(category.code()), index);
            assert_eq!(Category::from_code(category.code()), Some(*category));
        }
        assert_eq!(Category::from_code(9), None);
    }

    #[test]
    fn names_are_the_json_names() {
        for category in Category::ALL {
            let json = cosmwasm_std::to_json_string(&category).unwrap();
            assert_eq!(json, format!("\"{}\"", category.name()));
            assert_eq!(Category::from_name(category.name()), Some(category));
        }
        assert_eq!(Category::from_name("Lab"), None);
    }
}
