//! Live test against a running localnet (scripts/test-client runs it with `--ignored`): retries are
//! idempotent. EHR_LIVE_DEPLOY names the deploy.json, EHR_LIVE_MNEMONIC the signing wallet (a
//! localnet test account that is not a patient yet, or is one already); a missing one fails the test.

use std::time::Duration;

use ehr_client::{
    ChainClient, ChainConfig, ClientError, ContractMsg, Ehr, Identity, Session, Signer, Storage,
};
use ehr_types::registry::{DesignationResponse, ExecuteMsg, QueryMsg, RecordsResponse};
use ehr_types::Category;

fn config(deploy: &serde_json::Value) -> ChainConfig {
    ChainConfig {
        chain_id: deploy["chain_id"].as_str().unwrap().to_string(),
        rpc_urls: vec![deploy["rpc_url"].as_str().unwrap().to_string()],
        rpc_timeout: Duration::from_secs(5),
        registry: deploy["contracts"]["registry"]["address"]
            .as_str()
            .unwrap()
            .to_string(),
        access: deploy["contracts"]["access"]["address"]
            .as_str()
            .unwrap()
            .to_string(),
        bech32_prefix: "wasm".into(),
        denom: deploy["denom"].as_str().unwrap().to_string(),
        gas_price: 0.0,
        gas_adjustment: 1.3,
        commit_timeout: Duration::from_secs(60),
    }
}

async fn record_count(ehr: &Ehr, patient_id: u64) -> usize {
    let query = QueryMsg::RecordsByPatient {
        patient_id,
        category: None,
        start_after: None,
        limit: Some(100),
    };
    ehr.session
        .chain
        .registry::<RecordsResponse>(&query)
        .await
        .unwrap()
        .records
        .len()
}

fn required(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: the live test cannot run (scripts/test-client sets it)")
    })
}

#[tokio::test]
#[ignore = "needs a deployed localnet: scripts/test-client runs it"]
async fn registering_the_same_ciphertexts_again_creates_no_duplicates() {
    let path = required("EHR_LIVE_DEPLOY");
    let mnemonic = required("EHR_LIVE_MNEMONIC");
    let deploy: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let home = tempfile::tempdir().unwrap();
    let chain = ChainClient::new(config(&deploy)).unwrap();
    let scope = ehr_crypto::KeyScope {
        chain_id: &chain.config.chain_id,
        registry: &chain.config.registry,
    };
    let identity = Identity::from_mnemonic("live", &mnemonic, &scope).unwrap();
    let signer = Signer::from_wallet(&identity.wallet, "wasm").unwrap();
    let ehr = Ehr {
        session: Session::new(chain, signer),
        storage: Storage::new(home.path().join("blobs"), None).unwrap(),
        identity,
        home: home.path().into(),
    };

    let designation: DesignationResponse = ehr
        .session
        .chain
        .registry(&QueryMsg::Designation {
            address: ehr.identity.address.clone(),
        })
        .await
        .unwrap();
    let patient_id = match designation.patient_id {
        Some(id) => id,
        None => {
            let key = cosmwasm_std::Binary::from(
                ehr.identity.public_encryption_key().as_bytes().to_vec(),
            );
            let tx = ehr
                .session
                .execute(&[ContractMsg::Registry(ExecuteMsg::RegisterPatient {
                    encryption_key: key,
                    profile: None,
                })])
                .await
                .unwrap();
            tx.attribute_values(&ehr.session.chain.config.registry, "patient_id")[0]
                .parse()
                .unwrap()
        }
    };
    let patient = ehr.patient(patient_id).await.unwrap();
    let before = record_count(&ehr, patient_id).await;

    let items = (0..3)
        .map(|i| (Category::Lab, format!("retry test {i}").into_bytes()))
        .collect();
    let (blobs, rotations) = ehr.seal_and_store_all(&patient, items).await.unwrap();
    let (first, _) = ehr
        .register_records(patient_id, blobs[..2].to_vec(), rotations, 2, 1, |_| {})
        .await
        .unwrap();
    assert!(first.iter().all(|r| !r.already_registered));

    // A retry of the whole set, as after a lost response: the two registered ones are found, not re-added.
    let (again, _) = ehr
        .register_records(patient_id, blobs.clone(), vec![], 3, 1, |_| {})
        .await
        .unwrap();
    assert_eq!(again.len(), 3);
    let reused: Vec<_> = again
        .iter()
        .filter(|r| r.already_registered)
        .map(|r| r.record_id)
        .collect();
    let mut first_ids: Vec<_> = first.iter().map(|r| r.record_id).collect();
    first_ids.sort();
    let mut reused_sorted = reused.clone();
    reused_sorted.sort();
    assert_eq!(reused_sorted, first_ids);
    assert_eq!(
        record_count(&ehr, patient_id).await,
        before + 3,
        "exactly three new records, no duplicates"
    );

    // The contract itself refuses a duplicate outright.
    let duplicate = ContractMsg::Registry(ExecuteMsg::AddRecord {
        patient_id,
        category: Category::Lab,
        epoch: blobs[0].epoch,
        blob: blobs[0].blob.clone(),
    });
    let error = ehr.session.submit(&[duplicate]).await.unwrap_err();
    assert!(matches!(error, ClientError::DuplicateBlob(_)), "{error}");
}
