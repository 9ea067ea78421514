//! Randomness. Production code seeds a ChaCha20 CSPRNG from the OS for each operation; the test
//! vector generator injects fixed seeds or exact bytes through the crate-private types below.

use rand_chacha::ChaCha20Rng;
use rand_core::{SeedableRng, TryCryptoRng, TryRng};
use zeroize::Zeroize;

use crate::error::{CryptoError, Result};

/// A fresh CSPRNG seeded from the operating system. Failure of the OS source is an error, not a
/// panic.
pub(crate) fn os_rng() -> Result<ChaCha20Rng> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| CryptoError::Rng(e.to_string()))?;
    let rng = ChaCha20Rng::from_seed(seed);
    seed.zeroize();
    Ok(rng)
}

/// A deterministic CSPRNG for test vectors.
pub(crate) fn seeded_rng(seed: [u8; 32]) -> ChaCha20Rng {
    ChaCha20Rng::from_seed(seed)
}

/// Yields exactly the given bytes, so that a vector can name the ephemeral key material an API
/// consumed (e.g. HPKE's ikmE). Reading past the end yields zeros and marks the RNG overdrawn,
/// which the caller must check: a vector built from an overdrawn RNG is rejected.
pub(crate) struct ReplayRng {
    bytes: Vec<u8>,
    position: usize,
    overdrawn: bool,
}

impl ReplayRng {
    pub(crate) fn new(bytes: &[u8]) -> Self {
        Self {
            bytes: bytes.to_vec(),
            position: 0,
            overdrawn: false,
        }
    }

    /// True when every byte was consumed and nothing more was asked for.
    pub(crate) fn consumed_exactly(&self) -> bool {
        !self.overdrawn && self.position == self.bytes.len()
    }
}

impl Drop for ReplayRng {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl TryRng for ReplayRng {
    type Error = core::convert::Infallible;

    fn try_next_u32(&mut self) -> core::result::Result<u32, Self::Error> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> core::result::Result<u64, Self::Error> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> core::result::Result<(), Self::Error> {
        for byte in dst.iter_mut() {
            match self.bytes.get(self.position) {
                Some(b) => {
                    *byte = *b;
                    self.position += 1;
                }
                None => {
                    *byte = 0;
                    self.overdrawn = true;
                }
            }
        }
        Ok(())
    }
}

// Only ever used to replay recorded vector material, never for fresh secrets.
impl TryCryptoRng for ReplayRng {}
