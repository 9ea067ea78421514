//! The category keys a party holds, by (patient, category, epoch). A grantee's keyring holds only
//! what its envelopes gave it, so a file of a later epoch is refused with `MissingCategoryKey`.

use std::collections::BTreeMap;

use crate::envelope::{open_category_key, Envelope, EnvelopeContext};
use crate::error::{CryptoError, Result};
use crate::file::{decrypt_file, DecryptedFile, RecordHeader};
use crate::keys::{CategoryKey, X25519SecretKey};
use crate::Category;

#[derive(Default, Debug, Clone)]
pub struct CategoryKeyring {
    keys: BTreeMap<(u64, Category, u32), CategoryKey>,
}

impl CategoryKeyring {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, context: EnvelopeContext, key: CategoryKey) {
        self.keys
            .insert((context.patient_id, context.category, context.epoch), key);
    }

    /// Opens `envelope` with `recipient` for `context` and keeps the key.
    pub fn insert_from_envelope(
        &mut self,
        recipient: &X25519SecretKey,
        context: EnvelopeContext,
        envelope: &Envelope,
    ) -> Result<()> {
        let key = open_category_key(recipient, &context, envelope)?;
        self.insert(context, key);
        Ok(())
    }

    pub fn get(&self, context: &EnvelopeContext) -> Option<&CategoryKey> {
        self.keys
            .get(&(context.patient_id, context.category, context.epoch))
    }

    /// The highest epoch held for (patient, category), if any.
    pub fn latest_epoch(&self, patient_id: u64, category: Category) -> Option<u32> {
        self.keys
            .range((patient_id, category, 0)..=(patient_id, category, u32::MAX))
            .next_back()
            .map(|((_, _, epoch), _)| *epoch)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Decrypts a file with the key its header names.
    pub fn decrypt_file(&self, file: &[u8]) -> Result<DecryptedFile> {
        let header = RecordHeader::parse(file)?;
        let context = EnvelopeContext {
            patient_id: header.patient_id,
            category: header.category,
            epoch: header.epoch,
        };
        let key = self.get(&context).ok_or(CryptoError::MissingCategoryKey {
            patient_id: header.patient_id,
            category: header.category.name(),
            epoch: header.epoch,
        })?;
        decrypt_file(key, file)
    }
}
