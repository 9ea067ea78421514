//! The IPFS content identifiers the chain accepts as locators: a CID whose multihash is a
//! sha2-256 digest, as kubo writes them (CIDv1 in base32, raw or dag-pb; or CIDv0). Checking
//! the whole structure, not just the alphabet, keeps readable text out of `ipfs://` locators.

const SHA2_256: u8 = 0x12;
const DIGEST_LEN: usize = 32;
const RAW: u8 = 0x55;
const DAG_PB: u8 = 0x70;
const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
const BASE58: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
/// A CIDv0 is a base58btc multihash: 34 bytes, 46 characters.
const CID_V0_LEN: usize = 46;
/// A CIDv1 of a sha2-256 digest: 36 bytes, "b" and 58 base32 characters.
const CID_V1_LEN: usize = 59;

fn is_sha256_multihash(bytes: &[u8]) -> bool {
    bytes.len() == 2 + DIGEST_LEN && bytes[0] == SHA2_256 && usize::from(bytes[1]) == DIGEST_LEN
}

/// RFC 4648 base32, lower case, unpadded; `None` on any other character or on trailing bits
/// that are not zero (every byte string has exactly one encoding).
fn decode_base32(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text {
        let value = BASE32.iter().position(|b| b == c)? as u32;
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    (buffer == 0).then_some(out)
}

/// Bitcoin's base58; `None` on any other character.
fn decode_base58(text: &[u8]) -> Option<Vec<u8>> {
    // Big-endian digits of the number, base 256; bounded by the caller's length check.
    let mut number: Vec<u8> = Vec::new();
    for c in text {
        let mut carry = BASE58.iter().position(|b| b == c)? as u32;
        for digit in number.iter_mut().rev() {
            carry += u32::from(*digit) * 58;
            *digit = carry as u8;
            carry >>= 8;
        }
        while carry > 0 {
            number.insert(0, carry as u8);
            carry >>= 8;
        }
    }
    let zeros = text.iter().take_while(|c| **c == b'1').count();
    let mut out = vec![0; zeros];
    out.extend(number);
    Some(out)
}

/// Whether `cid` (what follows `ipfs://`) is a CID of a sha2-256 digest.
pub fn is_sha256_cid(cid: &str) -> bool {
    let bytes = cid.as_bytes();
    match bytes.first() {
        Some(b'b') if bytes.len() == CID_V1_LEN => decode_base32(&bytes[1..]).is_some_and(|cid| {
            cid.len() == 2 + 2 + DIGEST_LEN
                && cid[0] == 1
                && matches!(cid[1], RAW | DAG_PB)
                && is_sha256_multihash(&cid[2..])
        }),
        Some(b'Q') if bytes.len() == CID_V0_LEN => {
            decode_base58(bytes).is_some_and(|hash| is_sha256_multihash(&hash))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cids_kubo_writes_are_accepted() {
        // CIDv1 raw (`ipfs add --cid-version=1 --raw-leaves` of "hello\n"), CIDv1 dag-pb (a
        // chunked file's root) and CIDv0 of sha2-256 digests.
        for cid in [
            "bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am",
            "bafybeibnoelefnzgwbcacyt4vh52ymxvzbjq7mmqhtcnwarfq4lzegsiqe",
            "QmUJPTFZnR2CPGAzmfdYPghgrFtYFB6pf1BqMvqfiPDam8",
        ] {
            assert!(is_sha256_cid(cid), "{cid}");
        }
    }

    #[test]
    fn text_shaped_like_a_cid_is_refused() {
        for text in [
            "",
            "bafkreiabc123",
            "JaneDoeHIVpositive",
            // The right length and alphabet, but not a CID's structure.
            "bjanedoehaspositivehivtestresultsfromlastweekseeclinicnotes",
            "QmJaneDoeHasPositiveHIVTestResultsFromLastWeek",
            "BAFKREICYSG23KIWV34EG2D7QWEIPXWOSDO2PY4LDV42NBAUGULUEN5V6AM",
            "bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am0",
            "bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6an",
        ] {
            assert!(!is_sha256_cid(text), "{text}");
        }
    }
}
