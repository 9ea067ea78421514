//! Prints the storage reads and writes of one AddRecord and one UpdateRecord as the number of
//! stored records grows. Flat figures mean no execute path iterates over state.
//!
//! cargo run --release -p ehr-testing --bin storage-ops-bench

use ehr_testing::storage_ops::RegistryOpsBench;

fn main() {
    let mut bench = RegistryOpsBench::new();
    let (patient, doctor) = (bench.patient.clone(), bench.doctor.clone());
    println!(
        "records stored | caller  | op           | reads | writes | removes | scans | scanned"
    );
    for (step, size) in [0u64, 1_000, 10_000, 100_000].into_iter().enumerate() {
        bench.fill_to(size);
        for (who, author) in [("patient", &patient), ("doctor", &doctor)] {
            let seed = step as u64 * 2 + u64::from(who == "doctor");
            let (add, record_id) = bench.add_record_ops(author, seed);
            let update = bench.update_record_ops(author, record_id, seed);
            for (op, counts) in [("AddRecord", add), ("UpdateRecord", update)] {
                println!(
                    "{size:>14} | {who:<7} | {op:<12} | {:>5} | {:>6} | {:>7} | {:>5} | {:>7}",
                    counts.reads, counts.writes, counts.removes, counts.scans, counts.scanned
                );
            }
        }
    }
}
