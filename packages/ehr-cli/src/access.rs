//! Who may read a patient's records: `ehr grant`, `revoke`, `request`, `requests`, `approve`,
//! `deny`.

use anyhow::Result;
use clap::Args;
use cosmwasm_std::Timestamp;
use ehr_client::directory::{category_labels, scope_words};
use ehr_client::error::ClientError;
use ehr_client::{local_time, ContractMsg};
use ehr_types::access::{
    AccessRequestInfo, ExecuteMsg as AccessMsg, QueryMsg as AccessQuery, RequestResponse,
    RequestsResponse, Scope,
};
use ehr_types::{Category, PatientId, RequestId};
use serde::Serialize;

use crate::args::{expiry, parse_category, parse_scope};
use crate::context::{emitted, patient_id, Cx};
use crate::output::{lines, output, Output, Render};
use crate::people::{directory, name_of};

#[derive(Args)]
pub struct GrantArgs {
    /// Doctor address or key name.
    grantee: String,
    #[arg(long)]
    patient: Option<PatientId>,
    #[arg(long, value_parser = parse_scope, default_value = "read")]
    scope: Scope,
    /// Comma-separated: note,lab,imaging,prescription,allergy,immunization,encounter,document,profile
    #[arg(long, value_delimiter = ',', value_parser = parse_category, required = true)]
    categories: Vec<Category>,
    /// Seconds from now; no expiry when absent.
    #[arg(long)]
    expires_in: Option<u64>,
}

#[derive(Args)]
pub struct RevokeArgs {
    grantee: String,
    #[arg(long)]
    patient: Option<PatientId>,
}

#[derive(Args)]
pub struct RequestArgs {
    #[arg(long)]
    patient: PatientId,
    #[arg(long, value_parser = parse_scope, default_value = "read")]
    scope: Scope,
    #[arg(long, value_delimiter = ',', value_parser = parse_category, required = true)]
    categories: Vec<Category>,
}

#[derive(Args)]
pub struct RequestsArgs {
    #[arg(long)]
    patient: Option<PatientId>,
    /// The requests you made (as a doctor).
    #[arg(long)]
    mine: bool,
}

#[derive(Args)]
pub struct DecideArgs {
    request_id: RequestId,
    #[arg(long)]
    expires_in: Option<u64>,
}

/// What a grant gives, in words: "Dr Ana Lima, St Mary Hospital now has read access to Lab
/// until …".
fn grant_sentence(
    grantee_name: &str,
    scope: Scope,
    categories: &[Category],
    expires: Option<Timestamp>,
) -> String {
    let until = expires
        .map(|t| format!("until {}", local_time(t)))
        .unwrap_or_else(|| "with no end date".into());
    format!(
        "{grantee_name} now has {} access to {} {until}",
        scope_words(scope),
        category_labels(categories)
    )
}

/// `ehr grant`.
#[derive(Serialize)]
struct Granted {
    patient_id: PatientId,
    grantee: String,
    grantee_name: String,
    scope: Scope,
    categories: Vec<Category>,
    expires: Option<Timestamp>,
    summary: String,
    key_envelopes: usize,
    tx: String,
}

impl Render for Granted {
    fn human(&self) -> String {
        format!(
            "{} (patient {}; {} key envelopes)  tx {}",
            self.summary, self.patient_id, self.key_envelopes, self.tx
        )
    }
}

/// `ehr revoke`.
#[derive(Serialize)]
struct Revoked {
    patient_id: PatientId,
    grantee: String,
    grantee_name: String,
    tx: String,
}

impl Render for Revoked {
    fn human(&self) -> String {
        format!(
            "revoked the access of {} to patient {}; the next record written in each of its categories gets a new key, shared with you and the remaining doctors only  tx {}",
            self.grantee_name, self.patient_id, self.tx
        )
    }
}

/// `ehr request`.
#[derive(Serialize)]
struct Requested {
    request_id: RequestId,
    patient_id: PatientId,
    tx: String,
}

impl Render for Requested {
    fn human(&self) -> String {
        format!(
            "request {} sent to patient {}  tx {}",
            self.request_id, self.patient_id, self.tx
        )
    }
}

/// A request with its requester's name and local time.
#[derive(Serialize)]
struct RequestLine {
    #[serde(flatten)]
    request: AccessRequestInfo,
    requester_name: String,
    created_local: String,
}

/// `ehr requests`.
#[derive(Serialize)]
struct RequestList {
    requests: Vec<RequestLine>,
}

impl Render for RequestList {
    fn human(&self) -> String {
        lines(
            &self.requests,
            |line| {
                let r = &line.request;
                format!(
                    "request {}  patient {}  {:?}  {} access to {}  asked by {} {}",
                    r.id,
                    r.patient_id,
                    r.status,
                    scope_words(r.scope),
                    category_labels(&r.categories),
                    line.requester_name,
                    line.created_local
                )
            },
            "no requests",
        )
    }
}

/// `ehr approve`.
#[derive(Serialize)]
struct Approved {
    request_id: RequestId,
    patient_id: PatientId,
    summary: String,
    key_envelopes: usize,
    tx: String,
}

impl Render for Approved {
    fn human(&self) -> String {
        format!(
            "approved request {}: {} ({} key envelopes)  tx {}",
            self.request_id, self.summary, self.key_envelopes, self.tx
        )
    }
}

/// `ehr deny`.
#[derive(Serialize)]
struct Denied {
    request_id: RequestId,
    tx: String,
}

impl Render for Denied {
    fn human(&self) -> String {
        format!("denied request {}  tx {}", self.request_id, self.tx)
    }
}

pub async fn grant(cx: &mut Cx, args: GrantArgs) -> Result<Output> {
    let grantee = cx.address_of(&args.grantee)?;
    let expires = expiry(args.expires_in)?;
    let ehr = cx.ehr()?;
    let patient = patient_id(&ehr, args.patient).await?;
    let (key_envelopes, tx) = ehr
        .grant(
            patient,
            &grantee,
            args.scope,
            args.categories.clone(),
            expires,
        )
        .await?;
    let grantee_name = name_of(&ehr, &grantee).await?;
    output(Granted {
        patient_id: patient,
        summary: grant_sentence(&grantee_name, args.scope, &args.categories, expires),
        grantee,
        grantee_name,
        scope: args.scope,
        categories: args.categories,
        expires,
        key_envelopes,
        tx: tx.hash,
    })
}

pub async fn revoke(cx: &mut Cx, args: RevokeArgs) -> Result<Output> {
    let grantee = cx.address_of(&args.grantee)?;
    let ehr = cx.ehr()?;
    let patient = patient_id(&ehr, args.patient).await?;
    let tx = ehr.revoke(patient, &grantee).await?;
    output(Revoked {
        patient_id: patient,
        grantee_name: name_of(&ehr, &grantee).await?,
        grantee,
        tx: tx.hash,
    })
}

pub async fn request(cx: &mut Cx, args: RequestArgs) -> Result<Output> {
    let ehr = cx.ehr()?;
    let msg = AccessMsg::RequestAccess {
        patient_id: args.patient,
        scope: args.scope,
        categories: args.categories,
    };
    let tx = ehr.session.execute(&[ContractMsg::Access(msg)]).await?;
    output(Requested {
        request_id: emitted(&tx, &ehr.session.chain.config.access, "request_id")?,
        patient_id: args.patient,
        tx: tx.hash,
    })
}

pub async fn requests(cx: &mut Cx, args: RequestsArgs) -> Result<Output> {
    let ehr = cx.ehr()?;
    let query = if args.mine {
        AccessQuery::RequestsByRequester {
            requester: ehr.identity.address.clone(),
            start_after: None,
            limit: Some(100),
        }
    } else {
        AccessQuery::RequestsByPatient {
            patient_id: patient_id(&ehr, args.patient).await?,
            start_after: None,
            limit: Some(100),
        }
    };
    let page: RequestsResponse = ehr.session.chain.access(&query).await?;
    let names = directory(
        &ehr,
        None,
        page.requests.iter().map(|r| r.requester.clone()),
    )
    .await?;
    output(RequestList {
        requests: page
            .requests
            .into_iter()
            .map(|request| RequestLine {
                requester_name: names.name(&request.requester),
                created_local: local_time(request.created),
                request,
            })
            .collect(),
    })
}

pub async fn approve(cx: &mut Cx, args: DecideArgs) -> Result<Output> {
    let expires = expiry(args.expires_in)?;
    let ehr = cx.ehr()?;
    let response: RequestResponse = ehr
        .session
        .chain
        .access(&AccessQuery::Request {
            request_id: args.request_id,
        })
        .await?;
    let request = response
        .request
        .ok_or_else(|| ClientError::NotFound(format!("request {} not found", args.request_id)))?;
    let patient = ehr.patient(request.patient_id).await?;
    let key_envelopes = ehr
        .envelopes_for(&patient, request.requester.as_str(), &request.categories)
        .await?;
    let count = key_envelopes.len();
    let msg = AccessMsg::ApproveRequest {
        request_id: args.request_id,
        expires,
        key_envelopes,
    };
    let tx = ehr.session.execute(&[ContractMsg::Access(msg)]).await?;
    let requester_name = name_of(&ehr, request.requester.as_str()).await?;
    output(Approved {
        request_id: args.request_id,
        patient_id: request.patient_id,
        summary: grant_sentence(&requester_name, request.scope, &request.categories, expires),
        key_envelopes: count,
        tx: tx.hash,
    })
}

pub async fn deny(cx: &mut Cx, args: DecideArgs) -> Result<Output> {
    let ehr = cx.ehr()?;
    let tx = ehr
        .session
        .execute(&[ContractMsg::Access(AccessMsg::DenyRequest {
            request_id: args.request_id,
        })])
        .await?;
    output(Denied {
        request_id: args.request_id,
        tx: tx.hash,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grant_says_who_may_do_what_until_when_and_keeps_ids_as_numbers() {
        let expires = Timestamp::from_seconds(1_796_000_000);
        let granted = Granted {
            patient_id: 7,
            grantee: "wasm1doctor".into(),
            grantee_name: "Dr Ana Lima, St Mary Hospital".into(),
            scope: Scope::Write,
            categories: vec![Category::Lab, Category::Note],
            expires: Some(expires),
            summary: grant_sentence(
                "Dr Ana Lima, St Mary Hospital",
                Scope::Write,
                &[Category::Lab, Category::Note],
                Some(expires),
            ),
            key_envelopes: 2,
            tx: "AB12".into(),
        };
        let json = serde_json::to_value(&granted).unwrap();
        assert_eq!(json["patient_id"], 7);
        assert_eq!(json["scope"], "write");
        assert_eq!(json["categories"], serde_json::json!(["lab", "note"]));
        assert_eq!(json["expires"], "1796000000000000000");
        assert_eq!(
            granted.human(),
            format!(
                "Dr Ana Lima, St Mary Hospital now has read and write access to Lab, Note until {} (patient 7; 2 key envelopes)  tx AB12",
                local_time(expires)
            )
        );
        assert_eq!(
            grant_sentence(
                "Dr Ben Okafor, Riverside Clinic",
                Scope::Read,
                &[Category::Lab],
                None
            ),
            "Dr Ben Okafor, Riverside Clinic now has read access to Lab with no end date"
        );
    }

    #[test]
    fn a_request_id_is_a_number() {
        let requested = Requested {
            request_id: 3,
            patient_id: 1,
            tx: "CD34".into(),
        };
        assert_eq!(
            serde_json::to_value(&requested).unwrap(),
            serde_json::json!({"request_id": 3, "patient_id": 1, "tx": "CD34"})
        );
        assert_eq!(requested.human(), "request 3 sent to patient 1  tx CD34");
    }
}
