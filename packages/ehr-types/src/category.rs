use cosmwasm_schema::cw_serde;

/// What kind of health data a record holds. Grants are scoped by category.
///
/// The order is stable: `code()` is used in storage keys and in the encrypted file header.
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
}
