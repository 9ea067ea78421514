//! `ehr record`: add, update, get, history, list of encrypted records.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Subcommand;
use ehr_client::{local_time, AddedRecord};
use ehr_types::registry::{QueryMsg as RegistryQuery, RecordInfo, RecordVersion, RecordsResponse};
use ehr_types::{BlobRef, Category, PatientId, RecordId};
use serde::{Serialize, Serializer};

use crate::args::{parse_category, read_file};
use crate::context::{patient_id, Cx};
use crate::output::{lines, output, Output, Render};

#[derive(Subcommand)]
pub enum RecordCmd {
    /// Encrypt files, store the ciphertext and register each as a record.
    Add {
        #[arg(long)]
        patient: Option<PatientId>,
        #[arg(long, value_parser = parse_category)]
        category: Category,
        #[arg(long, default_value_t = 100)]
        batch: usize,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// A new version of a record.
    Update {
        record_id: RecordId,
        file: PathBuf,
    },
    /// Fetch, verify against the chain, decrypt.
    Get {
        record_id: RecordId,
        #[arg(long)]
        version: Option<u32>,
        /// Write the plaintext here instead of stdout.
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    History {
        record_id: RecordId,
    },
    List {
        #[arg(long)]
        patient: Option<PatientId>,
        #[arg(long, value_parser = parse_category)]
        category: Option<Category>,
        #[arg(long)]
        start_after: Option<RecordId>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
}

/// A record added from a file.
#[derive(Serialize)]
struct AddedLine {
    #[serde(flatten)]
    record: AddedRecord,
    file: PathBuf,
}

/// `record add`.
#[derive(Serialize)]
struct RecordsAdded {
    patient_id: PatientId,
    records: Vec<AddedLine>,
    txs: usize,
}

impl Render for RecordsAdded {
    fn human(&self) -> String {
        lines(
            &self.records,
            |line| {
                let r = &line.record;
                format!(
                    "record {}  {}  {}  {}  ({})",
                    r.record_id,
                    r.category.name(),
                    r.uri,
                    r.sha256,
                    line.file.display()
                )
            },
            "no records added",
        )
    }
}

/// `record update`.
#[derive(Serialize)]
struct RecordUpdated {
    record_id: RecordId,
    version: u32,
    blob: BlobRef,
    tx: String,
}

impl Render for RecordUpdated {
    fn human(&self) -> String {
        format!(
            "record {} version {}  {}  {}  tx {}",
            self.record_id, self.version, self.blob.uri, self.blob.sha256, self.tx
        )
    }
}

/// `record get`: the version read, checked against the chain and decrypted.
#[derive(Serialize)]
struct RecordRead {
    record_id: RecordId,
    version: u32,
    category: Category,
    /// The ciphertext's sha256, equal to the chain's.
    sha256_verified: String,
    #[serde(flatten)]
    plaintext: Plaintext,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Plaintext {
    /// Written to this file (mode 0600).
    Out { out: PathBuf },
    /// Printed: as it is for people, as UTF-8 (invalid bytes replaced) in JSON.
    Printed {
        #[serde(serialize_with = "lossy_utf8")]
        plaintext: Vec<u8>,
    },
}

fn lossy_utf8<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&String::from_utf8_lossy(bytes))
}

impl Render for RecordRead {
    fn human(&self) -> String {
        match &self.plaintext {
            Plaintext::Out { out } => format!(
                "record {} v{} ({}) verified and decrypted to {}",
                self.record_id,
                self.version,
                self.category.name(),
                out.display()
            ),
            Plaintext::Printed { plaintext } => String::from_utf8_lossy(plaintext).into_owned(),
        }
    }

    fn write_human(&self, out: &mut dyn Write) -> std::io::Result<()> {
        match &self.plaintext {
            Plaintext::Printed { plaintext } => out.write_all(plaintext),
            Plaintext::Out { .. } => writeln!(out, "{}", self.human()),
        }
    }
}

/// One version of a record, with its author's name and local time.
#[derive(Serialize)]
struct VersionLine {
    #[serde(flatten)]
    version: RecordVersion,
    author_name: String,
    time_local: String,
}

/// `record history`.
#[derive(Serialize)]
#[serde(transparent)]
struct History(Vec<VersionLine>);

impl Render for History {
    fn human(&self) -> String {
        lines(
            &self.0,
            |line| {
                let v = &line.version;
                format!(
                    "v{}  {}  {}  {} bytes  by {}  at {}",
                    v.version,
                    v.blob.uri,
                    v.blob.sha256,
                    v.blob.size,
                    line.author_name,
                    line.time_local
                )
            },
            "no versions",
        )
    }
}

/// A record as listed, with its creator's name.
#[derive(Serialize)]
struct RecordLine {
    #[serde(flatten)]
    record: RecordInfo,
    created_by_name: String,
}

/// `record list`.
#[derive(Serialize)]
struct RecordList {
    records: Vec<RecordLine>,
}

impl Render for RecordList {
    fn human(&self) -> String {
        lines(
            &self.records,
            |line| {
                let r = &line.record;
                format!(
                    "record {}  {}  {:?}  v{}  {}  by {}",
                    r.id,
                    r.category.name(),
                    r.status,
                    r.latest.version,
                    r.latest.blob.uri,
                    line.created_by_name
                )
            },
            "no records",
        )
    }
}

pub async fn run(cx: &mut Cx, cmd: RecordCmd) -> Result<Output> {
    match cmd {
        RecordCmd::Add {
            patient,
            category,
            batch,
            files,
        } => {
            let items = files
                .iter()
                .map(|f| Ok((category, read_file(f)?)))
                .collect::<Result<Vec<_>>>()?;
            let ehr = cx.ehr()?;
            let patient = patient_id(&ehr, patient).await?;
            let bar = cx.progress(items.len() as u64, "adding");
            let (added, report) = ehr
                .add_records(patient, items, batch, |n| bar.inc(n as u64))
                .await?;
            bar.finish_and_clear();
            if added.len() != files.len() {
                bail!(
                    "{} files sent, but the chain reports {} records",
                    files.len(),
                    added.len()
                );
            }
            output(RecordsAdded {
                patient_id: patient,
                records: added
                    .into_iter()
                    .zip(files)
                    .map(|(record, file)| AddedLine { record, file })
                    .collect(),
                txs: report.txs,
            })
        }
        RecordCmd::Update { record_id, file } => {
            let bytes = read_file(&file)?;
            let ehr = cx.ehr()?;
            let (version, blob, tx) = ehr.update_record(record_id, &bytes).await?;
            output(RecordUpdated {
                record_id,
                version,
                blob,
                tx: tx.hash,
            })
        }
        RecordCmd::Get {
            record_id,
            version,
            out,
        } => {
            let ehr = cx.ehr()?;
            let (record, chosen, plaintext) = ehr.read_record(record_id, version).await?;
            let plaintext = match out {
                Some(path) => {
                    // Decrypted health data: readable by this user only.
                    ehr_client::write_private(&path, &plaintext)?;
                    Plaintext::Out { out: path }
                }
                None => Plaintext::Printed { plaintext },
            };
            output(RecordRead {
                record_id,
                version: chosen.version,
                category: record.category,
                sha256_verified: chosen.blob.sha256,
                plaintext,
            })
        }
        RecordCmd::History { record_id } => {
            let ehr = cx.ehr()?;
            let versions = ehr.history(record_id).await?;
            let names =
                crate::people::directory(&ehr, None, versions.iter().map(|v| v.author.clone()))
                    .await?;
            output(History(
                versions
                    .into_iter()
                    .map(|version| VersionLine {
                        author_name: names.name(&version.author),
                        time_local: local_time(version.time),
                        version,
                    })
                    .collect(),
            ))
        }
        RecordCmd::List {
            patient,
            category,
            start_after,
            limit,
        } => {
            let ehr = cx.ehr()?;
            let patient = patient_id(&ehr, patient).await?;
            let page: RecordsResponse = ehr
                .session
                .chain
                .registry(&RegistryQuery::RecordsByPatient {
                    patient_id: patient,
                    category,
                    start_after,
                    limit: Some(limit),
                })
                .await?;
            let info = ehr.patient(patient).await?;
            let names = crate::people::directory(
                &ehr,
                Some(&info.owner),
                page.records.iter().map(|r| r.created_by.clone()),
            )
            .await?;
            output(RecordList {
                records: page
                    .records
                    .into_iter()
                    .map(|record| RecordLine {
                        created_by_name: names.name(&record.created_by),
                        record,
                    })
                    .collect(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_printed_record_is_its_bytes_for_people_and_text_in_json() {
        let read = RecordRead {
            record_id: 9,
            version: 2,
            category: Category::Lab,
            sha256_verified: "cd".repeat(32),
            plaintext: Plaintext::Printed {
                plaintext: b"glucose 5.1\n\xff".to_vec(),
            },
        };
        let mut printed = Vec::new();
        Render::write_human(&read, &mut printed).unwrap();
        assert_eq!(printed, b"glucose 5.1\n\xff");
        let json = serde_json::to_value(&read).unwrap();
        assert_eq!(json["record_id"], 9);
        assert_eq!(json["category"], "lab");
        assert_eq!(json["plaintext"], "glucose 5.1\n\u{fffd}");
        assert!(json.get("out").is_none());
    }

    #[test]
    fn a_record_written_to_a_file_says_where() {
        let read = RecordRead {
            record_id: 9,
            version: 2,
            category: Category::Lab,
            sha256_verified: "cd".repeat(32),
            plaintext: Plaintext::Out {
                out: PathBuf::from("/tmp/lab.txt"),
            },
        };
        assert_eq!(
            read.human(),
            "record 9 v2 (lab) verified and decrypted to /tmp/lab.txt"
        );
        let json = serde_json::to_value(&read).unwrap();
        assert_eq!(json["out"], "/tmp/lab.txt");
        assert!(json.get("plaintext").is_none());
    }

    #[test]
    fn added_records_keep_the_client_s_fields_and_name_their_file() {
        let added = RecordsAdded {
            patient_id: 1,
            records: vec![AddedLine {
                record: AddedRecord {
                    record_id: 12,
                    category: Category::Note,
                    sha256: "ef".repeat(32),
                    uri: "ehrfs://x".into(),
                    already_registered: false,
                },
                file: PathBuf::from("note.txt"),
            }],
            txs: 1,
        };
        let json = serde_json::to_value(&added).unwrap();
        assert_eq!(json["records"][0]["record_id"], 12);
        assert_eq!(json["records"][0]["uri"], "ehrfs://x");
        assert_eq!(json["records"][0]["file"], "note.txt");
        assert_eq!(
            added.human(),
            format!(
                "record 12  note  ehrfs://x  {}  (note.txt)",
                "ef".repeat(32)
            )
        );
    }
}
