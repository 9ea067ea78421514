//! Break-glass key escrow: a category key split into n Shamir shares with threshold k over
//! GF(2^8) (the `blahaj` crate, polynomial 0x11d; a share is x || y, 1 + 32 bytes), each share
//! sealed with HPKE to one trustee, and re-sealed by the trustee to an emergency doctor. Any k
//! shares give the key; k−1 give nothing: every key is equally consistent with them.
//!
//! HPKE `info` binds (patient, category, epoch, trustee-set version), so a share opens only for
//! the key it was split from; the same suite as category-key envelopes.
//!
//! The patient (the dealer) publishes with every escrow a commitment to each share and one to
//! the key: sha256 of a label, the context, the trustee and the share (or the key). A share's y
//! is uniformly random, so its commitment tells nothing of the key; the combiner checks every
//! released share against its trustee's commitment, names a trustee whose share is wrong, tries
//! other subsets, and uses a key only when it matches the key commitment.

use blahaj::{Share, Sharks};
use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::envelope::{EnvelopeContext, ENC_LEN};
use crate::error::{CryptoError, Result};
use crate::keys::{CategoryKey, X25519PublicKey, X25519SecretKey};
use crate::Category;

/// Prefix of the HPKE `info` string of a sealed share.
pub const SHARE_INFO_LABEL: &[u8] = b"ehr-chain/escrow-share/v1";
/// x (1 byte) || y (32 bytes).
pub const SHARE_LEN: usize = 1 + 32;
/// enc || ChaCha20-Poly1305 ciphertext of the share.
pub const SEALED_SHARE_LEN: usize = ENC_LEN + SHARE_LEN + 16;

/// Which key a share belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ShareContext {
    pub patient_id: u64,
    pub category: Category,
    pub epoch: u32,
    pub set_version: u32,
}

impl ShareContext {
    /// label || patient id (u64 BE) || category code || epoch (u32 BE) || set version (u32 BE).
    pub fn info(&self) -> Vec<u8> {
        let mut info = SHARE_INFO_LABEL.to_vec();
        info.extend_from_slice(&self.patient_id.to_be_bytes());
        info.push(self.category.code());
        info.extend_from_slice(&self.epoch.to_be_bytes());
        info.extend_from_slice(&self.set_version.to_be_bytes());
        info
    }
}

/// One Shamir share of a category key (secret: zeroized on drop, never printed).
#[derive(Clone, PartialEq, Eq)]
pub struct KeyShare(Zeroizing<Vec<u8>>);

impl core::fmt::Debug for KeyShare {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "KeyShare(x = {}, ..)",
            self.0.first().copied().unwrap_or(0)
        )
    }
}

impl KeyShare {
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() != SHARE_LEN || bytes[0] == 0 {
            return Err(CryptoError::BadShareLength {
                len: bytes.len(),
                expected: SHARE_LEN,
            });
        }
        Ok(Self(Zeroizing::new(bytes.to_vec())))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The share's x coordinate (1..=n).
    pub fn index(&self) -> u8 {
        self.0[0]
    }
}

/// Splits `key` into `shares` shares, any `threshold` of which recover it.
pub fn split_key(key: &CategoryKey, threshold: u8, shares: usize) -> Result<Vec<KeyShare>> {
    split_key_with_rng(key, threshold, shares, &mut crate::rng::os_rng()?)
}

pub(crate) fn split_key_with_rng(
    key: &CategoryKey,
    threshold: u8,
    shares: usize,
    rng: &mut impl CryptoRng,
) -> Result<Vec<KeyShare>> {
    if threshold < 2 || usize::from(threshold) > shares || shares > 255 {
        return Err(CryptoError::BadSplit { threshold, shares });
    }
    Sharks(threshold)
        .dealer_rng(key.as_bytes(), rng)
        .take(shares)
        .map(|share| KeyShare::from_bytes(&Zeroizing::new(Vec::from(&share))))
        .collect()
}

/// The key from at least `threshold` distinct shares of one split.
pub fn combine_shares(shares: &[KeyShare], threshold: u8) -> Result<CategoryKey> {
    let mut distinct: Vec<Share> = Vec::new();
    for share in shares {
        if distinct.iter().all(|s| s.x.0 != share.index()) {
            let parsed =
                Share::try_from(share.as_bytes()).map_err(|_| CryptoError::BadShareLength {
                    len: share.as_bytes().len(),
                    expected: SHARE_LEN,
                })?;
            distinct.push(parsed);
        }
    }
    if threshold < 2 || distinct.len() < usize::from(threshold) {
        return Err(CryptoError::NotEnoughShares {
            got: distinct.len(),
            needed: threshold,
        });
    }
    // Interpolating more points than the degree needs gives the same polynomial; use exactly k.
    distinct.truncate(usize::from(threshold));
    let secret = Zeroizing::new(Sharks(threshold).recover(&distinct).map_err(|_| {
        CryptoError::NotEnoughShares {
            got: distinct.len(),
            needed: threshold,
        }
    })?);
    let bytes: [u8; 32] =
        secret
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::BadShareLength {
                len: secret.len() + 1,
                expected: SHARE_LEN,
            })?;
    Ok(CategoryKey::from_bytes(bytes))
}

/// Prefix of a share commitment's preimage.
pub const SHARE_COMMITMENT_LABEL: &[u8] = b"ehr-chain/escrow-share-commitment/v1";
/// Prefix of a key commitment's preimage.
pub const KEY_COMMITMENT_LABEL: &[u8] = b"ehr-chain/escrow-key-commitment/v1";
/// The most subsets of the released shares a combiner tries before giving up (with at most 16
/// trustees and committed shares, the first subset of verified shares succeeds).
pub const MAX_COMBINE_ATTEMPTS: usize = 256;

/// sha256(label || context.info() || trustee length (u16 BE) || trustee || share).
pub fn share_commitment(context: &ShareContext, trustee: &str, share: &KeyShare) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(SHARE_COMMITMENT_LABEL);
    hash.update(context.info());
    hash.update((trustee.len() as u16).to_be_bytes());
    hash.update(trustee.as_bytes());
    hash.update(share.as_bytes());
    hash.finalize().into()
}

/// sha256(label || context.info() || key).
pub fn key_commitment(context: &EnvelopeContext, key: &CategoryKey) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(KEY_COMMITMENT_LABEL);
    hash.update(context.info());
    hash.update(key.as_bytes());
    hash.finalize().into()
}

/// A share as released by one trustee, with the commitment the patient published for it
/// (`None` for escrows made before commitments).
pub struct ReleasedKeyShare {
    pub trustee: String,
    pub share: KeyShare,
    pub commitment: Option<[u8; 32]>,
}

/// The key from released shares, checked: shares whose commitment does not match are set aside
/// (their trustees named in `rejected`), and with a key commitment only a key that matches it
/// is returned, trying other subsets (at most `MAX_COMBINE_ATTEMPTS`). Without a key commitment
/// (an escrow from before commitments) the first `threshold` verified shares are combined.
pub struct VerifiedKey {
    pub key: CategoryKey,
    pub rejected: Vec<String>,
}

pub fn combine_verified(
    context: &ShareContext,
    shares: &[ReleasedKeyShare],
    key_commitment_expected: Option<&[u8; 32]>,
    threshold: u8,
) -> Result<VerifiedKey> {
    let mut rejected = Vec::new();
    let mut usable: Vec<&KeyShare> = Vec::new();
    for released in shares {
        match released.commitment {
            Some(expected)
                if share_commitment(context, &released.trustee, &released.share) != expected =>
            {
                rejected.push(released.trustee.clone());
            }
            _ => usable.push(&released.share),
        }
    }
    let k = usize::from(threshold);
    if threshold < 2 || usable.len() < k {
        return match rejected.is_empty() {
            true => Err(CryptoError::NotEnoughShares {
                got: usable.len(),
                needed: threshold,
            }),
            false => Err(CryptoError::SharesDoNotVerify { trustees: rejected }),
        };
    }
    let Some(expected) = key_commitment_expected else {
        let first: Vec<KeyShare> = usable.iter().take(k).map(|s| (*s).clone()).collect();
        return Ok(VerifiedKey {
            key: combine_shares(&first, threshold)?,
            rejected,
        });
    };
    let key_context = EnvelopeContext {
        patient_id: context.patient_id,
        category: context.category,
        epoch: context.epoch,
    };
    // Subsets of size k in lexicographic order of indices, bounded.
    let mut indices: Vec<usize> = (0..k).collect();
    for _ in 0..MAX_COMBINE_ATTEMPTS {
        let subset: Vec<KeyShare> = indices.iter().map(|&i| usable[i].clone()).collect();
        if let Ok(key) = combine_shares(&subset, threshold) {
            if key_commitment(&key_context, &key) == *expected {
                return Ok(VerifiedKey { key, rejected });
            }
        }
        // The next subset: the rightmost index that can move, moves; those after it follow.
        let Some(i) = (0..k).rev().find(|&i| indices[i] < usable.len() - k + i) else {
            break;
        };
        indices[i] += 1;
        for j in i + 1..k {
            indices[j] = indices[j - 1] + 1;
        }
    }
    Err(CryptoError::SharesDoNotVerify { trustees: rejected })
}

/// Seals a share to a trustee (or, re-sealed by the trustee, to an emergency doctor).
pub fn seal_share(
    recipient: &X25519PublicKey,
    context: &ShareContext,
    share: &KeyShare,
) -> Result<Vec<u8>> {
    seal_share_with_rng(recipient, context, share, &mut crate::rng::os_rng()?)
}

pub(crate) fn seal_share_with_rng(
    recipient: &X25519PublicKey,
    context: &ShareContext,
    share: &KeyShare,
    rng: &mut impl CryptoRng,
) -> Result<Vec<u8>> {
    crate::envelope::hpke_seal(recipient, &context.info(), share.as_bytes(), rng)
}

/// Opens a sealed share with the recipient's secret key, for the expected `context`.
pub fn open_share(
    recipient: &X25519SecretKey,
    context: &ShareContext,
    sealed: &[u8],
) -> Result<KeyShare> {
    if sealed.len() != SEALED_SHARE_LEN {
        return Err(CryptoError::BadEnvelopeLength {
            len: sealed.len(),
            expected: SEALED_SHARE_LEN,
        });
    }
    let opened = crate::envelope::hpke_open(recipient, &context.info(), sealed)?;
    KeyShare::from_bytes(&opened)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> CategoryKey {
        CategoryKey::from_bytes([byte; 32])
    }

    #[test]
    fn any_k_of_n_shares_recover_the_key_and_k_minus_1_do_not() {
        let secret = CategoryKey::generate().unwrap();
        let shares = split_key(&secret, 3, 5).unwrap();
        assert_eq!(shares.len(), 5);
        let indices: Vec<u8> = shares.iter().map(KeyShare::index).collect();
        assert_eq!(indices, vec![1, 2, 3, 4, 5]);
        // Every 3-subset of the 5 shares.
        for a in 0..5 {
            for b in a + 1..5 {
                for c in b + 1..5 {
                    let subset = [shares[a].clone(), shares[b].clone(), shares[c].clone()];
                    assert_eq!(combine_shares(&subset, 3).unwrap(), secret);
                }
            }
        }
        let two = [shares[0].clone(), shares[4].clone()];
        assert!(matches!(
            combine_shares(&two, 3),
            Err(CryptoError::NotEnoughShares { got: 2, needed: 3 })
        ));
        // The same share twice is one share.
        let repeated = [shares[1].clone(), shares[1].clone(), shares[2].clone()];
        assert!(matches!(
            combine_shares(&repeated, 3),
            Err(CryptoError::NotEnoughShares { got: 2, needed: 3 })
        ));
    }

    /// k−1 shares are consistent with every possible key: for each candidate value of a key
    /// byte there is a k-th share that completes them to it. So they reveal nothing.
    #[test]
    fn k_minus_1_shares_leave_every_key_byte_possible() {
        let secret = key(0x42);
        let shares = split_key(&secret, 2, 3).unwrap();
        let known = Share::try_from(shares[0].as_bytes()).unwrap();
        let mut reachable = [false; 256];
        for y in 0..=255u8 {
            let mut forged = shares[1].as_bytes().to_vec();
            forged[1] = y;
            let forged = Share::try_from(forged.as_slice()).unwrap();
            let recovered = Sharks(2).recover([&known, &forged]).unwrap();
            reachable[usize::from(recovered[0])] = true;
        }
        assert!(
            reachable.iter().all(|&r| r),
            "one share rules out some key bytes"
        );
    }

    #[test]
    fn impossible_splits_are_refused() {
        for (k, n) in [(1, 3), (0, 3), (4, 3), (2, 256)] {
            assert!(matches!(
                split_key(&key(1), k, n),
                Err(CryptoError::BadSplit { .. })
            ));
        }
    }

    #[test]
    fn a_sealed_share_opens_only_for_its_recipient_and_key() {
        let trustee = X25519SecretKey::generate().unwrap();
        let doctor = X25519SecretKey::generate().unwrap();
        let context = ShareContext {
            patient_id: 7,
            category: Category::Allergy,
            epoch: 2,
            set_version: 1,
        };
        let share = split_key(&key(9), 2, 3).unwrap().remove(0);
        let sealed = seal_share(&trustee.public_key(), &context, &share).unwrap();
        assert_eq!(sealed.len(), SEALED_SHARE_LEN);
        assert_eq!(open_share(&trustee, &context, &sealed).unwrap(), share);
        assert!(matches!(
            open_share(&doctor, &context, &sealed),
            Err(CryptoError::EnvelopeOpenFailed)
        ));
        for other in [
            ShareContext {
                epoch: 3,
                ..context
            },
            ShareContext {
                patient_id: 8,
                ..context
            },
            ShareContext {
                set_version: 2,
                ..context
            },
            ShareContext {
                category: Category::Note,
                ..context
            },
        ] {
            assert!(open_share(&trustee, &other, &sealed).is_err(), "{other:?}");
        }
        // The trustee re-seals to the doctor; the doctor opens it.
        let opened = open_share(&trustee, &context, &sealed).unwrap();
        let resealed = seal_share(&doctor.public_key(), &context, &opened).unwrap();
        assert_eq!(open_share(&doctor, &context, &resealed).unwrap(), share);
    }

    fn context() -> ShareContext {
        ShareContext {
            patient_id: 7,
            category: Category::Allergy,
            epoch: 2,
            set_version: 1,
        }
    }

    fn released(shares: &[KeyShare], trustees: &[&str]) -> Vec<ReleasedKeyShare> {
        shares
            .iter()
            .zip(trustees)
            .map(|(share, trustee)| ReleasedKeyShare {
                trustee: trustee.to_string(),
                share: share.clone(),
                commitment: Some(share_commitment(&context(), trustee, share)),
            })
            .collect()
    }

    fn committed_key(key: &CategoryKey) -> [u8; 32] {
        key_commitment(
            &EnvelopeContext {
                patient_id: 7,
                category: Category::Allergy,
                epoch: 2,
            },
            key,
        )
    }

    #[test]
    fn a_wrong_share_is_named_and_the_others_give_the_committed_key() {
        let secret = CategoryKey::generate().unwrap();
        let shares = split_key(&secret, 2, 3).unwrap();
        let mut released = released(&shares, &["t1", "t2", "t3"]);
        // t1 releases another share than the one it was given (same index, other y).
        let mut forged = shares[0].as_bytes().to_vec();
        forged[5] ^= 1;
        released[0].share = KeyShare::from_bytes(&forged).unwrap();
        let verified =
            combine_verified(&context(), &released, Some(&committed_key(&secret)), 2).unwrap();
        assert_eq!(verified.key, secret);
        assert_eq!(verified.rejected, vec!["t1".to_string()]);
    }

    #[test]
    fn without_share_commitments_a_wrong_share_is_caught_by_the_key_commitment() {
        let secret = CategoryKey::generate().unwrap();
        let shares = split_key(&secret, 2, 3).unwrap();
        let mut released = released(&shares, &["t1", "t2", "t3"]);
        for share in &mut released {
            share.commitment = None;
        }
        let mut forged = shares[0].as_bytes().to_vec();
        forged[9] ^= 0x40;
        released[0].share = KeyShare::from_bytes(&forged).unwrap();
        let verified =
            combine_verified(&context(), &released, Some(&committed_key(&secret)), 2).unwrap();
        assert_eq!(verified.key, secret);
        // Without a key commitment the first two (one of them wrong) would be combined blindly.
        let blind = combine_verified(&context(), &released, None, 2).unwrap();
        assert_ne!(blind.key, secret);
    }

    #[test]
    fn too_few_right_shares_fail_and_name_the_wrong_ones() {
        let secret = CategoryKey::generate().unwrap();
        let shares = split_key(&secret, 2, 3).unwrap();
        let mut released = released(&shares[..2], &["t1", "t2"]);
        let mut forged = shares[1].as_bytes().to_vec();
        forged[1] ^= 1;
        released[1].share = KeyShare::from_bytes(&forged).unwrap();
        match combine_verified(&context(), &released, Some(&committed_key(&secret)), 2) {
            Err(CryptoError::SharesDoNotVerify { trustees }) => {
                assert_eq!(trustees, vec!["t2".to_string()])
            }
            other => panic!(
                "expected SharesDoNotVerify, got {:?}",
                other.map(|v| v.rejected)
            ),
        }
    }

    #[test]
    fn commitments_bind_the_context_and_the_trustee() {
        let secret = CategoryKey::generate().unwrap();
        let share = &split_key(&secret, 2, 2).unwrap()[0];
        let base = share_commitment(&context(), "t1", share);
        assert_ne!(base, share_commitment(&context(), "t2", share));
        let other_epoch = ShareContext {
            epoch: 3,
            ..context()
        };
        assert_ne!(base, share_commitment(&other_epoch, "t1", share));
    }

    /// The same figures are pinned in web/src/crypto/escrow.test.ts (and were computed with
    /// Python's hashlib from the preimages in the module doc), so both clients commit alike.
    #[test]
    fn commitments_match_the_pinned_vectors() {
        let share = KeyShare::from_bytes(&[[1u8].as_slice(), &[0x11; 32]].concat()).unwrap();
        assert_eq!(
            hex::encode(share_commitment(&context(), "wasm1trustee", &share)),
            "52edcd7fb2cfc0b1d2451f0950a3d16fae5b839fdfee8b5107d29d16b539e971"
        );
        assert_eq!(
            hex::encode(committed_key(&CategoryKey::from_bytes([0x22; 32]))),
            "24021708afb796c7f5730274bb5f7a6339e2981e77c7611032b267c63e21f70b"
        );
    }
}
