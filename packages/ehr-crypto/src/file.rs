//! Encrypted record files: a versioned, authenticated header followed by the XChaCha20-Poly1305
//! ciphertext of the content. The byte layout is specified in FORMAT.md.

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{Tag, XChaCha20Poly1305, XNonce};
use rand_core::CryptoRng;
use zeroize::{Zeroize, Zeroizing};

use crate::error::{CryptoError, Result};
use crate::keys::CategoryKey;
use crate::rng::os_rng;
use crate::Category;

/// First four bytes of every encrypted file: ASCII "EHRF".
pub const FILE_MAGIC: [u8; 4] = *b"EHRF";
/// The only format version this crate writes and reads.
pub const FILE_FORMAT_VERSION: u8 = 1;

/// Length of the fixed header fields (magic .. record version): the AAD of the data key wrap.
pub const HEADER_FIELDS_LEN: usize = 22;
/// XChaCha20-Poly1305 nonce length.
pub const NONCE_LEN: usize = 24;
/// Poly1305 tag length.
pub const TAG_LEN: usize = 16;
/// Length of a data key and of a category key.
pub const KEY_LEN: usize = 32;
/// Length of the wrapped data key (ciphertext + tag).
pub const WRAPPED_KEY_LEN: usize = KEY_LEN + TAG_LEN;
/// Length of the whole header: fields, wrap nonce, wrapped data key, content nonce. It is the AAD
/// of the content encryption.
pub const HEADER_LEN: usize = HEADER_FIELDS_LEN + NONCE_LEN + WRAPPED_KEY_LEN + NONCE_LEN;
/// Smallest valid file: a header and the tag of an empty content.
pub const MIN_FILE_LEN: usize = HEADER_LEN + TAG_LEN;

const WRAP_NONCE_AT: usize = HEADER_FIELDS_LEN;
const WRAPPED_KEY_AT: usize = WRAP_NONCE_AT + NONCE_LEN;
const CONTENT_NONCE_AT: usize = WRAPPED_KEY_AT + WRAPPED_KEY_LEN;

/// What a file is about. All of it is authenticated; none of it is secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RecordHeader {
    pub patient_id: u64,
    pub category: Category,
    /// Key epoch of the category key that wraps the data key; bumped on revoke.
    pub epoch: u32,
    /// Version of the record this file is (1 for the first version).
    pub record_version: u32,
}

impl RecordHeader {
    /// The 22 header-field bytes (magic, format version, patient id, category, epoch, record version).
    pub fn to_field_bytes(&self) -> [u8; HEADER_FIELDS_LEN] {
        let mut out = [0u8; HEADER_FIELDS_LEN];
        out[0..4].copy_from_slice(&FILE_MAGIC);
        out[4] = FILE_FORMAT_VERSION;
        out[5..13].copy_from_slice(&self.patient_id.to_be_bytes());
        out[13] = self.category.code();
        out[14..18].copy_from_slice(&self.epoch.to_be_bytes());
        out[18..22].copy_from_slice(&self.record_version.to_be_bytes());
        out
    }

    /// Parses and validates the header fields at the start of `file` (no key needed).
    pub fn parse(file: &[u8]) -> Result<Self> {
        if file.len() < MIN_FILE_LEN {
            return Err(CryptoError::Truncated {
                len: file.len(),
                min: MIN_FILE_LEN,
            });
        }
        let field = |at: usize, len: usize| {
            file.get(at..at + len).ok_or(CryptoError::Truncated {
                len: file.len(),
                min: MIN_FILE_LEN,
            })
        };
        if field(0, 4)? != FILE_MAGIC {
            return Err(CryptoError::BadMagic);
        }
        let version = field(4, 1)?[0];
        if version != FILE_FORMAT_VERSION {
            return Err(CryptoError::UnsupportedVersion(version));
        }
        let patient_id = u64::from_be_bytes(to_array(field(5, 8)?)?);
        let code = field(13, 1)?[0];
        let category = Category::from_code(code).ok_or(CryptoError::UnknownCategoryCode(code))?;
        let epoch = u32::from_be_bytes(to_array(field(14, 4)?)?);
        let record_version = u32::from_be_bytes(to_array(field(18, 4)?)?);
        Ok(Self {
            patient_id,
            category,
            epoch,
            record_version,
        })
    }

    /// Errors unless `self` (read from a file) describes the record the caller expects, e.g. the
    /// record the chain says this ciphertext belongs to. Stops a valid file being passed off as
    /// another record of the same category key.
    pub fn ensure_matches(&self, expected: &RecordHeader) -> Result<()> {
        let mismatch = |field: &'static str, expected: String, found: String| {
            Err(CryptoError::HeaderMismatch {
                field,
                expected,
                found,
            })
        };
        if self.patient_id != expected.patient_id {
            return mismatch(
                "patient_id",
                expected.patient_id.to_string(),
                self.patient_id.to_string(),
            );
        }
        if self.category != expected.category {
            return mismatch(
                "category",
                expected.category.to_string(),
                self.category.to_string(),
            );
        }
        if self.epoch != expected.epoch {
            return mismatch("epoch", expected.epoch.to_string(), self.epoch.to_string());
        }
        if self.record_version != expected.record_version {
            return mismatch(
                "record_version",
                expected.record_version.to_string(),
                self.record_version.to_string(),
            );
        }
        Ok(())
    }
}

fn new_cipher(key: &[u8]) -> Result<XChaCha20Poly1305> {
    // Keys are [u8; 32] by type, so this only fails if KEY_LEN were changed.
    XChaCha20Poly1305::new_from_slice(key).map_err(|_| CryptoError::InvalidKey {
        what: "XChaCha20-Poly1305 key",
        reason: "not 32 bytes".into(),
    })
}

fn to_array<const N: usize>(bytes: &[u8]) -> Result<[u8; N]> {
    <[u8; N]>::try_from(bytes).map_err(|_| CryptoError::Truncated {
        len: bytes.len(),
        min: N,
    })
}

/// The per-file random material. Crate-private so that only the vector generator chooses it.
pub(crate) struct FileMaterial {
    pub(crate) data_key: Zeroizing<[u8; KEY_LEN]>,
    pub(crate) wrap_nonce: [u8; NONCE_LEN],
    pub(crate) content_nonce: [u8; NONCE_LEN],
}

impl FileMaterial {
    /// Draws, in this order: data key (32), wrap nonce (24), content nonce (24).
    pub(crate) fn generate(rng: &mut impl CryptoRng) -> Self {
        let mut data_key = Zeroizing::new([0u8; KEY_LEN]);
        rng.fill_bytes(data_key.as_mut());
        let mut wrap_nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut wrap_nonce);
        let mut content_nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut content_nonce);
        Self {
            data_key,
            wrap_nonce,
            content_nonce,
        }
    }
}

/// Encrypts `plaintext` as a record file under `category_key` (the key of `header.category` for
/// `header.epoch`). A fresh data key and fresh nonces are drawn from the OS for every call.
pub fn encrypt_file(
    header: &RecordHeader,
    category_key: &CategoryKey,
    plaintext: &[u8],
) -> Result<Vec<u8>> {
    let material = FileMaterial::generate(&mut os_rng()?);
    encrypt_file_with_material(header, category_key, &material, plaintext)
}

pub(crate) fn encrypt_file_with_material(
    header: &RecordHeader,
    category_key: &CategoryKey,
    material: &FileMaterial,
    plaintext: &[u8],
) -> Result<Vec<u8>> {
    let fields = header.to_field_bytes();

    // Wrap the data key under the category key; AAD = the header fields.
    let wrap_cipher = new_cipher(category_key.as_bytes())?;
    let mut wrapped = *material.data_key;
    let wrap_tag = wrap_cipher
        .encrypt_inout_detached(
            &XNonce::from(material.wrap_nonce),
            &fields,
            wrapped.as_mut_slice().into(),
        )
        .map_err(|_| CryptoError::EncryptionFailed)?;

    let total = HEADER_LEN
        .checked_add(plaintext.len())
        .and_then(|n| n.checked_add(TAG_LEN))
        .ok_or(CryptoError::EncryptionFailed)?;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&fields);
    out.extend_from_slice(&material.wrap_nonce);
    out.extend_from_slice(&wrapped);
    out.extend_from_slice(&wrap_tag);
    out.extend_from_slice(&material.content_nonce);
    out.extend_from_slice(plaintext);

    // Encrypt the content in place; AAD = the whole header.
    let content_cipher = new_cipher(material.data_key.as_ref())?;
    let (head, body) = out.split_at_mut(HEADER_LEN);
    match content_cipher.encrypt_inout_detached(
        &XNonce::from(material.content_nonce),
        head,
        body.into(),
    ) {
        Ok(tag) => {
            out.extend_from_slice(&tag);
            Ok(out)
        }
        Err(_) => {
            // `out` may still hold plaintext.
            out.zeroize();
            Err(CryptoError::EncryptionFailed)
        }
    }
}

/// A decrypted file: its authenticated header and the plaintext (zeroized on drop).
pub struct DecryptedFile {
    pub header: RecordHeader,
    pub plaintext: Zeroizing<Vec<u8>>,
}

impl core::fmt::Debug for DecryptedFile {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DecryptedFile")
            .field("header", &self.header)
            .field("plaintext_len", &self.plaintext.len())
            .finish()
    }
}

/// Decrypts a record file with the category key it was written under.
pub fn decrypt_file(category_key: &CategoryKey, file: &[u8]) -> Result<DecryptedFile> {
    let header = RecordHeader::parse(file)?;
    let slice = |from: usize, to: usize| {
        file.get(from..to).ok_or(CryptoError::Truncated {
            len: file.len(),
            min: MIN_FILE_LEN,
        })
    };
    let fields = slice(0, HEADER_FIELDS_LEN)?;
    let wrap_nonce = slice(WRAP_NONCE_AT, WRAPPED_KEY_AT)?;
    let wrapped = slice(WRAPPED_KEY_AT, WRAPPED_KEY_AT + KEY_LEN)?;
    let wrap_tag = slice(WRAPPED_KEY_AT + KEY_LEN, CONTENT_NONCE_AT)?;
    let content_nonce = slice(CONTENT_NONCE_AT, HEADER_LEN)?;
    let head = slice(0, HEADER_LEN)?;
    let tag_at = file.len() - TAG_LEN; // parse() checked file.len() >= MIN_FILE_LEN
    let body = slice(HEADER_LEN, tag_at)?;
    let content_tag = slice(tag_at, file.len())?;

    let wrap_cipher = new_cipher(category_key.as_bytes())?;
    let mut data_key = Zeroizing::new([0u8; KEY_LEN]);
    data_key.copy_from_slice(wrapped);
    wrap_cipher
        .decrypt_inout_detached(
            &XNonce::from(to_array::<NONCE_LEN>(wrap_nonce)?),
            fields,
            data_key.as_mut_slice().into(),
            &Tag::from(to_array::<TAG_LEN>(wrap_tag)?),
        )
        .map_err(|_| CryptoError::WrongKeyOrTamperedHeader)?;

    let content_cipher = new_cipher(data_key.as_ref())?;
    let mut plaintext = Zeroizing::new(body.to_vec());
    content_cipher
        .decrypt_inout_detached(
            &XNonce::from(to_array::<NONCE_LEN>(content_nonce)?),
            head,
            plaintext.as_mut_slice().into(),
            &Tag::from(to_array::<TAG_LEN>(content_tag)?),
        )
        .map_err(|_| CryptoError::Tampered)?;
    Ok(DecryptedFile { header, plaintext })
}

/// Decrypts a file and checks that its header is the record the caller expects.
pub fn decrypt_file_expecting(
    category_key: &CategoryKey,
    file: &[u8],
    expected: &RecordHeader,
) -> Result<DecryptedFile> {
    RecordHeader::parse(file)?.ensure_matches(expected)?;
    decrypt_file(category_key, file)
}
