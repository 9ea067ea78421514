//! Who the CLI acts as: a wallet (secp256k1, from a mnemonic) and the X25519 key derived from it
//! (ehr-crypto FORMAT.md §5), plus the files kept under the client's home directory:
//! `keys/<name>.json` (imported mnemonics, mode 0600: a test keyring, like wasmd's `test` backend)
//! and `category-keys/<address>.json` (a patient's own category keys and the keys a grantee has
//! received, each sealed to its own X25519 public key, so the file holds no key in the clear).

use std::path::{Path, PathBuf};

use ehr_crypto::{
    CategoryKey, CategoryKeyring, CryptoError, Envelope, EnvelopeContext, KeyScope, WalletKey,
    X25519PublicKey, X25519SecretKey,
};
use ehr_types::Category;
use serde::{Deserialize, Serialize};

use crate::error::{ClientError, Result};

pub struct Identity {
    pub name: String,
    pub wallet: WalletKey,
    pub address: String,
    pub encryption_key: X25519SecretKey,
}

impl Identity {
    /// The wallet of `mnemonic` and its encryption key for `scope` (one chain and registry).
    pub fn from_mnemonic(name: &str, mnemonic: &str, scope: &KeyScope) -> Result<Self> {
        let wallet = WalletKey::from_mnemonic(mnemonic.trim())?;
        let address = wallet.address()?;
        let encryption_key = wallet.derive_encryption_key(scope)?;
        Ok(Self {
            name: name.to_string(),
            wallet,
            address,
            encryption_key,
        })
    }

    pub fn public_encryption_key(&self) -> X25519PublicKey {
        self.encryption_key.public_key()
    }
}

#[derive(Serialize, Deserialize)]
struct StoredKey {
    name: String,
    address: String,
    mnemonic: String,
}

/// Imported wallets by name.
pub struct KeyStore {
    dir: PathBuf,
}

impl KeyStore {
    pub fn new(home: &Path) -> Self {
        Self {
            dir: home.join("keys"),
        }
    }

    fn path(&self, name: &str) -> Result<PathBuf> {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(ClientError::InvalidInput(format!(
                "key name {name:?}: use letters, digits, - and _"
            )));
        }
        Ok(self.dir.join(format!("{name}.json")))
    }

    /// Checks the mnemonic, then stores it; returns the wallet's address.
    pub fn import(&self, name: &str, mnemonic: &str) -> Result<String> {
        let address = WalletKey::from_mnemonic(mnemonic.trim())?.address()?;
        let path = self.path(name)?;
        std::fs::create_dir_all(&self.dir).map_err(|e| io_error(&self.dir, e))?;
        let stored = StoredKey {
            name: name.to_string(),
            address: address.clone(),
            mnemonic: mnemonic.trim().to_string(),
        };
        let json =
            serde_json::to_vec_pretty(&stored).map_err(|e| ClientError::Encoding(e.to_string()))?;
        write_private(&path, &json)?;
        Ok(address)
    }

    /// The address of an imported key.
    pub fn address(&self, name: &str) -> Result<String> {
        Ok(self.stored(name)?.address)
    }

    /// An imported key with its encryption key for `scope`.
    pub fn load(&self, name: &str, scope: &KeyScope) -> Result<Identity> {
        let stored = self.stored(name)?;
        Identity::from_mnemonic(&stored.name, &stored.mnemonic, scope)
    }

    fn stored(&self, name: &str) -> Result<StoredKey> {
        let path = self.path(name)?;
        let bytes = std::fs::read(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ClientError::NotFound(format!(
                "no key named {name:?} (import it with `ehr keys import {name}`)"
            )),
            _ => io_error(&path, e),
        })?;
        serde_json::from_slice(&bytes)
            .map_err(|e| ClientError::Encoding(format!("{}: {e}", path.display())))
    }

    /// (name, address) of every imported key.
    pub fn list(&self) -> Result<Vec<(String, String)>> {
        let mut keys = Vec::new();
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(keys),
            Err(e) => return Err(io_error(&self.dir, e)),
        };
        for entry in entries.flatten() {
            if let Ok(stored) = serde_json::from_slice::<StoredKey>(
                &std::fs::read(entry.path()).unwrap_or_default(),
            ) {
                keys.push((stored.name, stored.address));
            }
        }
        keys.sort();
        Ok(keys)
    }
}

#[derive(Serialize, Deserialize, Default)]
struct SealedKeys {
    /// (patient id, category code, epoch, envelope base64), each sealed to the owner's own key.
    keys: Vec<(u64, u8, u32, String)>,
}

/// Category keys an identity holds: a patient's own, and those a grantee opened from its grants
/// (kept, because what was shared cannot be unshared: a revoke only stops later epochs).
pub struct OwnKeys {
    path: PathBuf,
    sealed: SealedKeys,
    pub keyring: CategoryKeyring,
    /// Envelopes on chain for this identity that did not open (junk another party stored, or
    /// a key sealed to another key): skipped, so the rest still opens.
    pub unopened: Vec<EnvelopeContext>,
}

impl OwnKeys {
    pub fn load(home: &Path, identity: &Identity) -> Result<Self> {
        let path = home
            .join("category-keys")
            .join(format!("{}.json", identity.address));
        let sealed: SealedKeys = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| ClientError::Encoding(format!("{}: {e}", path.display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => SealedKeys::default(),
            Err(e) => return Err(io_error(&path, e)),
        };
        let mut keyring = CategoryKeyring::new();
        for (patient_id, code, epoch, envelope) in &sealed.keys {
            let context = EnvelopeContext {
                patient_id: *patient_id,
                category: Category::from_code(*code)
                    .ok_or(CryptoError::UnknownCategoryCode(*code))?,
                epoch: *epoch,
            };
            keyring.insert_from_envelope(
                &identity.encryption_key,
                context,
                &Envelope::from_base64(envelope)?,
            )?;
        }
        Ok(Self {
            path,
            sealed,
            keyring,
            unopened: Vec::new(),
        })
    }

    /// Keeps a key (sealed to the identity's own public key) unless it is already held.
    pub fn remember(
        &mut self,
        identity: &Identity,
        context: EnvelopeContext,
        key: CategoryKey,
    ) -> Result<()> {
        if self.keyring.get(&context).is_some() {
            return Ok(());
        }
        let envelope =
            ehr_crypto::seal_category_key(&identity.public_encryption_key(), &context, &key)?;
        self.sealed.keys.push((
            context.patient_id,
            context.category.code(),
            context.epoch,
            envelope.to_base64(),
        ));
        let dir = self.path.parent().expect("has a parent");
        std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
        let json = serde_json::to_vec_pretty(&self.sealed)
            .map_err(|e| ClientError::Encoding(e.to_string()))?;
        write_private(&self.path, &json)?;
        self.keyring.insert(context, key);
        Ok(())
    }
}

/// Writes a file readable by its owner only (mode 0600), replacing any file at `path` whole.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let partial = path.with_extension("partial");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&partial)
        .map_err(|e| io_error(&partial, e))?;
    file.write_all(bytes).map_err(|e| io_error(&partial, e))?;
    std::fs::rename(&partial, path).map_err(|e| io_error(path, e))
}

fn io_error(path: &Path, error: std::io::Error) -> ClientError {
    ClientError::Storage(format!("{}: {error}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MNEMONIC: &str = "oval throw tide rubber sting noble winner champion beach seat require replace obtain engine river pole trigger fame sunset gun hedgehog enough beach fall";

    #[test]
    fn keys_import_and_own_keys_survive_a_reload_sealed() {
        let home = tempfile::tempdir().unwrap();
        let store = KeyStore::new(home.path());
        let address = store.import("doctor1", MNEMONIC).unwrap();
        assert_eq!(address, "wasm1vckcn2z6vxfwtgk0m0nnus80gzphe5n7nyvd8w");
        assert_eq!(
            store.list().unwrap(),
            vec![("doctor1".to_string(), address.clone())]
        );
        assert_eq!(store.address("doctor1").unwrap(), address);
        let scope = ehr_crypto::vectors::VECTOR_SCOPE;
        let identity = store.load("doctor1", &scope).unwrap();
        assert!(store.import("bad name", MNEMONIC).is_err());
        assert!(store.import("x", "not a mnemonic").is_err());

        let context = EnvelopeContext {
            patient_id: 3,
            category: Category::Lab,
            epoch: 0,
        };
        let mut own = OwnKeys::load(home.path(), &identity).unwrap();
        let key = CategoryKey::generate().unwrap();
        own.remember(&identity, context, key.clone()).unwrap();
        let reloaded = OwnKeys::load(home.path(), &store.load("doctor1", &scope).unwrap()).unwrap();
        assert_eq!(
            reloaded.keyring.get(&context).unwrap().as_bytes(),
            key.as_bytes()
        );
        let on_disk = std::fs::read_to_string(
            home.path()
                .join("category-keys")
                .join(format!("{}.json", identity.address)),
        )
        .unwrap();
        assert!(!on_disk.contains(&hex::encode(key.as_bytes())));
    }
}
