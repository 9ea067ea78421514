//! Encrypt+hash throughput of record files next to `openssl speed` on the same machine, same run.
//!
//!     cargo run --release -p ehr-crypto --bin crypto-bench [-- --seconds N]
//!
//! MB = 10^6 bytes, as `openssl speed` counts ("1000s of bytes per second").

use std::process::Command;
use std::time::{Duration, Instant};

use ehr_crypto::{encrypt_file, sha256_hex, Category, CategoryKey, RecordHeader};

/// Runs `op` over `bytes`-sized inputs until `budget` is spent (at least 3 times); MB/s.
fn measure(bytes: usize, budget: Duration, mut op: impl FnMut()) -> f64 {
    op(); // warm-up: page faults, CPU feature detection
    let start = Instant::now();
    let mut runs = 0u32;
    while runs < 3 || start.elapsed() < budget {
        op();
        runs += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    (bytes as f64 * f64::from(runs)) / secs / 1e6
}

/// `openssl speed -evp CIPHER` on 16 KiB blocks; MB/s, or None if openssl is missing or the
/// output has no figure.
fn openssl_speed(cipher: &str, seconds: u32) -> Option<(f64, String)> {
    let args = ["speed", "-seconds", &seconds.to_string(), "-bytes", "16384", "-evp", cipher];
    let command = format!("openssl {}", args.join(" "));
    let output = Command::new("openssl").args(args).output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    // Last line: "<name>   <N>k" where N is thousands of bytes per second.
    let line = text.lines().rev().find(|l| l.trim_start().to_ascii_lowercase().starts_with(cipher))?;
    let figure = line.split_whitespace().last()?.trim_end_matches('k').parse::<f64>().ok()?;
    Some((figure / 1000.0, command))
}

fn main() {
    let seconds: u32 = std::env::args()
        .skip_while(|a| a != "--seconds")
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let budget = Duration::from_secs(u64::from(seconds));
    let key = match CategoryKey::generate() {
        Ok(k) => k,
        Err(e) => {
            eprintln!("crypto-bench: {e}");
            std::process::exit(1);
        }
    };
    let header = RecordHeader { patient_id: 1, category: Category::Imaging, epoch: 1, record_version: 1 };

    println!("ehr-crypto benchmark (single thread, {seconds} s per figure)");
    println!("{:<34} {:>10}", "operation", "MB/s");
    let mut best_encrypt_hash = 0f64;
    for (label, size) in [("1 MiB", 1usize << 20), ("16 MiB", 16 << 20)] {
        let plaintext = vec![0x5au8; size];
        let mut sink = 0usize;
        let enc_hash = measure(size, budget, || {
            let file = encrypt_file(&header, &key, &plaintext).unwrap_or_default();
            sink ^= sha256_hex(&file).len();
        });
        let enc_only = measure(size, budget, || {
            sink ^= encrypt_file(&header, &key, &plaintext).map(|f| f.len()).unwrap_or_default();
        });
        let hash_only = measure(size, budget, || {
            sink ^= sha256_hex(&plaintext).len();
        });
        std::hint::black_box(sink);
        println!("{:<34} {:>10.1}", format!("encrypt_file + sha256 ({label})"), enc_hash);
        println!("{:<34} {:>10.1}", format!("encrypt_file only ({label})"), enc_only);
        println!("{:<34} {:>10.1}", format!("sha256 only ({label})"), hash_only);
        best_encrypt_hash = best_encrypt_hash.max(enc_hash);
    }

    for cipher in ["chacha20-poly1305", "aes-256-gcm"] {
        match openssl_speed(cipher, seconds) {
            Some((mbps, command)) => {
                println!("{:<34} {:>10.1}   ({command})", format!("openssl {cipher} (16 KiB)"), mbps);
                println!(
                    "{:<34} {:>10.2}   (goal >= 0.80 for chacha20-poly1305)",
                    format!("ratio encrypt+sha256 / {cipher}"),
                    best_encrypt_hash / mbps
                );
            }
            None => println!("openssl {cipher}: not available (is openssl installed?)"),
        }
    }
}
