//! Encrypt+hash throughput of record files next to `openssl speed`, measured in the same run.
//!
//!     cargo run --release -p ehr-crypto --bin crypto-bench [-- --seconds N]
//!
//! MB = 10^6 bytes, as `openssl speed` counts ("1000s of bytes per second"). Single thread.
//! `openssl speed` divides by the process's *CPU user time* unless given `-elapsed`; on a shared
//! machine wall-clock figures depend on the load, so this prints both: ours by thread CPU time
//! (from /proc/thread-self/stat) against openssl's default, and ours by wall clock against
//! `openssl speed -elapsed`.

use std::process::Command;
use std::time::{Duration, Instant};

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use ehr_crypto::{encrypt_file, sha256_hex, Category, CategoryKey, RecordHeader};

/// This thread's user+system CPU time, from /proc (clock ticks of 10 ms); None off Linux.
fn thread_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    let after_name = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // After "pid (comm)": state is field 0, utime field 11, stime field 12.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

#[derive(Clone, Copy)]
struct Rate {
    wall: f64,
    cpu: Option<f64>,
}

/// Runs `op` on `bytes`-sized inputs until `budget` is spent (at least 3 times).
fn measure(bytes: usize, budget: Duration, mut op: impl FnMut()) -> Rate {
    op(); // warm-up: page faults, CPU feature detection
    let cpu_start = thread_cpu_seconds();
    let start = Instant::now();
    let mut runs = 0u32;
    while runs < 3 || start.elapsed() < budget {
        op();
        runs += 1;
    }
    let wall_secs = start.elapsed().as_secs_f64();
    let total = bytes as f64 * f64::from(runs) / 1e6;
    let cpu = match (cpu_start, thread_cpu_seconds()) {
        (Some(a), Some(b)) if b - a >= 0.5 => Some(total / (b - a)),
        _ => None,
    };
    Rate {
        wall: total / wall_secs,
        cpu,
    }
}

/// `openssl speed [-elapsed] -evp CIPHER` on 16 KiB blocks, in MB/s.
fn openssl_speed(cipher: &str, seconds: u32, elapsed: bool) -> Option<(f64, String)> {
    let seconds = seconds.to_string();
    let mut args = vec!["speed"];
    if elapsed {
        args.push("-elapsed");
    }
    args.extend(["-seconds", &seconds, "-bytes", "16384", "-evp", cipher]);
    let command = format!("openssl {}", args.join(" "));
    let output = Command::new("openssl").args(&args).output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    // Last line: "<Name>   <N>k" where N is thousands of bytes per second.
    let line = text
        .lines()
        .rev()
        .find(|l| l.trim_start().to_ascii_lowercase().starts_with(cipher))?;
    let figure = line
        .split_whitespace()
        .last()?
        .trim_end_matches('k')
        .parse::<f64>()
        .ok()?;
    Some((figure / 1000.0, command))
}

fn row(label: &str, rate: Rate) {
    let cpu = rate
        .cpu
        .map_or_else(|| "n/a".to_owned(), |c| format!("{c:.0}"));
    println!("{label:<44} {:>10.0} {:>10}", rate.wall, cpu);
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
    let header = RecordHeader {
        patient_id: 1,
        category: Category::Imaging,
        epoch: 1,
        record_version: 1,
    };

    println!("ehr-crypto crypto-bench: single thread, {seconds} s per figure, MB = 10^6 bytes");
    println!("{:<44} {:>10} {:>10}", "operation", "MB/s wall", "MB/s cpu");
    let mut best = Rate {
        wall: 0.0,
        cpu: None,
    };
    let mut sink = 0usize;
    for (label, size) in [("1 MiB", 1usize << 20), ("16 MiB", 16 << 20)] {
        let plaintext = vec![0x5au8; size];
        let enc_hash = measure(size, budget, || {
            let file = encrypt_file(&header, &key, &plaintext).unwrap_or_default();
            sink ^= sha256_hex(&file).len();
        });
        row(
            &format!("encrypt_file + sha256 of the file ({label})"),
            enc_hash,
        );
        row(
            &format!("encrypt_file only ({label})"),
            measure(size, budget, || {
                sink ^= encrypt_file(&header, &key, &plaintext)
                    .map(|f| f.len())
                    .unwrap_or_default();
            }),
        );
        row(
            &format!("sha256 only ({label})"),
            measure(size, budget, || sink ^= sha256_hex(&plaintext).len()),
        );
        if enc_hash.wall > best.wall {
            best.wall = enc_hash.wall;
        }
        if enc_hash.cpu > best.cpu {
            best.cpu = enc_hash.cpu;
        }
    }
    // The primitive alone, in place on a 16 KiB buffer: what `openssl speed -bytes 16384` does.
    let aead = XChaCha20Poly1305::new(&(*key.as_bytes()).into());
    let nonce = XNonce::from([7u8; 24]);
    let mut block = vec![0u8; 16384];
    row(
        "XChaCha20-Poly1305 in place (16 KiB)",
        measure(block.len(), budget, || {
            sink ^= aead
                .encrypt_inout_detached(&nonce, b"", block.as_mut_slice().into())
                .map(|t| t[0])
                .unwrap_or(0) as usize;
        }),
    );
    std::hint::black_box(sink);

    for cipher in ["chacha20-poly1305", "aes-256-gcm"] {
        let cpu = openssl_speed(cipher, seconds, false);
        let wall = openssl_speed(cipher, seconds, true);
        match (cpu, wall) {
            (Some((cpu_mbps, cpu_cmd)), Some((wall_mbps, wall_cmd))) => {
                println!(
                    "{:<44} {:>10.0} {:>10.0}",
                    format!("openssl {cipher} (16 KiB)"),
                    wall_mbps,
                    cpu_mbps
                );
                println!("    {wall_cmd}\n    {cpu_cmd}");
                let cpu_ratio = best
                    .cpu
                    .map_or_else(|| "n/a".to_owned(), |c| format!("{:.2}", c / cpu_mbps));
                println!(
                    "{:<44} {:>10.2} {:>10}",
                    format!("ratio best encrypt+sha256 / openssl {cipher}"),
                    best.wall / wall_mbps,
                    cpu_ratio
                );
            }
            _ => println!("openssl {cipher}: not available (is openssl installed?)"),
        }
    }
}
