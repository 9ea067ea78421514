//! `ehr search`: everything the caller can decrypt of a patient, by words, category, date and
//! author, from the local index (ehr-client `search`), synced with the chain first.

use std::time::Instant;

use anyhow::Result;
use clap::Args;
use cosmwasm_std::{Addr, Timestamp};
use ehr_client::local_time;
use ehr_client::search::{parse_date, Query, SearchIndex, SyncCounts};
use ehr_types::{Category, PatientId, RecordId};
use serde::Serialize;

use crate::args::parse_category;
use crate::context::{patient_id, Cx};
use crate::output::{lines, output, Output, Render};

#[derive(Args)]
pub struct SearchArgs {
    /// Words that must all appear in a record (case-insensitive); none lists every record.
    text: Vec<String>,
    /// The patient (default: yours).
    #[arg(long)]
    patient: Option<PatientId>,
    /// Only this category.
    #[arg(long, value_parser = parse_category)]
    category: Option<Category>,
    /// yyyy-mm-dd, inclusive: the record's own date, else the day it was written. (Not
    /// `--from`: that is the signing key of every command.)
    #[arg(long, value_parser = parse_day)]
    since: Option<String>,
    /// yyyy-mm-dd, inclusive.
    #[arg(long, value_parser = parse_day)]
    until: Option<String>,
    /// An author's address, or part of the name the directory gives it ("Lima", "you").
    #[arg(long)]
    author: Option<String>,
    /// The newest this many hits are listed.
    #[arg(long, default_value_t = 20)]
    limit: usize,
    /// Build the index again from nothing (when the stored one does not open).
    #[arg(long)]
    rebuild: bool,
}

fn parse_day(text: &str) -> std::result::Result<String, String> {
    parse_date(text).map_err(|e| e.to_string())
}

/// One record found.
#[derive(Serialize)]
struct Hit {
    record_id: RecordId,
    version: u32,
    category: Category,
    /// The record's own date, else the UTC day of its chain time.
    date: String,
    title: String,
    author: String,
    author_name: String,
    time: Timestamp,
    time_local: String,
}

/// `search`.
#[derive(Serialize)]
struct SearchResult {
    patient_id: PatientId,
    query: String,
    hits: Vec<Hit>,
    /// Records that match, of which `hits` are the newest `--limit`.
    total: usize,
    sync: SyncCounts,
    /// Listing the records on chain, fetching and decrypting the new versions, saving the index.
    sync_ms: f64,
    /// Opening the stored index (read, decrypt, parse) and scanning it.
    query_ms: f64,
}

impl Render for SearchResult {
    fn human(&self) -> String {
        let s = &self.sync;
        let head = format!(
            "{} of {} indexed records of patient {} match{}",
            self.total,
            s.indexed,
            self.patient_id,
            if self.query.is_empty() {
                String::new()
            } else {
                format!(" {:?}", self.query)
            },
        );
        let hits = lines(
            &self.hits,
            |h| {
                format!(
                    "#{} v{}  {}  {}  {}  by {}, {}",
                    h.record_id,
                    h.version,
                    h.date,
                    h.category.label(),
                    h.title,
                    h.author_name,
                    h.time_local
                )
            },
            "no records found",
        );
        let more = if self.total > self.hits.len() {
            format!("\n… and {} more (--limit)", self.total - self.hits.len())
        } else {
            String::new()
        };
        format!(
            "{head}\n{hits}{more}\nsynced in {:.0} ms ({} listed, {} fetched, {} dropped{}), searched in {:.1} ms",
            self.sync_ms,
            s.listed,
            s.fetched,
            s.dropped,
            if s.failed > 0 {
                format!(", {} not readable now, tried again next time", s.failed)
            } else {
                String::new()
            },
            self.query_ms
        )
    }
}

pub async fn run(cx: &mut Cx, args: SearchArgs) -> Result<Output> {
    let ehr = cx.ehr()?;
    let patient = ehr.patient(patient_id(&ehr, args.patient).await?).await?;
    let store = ehr.search_store(patient.id)?;

    let started = Instant::now();
    let mut index = if args.rebuild {
        SearchIndex::new(patient.id)
    } else {
        store.load(patient.id)?
    };
    let load_ms = ms(started);

    let started = Instant::now();
    let sync = ehr.sync_search(&patient, &mut index).await?;
    // Unchanged, it is not written again (a few MB at 10,000 records).
    if args.rebuild || sync.fetched > 0 || sync.dropped > 0 {
        store.save(&index)?;
    }
    let sync_ms = ms(started);

    let text = args.text.join(" ");
    let authors: Vec<Addr> = index
        .entries
        .iter()
        .map(|e| Addr::unchecked(&e.author))
        .collect();
    let names = crate::people::directory(&ehr, Some(&patient.owner), authors).await?;

    let started = Instant::now();
    let query = Query {
        terms: Query::terms_of(&text),
        category: args.category,
        from: args.since,
        to: args.until,
        authors: args
            .author
            .as_deref()
            .map(|needle| index.authors_matching(needle, |a| names.name(&Addr::unchecked(a)))),
    };
    let (found, total) = index.search(&query, args.limit);
    let query_ms = load_ms + ms(started);

    let hits = found
        .into_iter()
        .map(|e| Hit {
            record_id: e.record_id,
            version: e.version,
            category: e.category,
            date: e.date.clone(),
            title: e.title.clone(),
            author_name: names.name(&Addr::unchecked(&e.author)),
            author: e.author.clone(),
            time: e.time,
            time_local: local_time(e.time),
        })
        .collect();
    output(SearchResult {
        patient_id: patient.id,
        query: text,
        hits,
        total,
        sync,
        sync_ms,
        query_ms,
    })
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(hits: usize, total: usize) -> SearchResult {
        SearchResult {
            patient_id: 3,
            query: "hemoglobin".into(),
            hits: (0..hits)
                .map(|i| Hit {
                    record_id: 12 + i as u64,
                    version: 2,
                    category: Category::Lab,
                    date: "2026-01-05".into(),
                    title: "Hemoglobin".into(),
                    author: "wasm1doctor".into(),
                    author_name: "Dr Ana Lima, St Mary Hospital".into(),
                    time: Timestamp::from_seconds(1_780_000_000),
                    time_local: "Thu 28 May 2026 22:26 UTC".into(),
                })
                .collect(),
            total,
            sync: SyncCounts {
                listed: 40,
                fetched: 3,
                dropped: 1,
                failed: 0,
                indexed: 38,
            },
            sync_ms: 812.4,
            query_ms: 4.25,
        }
    }

    #[test]
    fn people_read_hits_with_names_local_times_and_the_timings() {
        assert_eq!(
            result(1, 3).human(),
            "3 of 38 indexed records of patient 3 match \"hemoglobin\"\n\
             #12 v2  2026-01-05  Lab  Hemoglobin  by Dr Ana Lima, St Mary Hospital, Thu 28 May 2026 22:26 UTC\n\
             … and 2 more (--limit)\n\
             synced in 812 ms (40 listed, 3 fetched, 1 dropped), searched in 4.2 ms"
        );
        assert!(result(0, 0).human().contains("\nno records found\n"));
    }

    #[test]
    fn json_carries_addresses_chain_times_and_counts() {
        let json = serde_json::to_value(result(1, 1)).unwrap();
        assert_eq!(json["hits"][0]["author"], "wasm1doctor");
        assert_eq!(json["hits"][0]["time"], "1780000000000000000");
        assert_eq!(json["hits"][0]["category"], "lab");
        assert_eq!(json["sync"]["fetched"], 3);
        assert_eq!(json["total"], 1);
    }

    #[test]
    fn dates_are_checked_when_parsed() {
        assert_eq!(parse_day("2026-01-05").unwrap(), "2026-01-05");
        assert!(parse_day("5 Jan").is_err());
    }
}
