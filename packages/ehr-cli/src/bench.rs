//! `ehr bench`: committed records/s, submit→commit latency and gas per record at a batch size.

use std::time::Instant;

use anyhow::{bail, Result};
use clap::Args;
use ehr_types::{Category, PatientId};
use serde::Serialize;

use crate::context::{patient_id, Cx};
use crate::output::{output, Output, Render};

#[derive(Args)]
pub struct BenchArgs {
    #[arg(long)]
    patient: Option<PatientId>,
    /// Records to submit.
    #[arg(long, default_value_t = 1000)]
    count: usize,
    /// AddRecord messages per transaction.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Transactions in the mempool at once.
    #[arg(long, default_value_t = 4)]
    in_flight: usize,
    /// Plaintext bytes per record.
    #[arg(long, default_value_t = 512)]
    size: usize,
}

/// The figures of one run.
#[derive(Serialize)]
struct BenchFigures {
    records: usize,
    batch: usize,
    in_flight: usize,
    txs: usize,
    seconds: f64,
    records_per_second: f64,
    latency_ms_p50: f64,
    latency_ms_p99: f64,
    gas_per_record: f64,
    encrypt_store_seconds: f64,
    storage: &'static str,
}

impl Render for BenchFigures {
    fn human(&self) -> String {
        format!(
            "{} records in {} txs (batch {}, {} in flight): {:.2} s, {:.1} records/s committed\nsubmit→commit latency per tx: p50 {:.0} ms, p99 {:.0} ms\ngas per record: {:.0}\n(encrypt + store {} beforehand: {:.2} s)",
            self.records,
            self.txs,
            self.batch,
            self.in_flight,
            self.seconds,
            self.records_per_second,
            self.latency_ms_p50,
            self.latency_ms_p99,
            self.gas_per_record,
            self.storage,
            self.encrypt_store_seconds
        )
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub async fn run(cx: &mut Cx, args: BenchArgs) -> Result<Output> {
    if args.count == 0 || args.batch == 0 {
        bail!("--count and --batch must be greater than 0");
    }
    let ehr = cx.ehr()?;
    let patient_id = patient_id(&ehr, args.patient).await?;
    let patient = ehr.patient(patient_id).await?;
    // Distinct plaintexts; the figure of interest is the chain's, so encryption and storage are
    // done first and timed apart.
    let prepared = Instant::now();
    let plaintexts = (0..args.count)
        .map(|i| {
            let mut plaintext = format!("bench record {i} ").into_bytes();
            plaintext.resize(args.size.max(plaintext.len()), b'.');
            (Category::Lab, plaintext)
        })
        .collect();
    let (records, rotations) = ehr.seal_and_store_all(&patient, plaintexts).await?;
    let encrypt_store_seconds = prepared.elapsed().as_secs_f64();
    let bar = cx.progress(args.count as u64, "submitting");
    let started = Instant::now();
    let (added, report) = ehr
        .register_records(
            patient_id,
            records,
            rotations,
            args.batch,
            args.in_flight,
            |n| bar.inc(n as u64),
        )
        .await?;
    let seconds = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    let mut latencies = report.latencies_ms.clone();
    latencies.sort_by(|a, b| a.total_cmp(b));
    output(BenchFigures {
        records: added.len(),
        batch: args.batch,
        in_flight: args.in_flight,
        txs: report.txs,
        seconds,
        records_per_second: added.len() as f64 / seconds,
        latency_ms_p50: percentile(&latencies, 50.0),
        latency_ms_p99: percentile(&latencies, 99.0),
        gas_per_record: report.gas_used as f64 / added.len().max(1) as f64,
        encrypt_store_seconds,
        storage: ehr.storage.backend_name(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let sorted = [10.0, 20.0, 30.0, 40.0];
        assert_eq!(percentile(&sorted, 50.0), 20.0);
        assert_eq!(percentile(&sorted, 99.0), 40.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }
}
