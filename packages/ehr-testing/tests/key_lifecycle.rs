//! The key-lifecycle invariant of issue 10 as a property test, with emergency windows that open
//! keys: both contracts in cw-multi-test, and the real `ehr-crypto` key handling (X25519 keys,
//! HPKE envelopes, sealed record files, Shamir shares of category keys sealed to trustees).
//!
//! One patient, a few credentialed doctors and three trustees (threshold 2), each with a real
//! X25519 key registered on chain, go through random sequences of grants, narrower re-grants,
//! approved requests, revokes, time passing beyond expiries, credential withdrawals and
//! re-credentials, the patient escrowing Note and Lab (not Imaging), emergency accesses after
//! which k or k−1 trustees release their shares, releases at any other time, the patient's
//! deletion, and writes (`AddRecord`, `UpdateRecord`) by the patient and by doctors.
//!
//! Every party's client behaves like the real one: it fetches every envelope wrapped to it
//! (`OwnEnvelopes` for the patient, `KeyEnvelopes` for a doctor), opens it with its own secret
//! key and keeps every key it ever opened, created or combined. A writer queries `KeyHolders`;
//! when the epoch is stale, a reader lacks its key (a doctor credentialed again after a rotation
//! left it out) or the writer lacks it, it sends `[RotateKey, write]` in one atomic execution,
//! with a fresh category key wrapped to the patient's registered key and to
//! every `Readers` entry that published one, and, for an escrowed category, split into shares
//! sealed to each trustee (`RotateKey.escrow`). The patient's first key of a category (epoch 0)
//! goes on chain with `StoreOwnEnvelopes`, and its shares with `EscrowShares`, in the execution
//! of the write or grant that needs it. Every file is sealed under the epoch it is written with.
//! A trustee releases each escrowed share it holds and has not yet released in the doctor's
//! window, opened with its secret and re-sealed to the doctor's registered key. Like the agent
//! (`ehr trustee serve`), it serves only a credentialed doctor, which the contract leaves to it
//! (it checks the window's time alone); unlike the agent, it does not look at the window first:
//! the contract must refuse. The doctor's client opens the released shares and combines each
//! epoch that has k of them.
//!
//! An independent model, computed here from the operations applied (and the epochs of the keys
//! accepted operations made), decides who may read a category at each moment, as the contract's
//! `may_read` does: credentialed, and an unexpired grant that covers it with at least Read, or
//! an open emergency window and a category the patient opens in an emergency (the escrowed
//! ones). It predicts whether each operation succeeds (a release only
//! inside the doctor's window), so a writer with a valid Write grant is never blocked by someone
//! else's loss of access. What a window opens is narrower: the keys of the escrowed epochs that
//! k trustees released, and, while the window lasts, every later key of an escrowed category
//! whose current epoch k trustees released (the k-th release makes the doctor a holder of that
//! epoch, and `Readers` names a holder with an active window, so each rotation wraps the next
//! key to it). Checked:
//! - after each release: the doctor's client combined exactly the escrowed epochs that at least
//!   k trustees released to it, each into the key its files are sealed with, and nothing of an
//!   epoch fewer trustees released;
//! - after every successful write: every doctor that may not read the category (a window that
//!   ended included) fails to open the new file with every key it holds, those combined from
//!   released shares included, and still holds none of the keys of the files written since it
//!   last lost the right;
//! - the patient, every doctor entitled by its grant, and every doctor whose active window had
//!   k releases of the category's current epoch open the new file after fetching their
//!   envelopes, without anybody doing anything else.
//!
//! A writer follows the chain's `WritePlan`, as the real client does: a grantee's write leaves
//! a reader that lacks the current key unserved (the patient's next write serves it), so such a
//! reader is not expected to open that file.
//!
//! Not checked: that a doctor inside its window gets nothing more of an escrowed category, which
//! the contract does not promise: a doctor that held its current key by an earlier grant keeps
//! being handed the next ones while the window lasts. A window never opens another category
//! (the model says so, and the closed checks hold it).

use std::collections::{BTreeMap, BTreeSet};

use cosmwasm_std::{
    from_json, to_json_binary, to_json_vec, Addr, Binary, CosmosMsg, Timestamp, WasmMsg,
};
use ehr_crypto::escrow::{
    combine_shares, open_share, seal_share, split_key, KeyShare, ShareContext,
};
use ehr_crypto::{
    decrypt_file, encrypt_file, open_category_key, seal_category_key, CategoryKey, CategoryKeyring,
    Envelope, EnvelopeContext, RecordHeader, X25519PublicKey, X25519SecretKey,
};
use ehr_testing::{attribute_id, blob_of, error_text, Suite, Target};
use ehr_types::access::{
    self, CategoryEpoch, EmergencyResponse, KeyEnvelope, KeyEnvelopesResponse, KeyHoldersResponse,
    RecipientEnvelope, Scope, WritePlanResponse,
};
use ehr_types::escrow::{
    EpochEscrow, EscrowCursor, EscrowPolicyResponse, EscrowedShare, EscrowedSharesResponse,
    ReleaseCursor, ReleasedShare, ReleasedShareInfo, ReleasedSharesResponse, TrusteeShare,
    TrusteesResponse, MAX_ESCROWS_PER_MESSAGE, MAX_RELEASES_PER_MESSAGE,
};
use ehr_types::registry::{self, ProviderInfo};
use ehr_types::{Category, PatientId, RecordId};
use proptest::prelude::*;
use serde::Serialize;

const DOCTORS: usize = 4;
/// Few categories, so that grants, losses of access and writes meet often.
const CATEGORIES: [Category; 3] = [Category::Note, Category::Lab, Category::Imaging];
const CATEGORY_COUNT: usize = CATEGORIES.len();
/// `Suite::new` instantiates the access contract with one-hour emergency windows.
const EMERGENCY_SECONDS: u64 = 3600;
/// The largest page a listing returns.
const PAGE: u32 = 100;
const TRUSTEES: usize = 3;
/// Shares that open a key.
const THRESHOLD: u8 = 2;
/// The categories the patient escrows (Note and Lab): Imaging stays out, so a window's release
/// is seen to open only what the patient escrowed.
const ESCROWED: u8 = 0b011;

// ---------------------------------------------------------------------------------------------
// Operations

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Writer {
    Patient,
    Doctor(usize),
}

#[derive(Clone, Debug)]
enum Op {
    /// The patient grants (or replaces the grant of) a doctor.
    Grant {
        doctor: usize,
        scope: Scope,
        categories: u8,
        expires_in: Option<u64>,
    },
    /// The patient re-grants a doctor's grant with a proper subset of its categories.
    Narrow {
        doctor: usize,
        keep: u8,
    },
    /// The doctor asks, the patient approves (with an optional expiry).
    RequestApprove {
        doctor: usize,
        scope: Scope,
        categories: u8,
        expires_in: Option<u64>,
    },
    Revoke {
        doctor: usize,
    },
    Advance {
        seconds: u64,
    },
    /// The admin withdraws the doctor's credential (`RevokeProvider`).
    Decredential {
        doctor: usize,
    },
    /// The admin credentials the doctor again.
    Recredential {
        doctor: usize,
    },
    /// The doctor breaks the glass; then these trustees release its shares to it, as their
    /// agents do on every emergency.
    Emergency {
        doctor: usize,
        trustees: Vec<usize>,
    },
    /// The patient escrows `ESCROWED`: the policy and every existing epoch's shares.
    Escrow,
    /// These trustees release their shares to the doctor, whether its window is open or not.
    Release {
        doctor: usize,
        trustees: Vec<usize>,
    },
    DeletePatient,
    Add {
        writer: Writer,
        category: usize,
    },
    /// A new version of the `record % records`-th record.
    Update {
        writer: Writer,
        record: usize,
    },
}

fn scope() -> impl Strategy<Value = Scope> {
    prop_oneof![Just(Scope::Read), Just(Scope::Write), Just(Scope::Manage)]
}

fn category_mask() -> impl Strategy<Value = u8> {
    1u8..(1 << CATEGORY_COUNT)
}

fn expires_in() -> impl Strategy<Value = Option<u64>> {
    prop_oneof![
        1 => Just(None),
        3 => prop::sample::select(vec![60u64, 600, 3000, 7200]).prop_map(Some),
    ]
}

fn writer() -> impl Strategy<Value = Writer> {
    prop_oneof![
        2 => Just(Writer::Patient),
        2 => (0..DOCTORS).prop_map(Writer::Doctor),
    ]
}

/// k trustees, or k−1.
fn releasing_trustees() -> impl Strategy<Value = Vec<usize>> {
    let k = usize::from(THRESHOLD);
    prop::sample::subsequence((0..TRUSTEES).collect::<Vec<_>>(), k - 1..=k)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0..DOCTORS, scope(), category_mask(), expires_in()).prop_map(
            |(doctor, scope, categories, expires_in)| Op::Grant {
                doctor,
                scope,
                categories,
                expires_in,
            }
        ),
        4 => (0..DOCTORS, category_mask()).prop_map(|(doctor, keep)| Op::Narrow { doctor, keep }),
        4 => (0..DOCTORS, scope(), category_mask(), expires_in()).prop_map(
            |(doctor, scope, categories, expires_in)| Op::RequestApprove {
                doctor,
                scope,
                categories,
                expires_in,
            }
        ),
        4 => (0..DOCTORS).prop_map(|doctor| Op::Revoke { doctor }),
        5 => prop::sample::select(vec![30u64, 300, 1000, 4000])
            .prop_map(|seconds| Op::Advance { seconds }),
        2 => (0..DOCTORS).prop_map(|doctor| Op::Decredential { doctor }),
        2 => (0..DOCTORS).prop_map(|doctor| Op::Recredential { doctor }),
        6 => (0..DOCTORS, releasing_trustees())
            .prop_map(|(doctor, trustees)| Op::Emergency { doctor, trustees }),
        5 => Just(Op::Escrow),
        3 => (0..DOCTORS, releasing_trustees())
            .prop_map(|(doctor, trustees)| Op::Release { doctor, trustees }),
        1 => Just(Op::DeletePatient),
        14 => (writer(), 0..CATEGORY_COUNT)
            .prop_map(|(writer, category)| Op::Add { writer, category }),
        10 => (writer(), any::<usize>()).prop_map(|(writer, record)| Op::Update { writer, record }),
    ]
}

fn index_of(category: Category) -> usize {
    CATEGORIES
        .iter()
        .position(|known| *known == category)
        .expect("a test category")
}

fn categories_of(mask: u8) -> Vec<Category> {
    CATEGORIES
        .iter()
        .enumerate()
        .filter(|(index, _)| mask & (1 << index) != 0)
        .map(|(_, category)| *category)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The model: who may read and write what, from the operations applied alone

#[derive(Clone, Copy, Debug)]
struct ModelGrant {
    scope: Scope,
    categories: u8,
    expires: Option<u64>,
}

#[derive(Debug)]
struct Model {
    now: u64,
    active: bool,
    credentialed: [bool; DOCTORS],
    grants: [Option<ModelGrant>; DOCTORS],
    emergency_started: [Option<u64>; DOCTORS],
    emergency_until: [Option<u64>; DOCTORS],
    /// Whether the patient escrows `ESCROWED`.
    escrows: bool,
    /// Every (category, epoch) that has a key: the accepted writes' and grants' new keys.
    epochs: BTreeSet<(usize, u32)>,
    /// When each trustee last released each (category, epoch) to each doctor, by
    /// (doctor, category, epoch, trustee).
    released: BTreeMap<(usize, usize, u32, usize), u64>,
    /// Per (doctor, category): an active window in which k trustees released the category's
    /// current epoch. The doctor holds that key and, as one of its holders, is handed every
    /// later one until the window ends.
    opened_by_window: [[bool; CATEGORY_COUNT]; DOCTORS],
    /// Entitlement per (doctor, category) after the last operation.
    entitled_after_last_op: [[bool; CATEGORY_COUNT]; DOCTORS],
    /// How often each doctor regained the right to read each category: a file written while it
    /// had no right must stay closed to it until the next regain.
    regained: [[u32; CATEGORY_COUNT]; DOCTORS],
}

impl Model {
    fn new(now: u64) -> Self {
        Model {
            now,
            active: true,
            credentialed: [true; DOCTORS],
            grants: [None; DOCTORS],
            emergency_started: [None; DOCTORS],
            emergency_until: [None; DOCTORS],
            escrows: false,
            epochs: BTreeSet::new(),
            released: BTreeMap::new(),
            opened_by_window: [[false; CATEGORY_COUNT]; DOCTORS],
            entitled_after_last_op: [[false; CATEGORY_COUNT]; DOCTORS],
            regained: [[0; CATEGORY_COUNT]; DOCTORS],
        }
    }

    fn by_grant(&self, doctor: usize, category: usize, scope: Scope) -> bool {
        self.credentialed[doctor]
            && self.grants[doctor].is_some_and(|grant| {
                grant.scope >= scope
                    && grant.categories & (1 << category) != 0
                    && grant.expires.is_none_or(|expires| self.now < expires)
            })
    }

    /// A window opens only the categories the patient opens in an emergency (its escrow
    /// policy: `ESCROWED` once it escrows), and nothing before then.
    fn by_emergency(&self, doctor: usize, category: usize) -> bool {
        self.credentialed[doctor]
            && self.window_open(doctor)
            && self.escrows
            && ESCROWED & (1 << category) != 0
    }

    /// A doctor declares again only once its previous window reached its declared end.
    fn may_declare(&self, doctor: usize) -> bool {
        self.active
            && self.credentialed[doctor]
            && self.emergency_until[doctor].is_none_or(|end| self.now >= end)
    }

    /// Whether the contract accepts a release to the doctor: by the window's time alone.
    fn window_open(&self, doctor: usize) -> bool {
        self.emergency_until[doctor].is_some_and(|end| self.now < end)
    }

    fn entitled(&self, doctor: usize, category: usize) -> bool {
        self.by_grant(doctor, category, Scope::Read) || self.by_emergency(doctor, category)
    }

    fn may_write(&self, writer: Writer, category: usize) -> bool {
        self.active
            && match writer {
                Writer::Patient => true,
                Writer::Doctor(doctor) => self.by_grant(doctor, category, Scope::Write),
            }
    }

    /// The epochs the trustees hold shares of: every epoch with a key of an escrowed category
    /// (escrowing covers the existing ones, and every later key is escrowed when made).
    fn escrowed_epochs(&self) -> BTreeSet<(usize, u32)> {
        self.epochs
            .iter()
            .filter(|(category, _)| self.escrows && ESCROWED & (1 << category) != 0)
            .copied()
            .collect()
    }

    /// What `trustee` releases to `doctor`: inside the window, what it has not released in it;
    /// outside, everything (to be refused).
    fn to_release(&self, doctor: usize, trustee: usize) -> BTreeSet<(usize, u32)> {
        let started = self.emergency_started[doctor].filter(|_| self.window_open(doctor));
        self.escrowed_epochs()
            .into_iter()
            .filter(|&(category, epoch)| {
                !started.is_some_and(|started| {
                    self.released
                        .get(&(doctor, category, epoch, trustee))
                        .is_some_and(|&at| at >= started)
                })
            })
            .collect()
    }

    fn release(&mut self, doctor: usize, trustee: usize, epochs: &BTreeSet<(usize, u32)>) {
        for &(category, epoch) in epochs {
            self.released
                .insert((doctor, category, epoch, trustee), self.now);
        }
        for category in 0..CATEGORY_COUNT {
            let current = self.current_epoch(category);
            if current.is_some_and(|epoch| self.released_by(doctor, category, epoch) >= THRESHOLD) {
                self.opened_by_window[doctor][category] = true;
            }
        }
    }

    /// How many trustees released (category, epoch) to the doctor, in any window.
    fn released_by(&self, doctor: usize, category: usize, epoch: u32) -> u8 {
        let trustees = (0..TRUSTEES)
            .filter(|&trustee| {
                self.released
                    .contains_key(&(doctor, category, epoch, trustee))
            })
            .count();
        u8::try_from(trustees).expect("few trustees")
    }

    fn current_epoch(&self, category: usize) -> Option<u32> {
        self.epochs
            .range((category, 0)..=(category, u32::MAX))
            .next_back()
            .map(|&(_, epoch)| epoch)
    }

    fn expiry(&self, expires_in: Option<u64>) -> Option<u64> {
        expires_in.map(|seconds| self.now + seconds)
    }

    /// Records who regained a right with the operation just applied.
    fn settle(&mut self) {
        for doctor in 0..DOCTORS {
            for category in 0..CATEGORY_COUNT {
                let entitled = self.entitled(doctor, category);
                if entitled && !self.entitled_after_last_op[doctor][category] {
                    self.regained[doctor][category] += 1;
                }
                self.entitled_after_last_op[doctor][category] = entitled;
                // A window that ended (or a withdrawn credential) hands no more keys.
                self.opened_by_window[doctor][category] &= self.by_emergency(doctor, category);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Parties and their clients

struct Party {
    name: String,
    addr: Addr,
    secret: X25519SecretKey,
    /// Derived once: a scalar multiplication costs milliseconds in a debug build.
    public: X25519PublicKey,
    /// Every category key this party ever opened, created or combined, by (category code, epoch).
    keys: BTreeMap<(u8, u32), CategoryKey>,
    /// The envelopes it already opened.
    opened: BTreeSet<(u8, u32)>,
}

impl Party {
    fn new(suite: &Suite, name: &str) -> Self {
        let secret = X25519SecretKey::generate().expect("X25519 key");
        Party {
            name: name.to_string(),
            addr: suite.addr(name),
            public: secret.public_key(),
            secret,
            keys: BTreeMap::new(),
            opened: BTreeSet::new(),
        }
    }

    fn public_key(&self) -> Binary {
        Binary::from(self.public.as_bytes().to_vec())
    }

    fn remember(&mut self, category: Category, epoch: u32, key: CategoryKey) {
        match self.keys.get(&(category.code(), epoch)) {
            Some(known) => assert!(
                *known == key,
                "{} got two different {category:?} keys for epoch {epoch}",
                self.name
            ),
            None => {
                self.keys.insert((category.code(), epoch), key);
            }
        }
    }

    fn keyring(&self, patient_id: PatientId) -> CategoryKeyring {
        let mut keyring = CategoryKeyring::new();
        for ((code, epoch), key) in &self.keys {
            let context = EnvelopeContext {
                patient_id,
                category: Category::from_code(*code).expect("known category"),
                epoch: *epoch,
            };
            keyring.insert(context, key.clone());
        }
        keyring
    }

    fn holds(&self, key: &CategoryKey) -> bool {
        self.keys.values().any(|held| held == key)
    }
}

fn access_query<R: serde::de::DeserializeOwned>(suite: &Suite, msg: &access::QueryMsg) -> R {
    suite
        .query(Target::Access, msg)
        .unwrap_or_else(|err| panic!("{msg:?}: {err}"))
}

fn registry_query<R: serde::de::DeserializeOwned>(suite: &Suite, msg: &registry::QueryMsg) -> R {
    suite
        .query(Target::Registry, msg)
        .unwrap_or_else(|err| panic!("{msg:?}: {err}"))
}

fn provider_of(suite: &Suite, doctor: &Addr) -> ProviderInfo {
    let response: registry::ProviderResponse = registry_query(
        suite,
        &registry::QueryMsg::Provider {
            address: doctor.to_string(),
        },
    );
    response.provider.expect("a provider")
}

fn key_holders(suite: &Suite, patient_id: PatientId, category: Category) -> KeyHoldersResponse {
    access_query(
        suite,
        &access::QueryMsg::KeyHolders {
            patient_id,
            category,
        },
    )
}

fn provider_key(suite: &Suite, doctor: &Addr) -> Option<X25519PublicKey> {
    let provider = provider_of(suite, doctor);
    provider.encryption_key.map(|key| public_key_of(&key))
}

fn public_key_of(key: &Binary) -> X25519PublicKey {
    X25519PublicKey::from_bytes(key.as_slice().try_into().expect("32-byte X25519 key"))
}

fn envelope_binary(envelope: &Envelope) -> Binary {
    Binary::from(envelope.as_bytes().to_vec())
}

/// Every envelope on chain wrapped to `party`: its own envelopes for the patient, the paged
/// `KeyEnvelopes` for a doctor.
fn fetch_envelopes(
    suite: &Suite,
    patient_id: PatientId,
    party: &Party,
    is_patient: bool,
) -> Vec<KeyEnvelope> {
    if is_patient {
        return suite.own_envelopes(patient_id, None);
    }
    all_pages(|last: Option<&KeyEnvelope>| {
        let page: KeyEnvelopesResponse = access_query(
            suite,
            &access::QueryMsg::KeyEnvelopes {
                patient_id,
                holder: party.addr.to_string(),
                category: None,
                start_after: last.map(|last| CategoryEpoch {
                    category: last.category,
                    epoch: last.epoch,
                }),
                limit: Some(PAGE),
            },
        );
        page.key_envelopes
    })
}

/// Every item of a listing: `page` fetches the page after the last item it is given.
fn all_pages<T>(mut page: impl FnMut(Option<&T>) -> Vec<T>) -> Vec<T> {
    let mut all: Vec<T> = Vec::new();
    loop {
        let next = page(all.last());
        let done = next.len() < PAGE as usize;
        all.extend(next);
        if done {
            return all;
        }
    }
}

/// Fetches and opens every envelope wrapped to `party` that it has not opened yet.
fn refresh(suite: &Suite, patient_id: PatientId, party: &mut Party, is_patient: bool) {
    for stored in fetch_envelopes(suite, patient_id, party, is_patient) {
        let slot = (stored.category.code(), stored.epoch);
        if party.opened.contains(&slot) {
            continue;
        }
        let context = EnvelopeContext {
            patient_id,
            category: stored.category,
            epoch: stored.epoch,
        };
        let envelope = Envelope::from_bytes(stored.envelope.as_slice())
            .unwrap_or_else(|err| panic!("{}: envelope {slot:?}: {err}", party.name));
        let key = open_category_key(&party.secret, &context, &envelope).unwrap_or_else(|err| {
            panic!(
                "{} cannot open the {:?} epoch {} envelope wrapped to it: {err}",
                party.name, stored.category, stored.epoch
            )
        });
        party.opened.insert(slot);
        party.remember(stored.category, stored.epoch, key);
    }
}

/// `SetEscrowPolicy` for emergency access. Built from JSON, so that a field the message gains
/// with a serde default keeps its default here.
fn escrow_policy_msg(patient_id: PatientId, categories: Vec<Category>) -> access::ExecuteMsg {
    #[derive(Serialize)]
    #[serde(rename_all = "snake_case")]
    enum Msg {
        SetEscrowPolicy {
            patient_id: PatientId,
            categories: Vec<Category>,
        },
    }
    let json = to_json_vec(&Msg::SetEscrowPolicy {
        patient_id,
        categories,
    })
    .expect("serialize");
    from_json(json).expect("a SetEscrowPolicy message")
}

/// `key` split into one share per trustee, each sealed to the key the trustee published (the
/// real client's `escrow_shares`).
fn escrow_shares(suite: &Suite, context: EnvelopeContext, key: &CategoryKey) -> Vec<TrusteeShare> {
    let trustees: TrusteesResponse = access_query(suite, &access::QueryMsg::Trustees {});
    let shares = split_key(key, trustees.threshold, trustees.trustees.len()).expect("split");
    let context = ShareContext {
        patient_id: context.patient_id,
        category: context.category,
        epoch: context.epoch,
        set_version: trustees.set_version,
    };
    trustees
        .trustees
        .iter()
        .zip(&shares)
        .map(|(trustee, share)| {
            let public = public_key_of(trustee.encryption_key.as_ref().expect("trustee key"));
            TrusteeShare {
                trustee: trustee.address.to_string(),
                share: Binary::from(seal_share(&public, &context, share).expect("seal share")),
                commitment: Binary::from(
                    ehr_crypto::escrow::share_commitment(&context, trustee.address.as_str(), share)
                        .to_vec(),
                ),
            }
        })
        .collect()
}

/// The dealer's commitment to a key, as the real client publishes it with an escrow.
fn key_commitment_of(context: EnvelopeContext, key: &CategoryKey) -> Binary {
    Binary::from(ehr_crypto::escrow::key_commitment(&context, key).to_vec())
}

/// The shares a new key must go on chain with: none unless the patient escrows its category.
fn new_key_escrow(suite: &Suite, context: EnvelopeContext, key: &CategoryKey) -> Vec<TrusteeShare> {
    let policy: EscrowPolicyResponse = access_query(
        suite,
        &access::QueryMsg::EscrowPolicy {
            patient_id: context.patient_id,
        },
    );
    if policy.categories.contains(&context.category) {
        escrow_shares(suite, context, key)
    } else {
        Vec::new()
    }
}

/// The patient's client escrowing `ESCROWED` (the real client's `set_escrow`): the policy and,
/// in the same execution, the shares of every epoch it has a key of.
fn patient_escrows(
    suite: &mut Suite,
    patient_id: PatientId,
    patient: &mut Party,
) -> Result<usize, String> {
    refresh(suite, patient_id, patient, true);
    let categories = categories_of(ESCROWED);
    let mut escrows = Vec::new();
    for &category in &categories {
        for epoch in 0..=key_holders(suite, patient_id, category).epoch {
            // An epoch nobody wrote with has no key yet: its first write escrows it.
            let Some(key) = patient.keys.get(&(category.code(), epoch)) else {
                continue;
            };
            let context = EnvelopeContext {
                patient_id,
                category,
                epoch,
            };
            escrows.push(EpochEscrow {
                category,
                epoch,
                shares: escrow_shares(suite, context, key),
                key_commitment: key_commitment_of(context, key),
            });
        }
    }
    let mut msgs = vec![wasm(
        &suite.access,
        &escrow_policy_msg(patient_id, categories),
    )];
    msgs.extend(escrows.chunks(MAX_ESCROWS_PER_MESSAGE).map(|chunk| {
        wasm(
            &suite.access,
            &access::ExecuteMsg::EscrowShares {
                patient_id,
                escrows: chunk.to_vec(),
            },
        )
    }));
    suite
        .app
        .execute_multi(patient.addr.clone(), msgs)
        .map_err(|err| error_text(&err))?;
    Ok(escrows.len())
}

fn released_to(suite: &Suite, patient_id: PatientId, doctor: &Addr) -> Vec<ReleasedShareInfo> {
    all_pages(|last: Option<&ReleasedShareInfo>| {
        let page: ReleasedSharesResponse = access_query(
            suite,
            &access::QueryMsg::ReleasedShares {
                patient_id,
                doctor: doctor.to_string(),
                start_after: last.map(|last| ReleaseCursor {
                    category: last.category,
                    epoch: last.epoch,
                    trustee: last.trustee.to_string(),
                }),
                limit: Some(PAGE),
            },
        );
        page.shares
    })
}

/// What a trustee sent a doctor: the (category code, epoch) of each share, and the outcome.
struct Served {
    sent: BTreeSet<(u8, u32)>,
    outcome: Result<(), String>,
}

/// A trustee's agent serving `doctor`: every escrowed share it holds and has not released in
/// the doctor's active window, opened with its secret and re-sealed to the doctor's registered
/// key. Like `ehr trustee serve`, only to a credentialed doctor; unlike it, without asking
/// whether the window is open, which the contract must check. `None` when it has nothing to
/// send.
fn trustee_release(
    suite: &mut Suite,
    patient_id: PatientId,
    trustee: &Party,
    doctor: &Addr,
) -> Option<Served> {
    let provider = provider_of(suite, doctor);
    let doctor_key = public_key_of(&provider.encryption_key.filter(|_| provider.credentialed)?);
    let window: EmergencyResponse = access_query(
        suite,
        &access::QueryMsg::EmergencyAccess {
            patient_id,
            grantee: doctor.to_string(),
        },
    );
    let since = window.started.filter(|_| window.active);
    let already: BTreeSet<(u8, u32)> = released_to(suite, patient_id, doctor)
        .into_iter()
        .filter(|share| {
            share.trustee == trustee.addr && since.is_some_and(|since| share.released_at >= since)
        })
        .map(|share| (share.category.code(), share.epoch))
        .collect();
    let policy: EscrowPolicyResponse =
        access_query(suite, &access::QueryMsg::EscrowPolicy { patient_id });
    let held = all_pages(|last: Option<&EscrowedShare>| {
        let page: EscrowedSharesResponse = access_query(
            suite,
            &access::QueryMsg::EscrowedShares {
                patient_id,
                trustee: trustee.addr.to_string(),
                start_after: last.map(|last| EscrowCursor {
                    category: last.category,
                    epoch: last.epoch,
                }),
                limit: Some(PAGE),
            },
        );
        page.shares
    });
    let shares: Vec<ReleasedShare> = held
        .iter()
        .filter(|held| {
            policy.categories.contains(&held.category)
                && !already.contains(&(held.category.code(), held.epoch))
        })
        .map(|held| {
            let context = ShareContext {
                patient_id,
                category: held.category,
                epoch: held.epoch,
                set_version: held.set_version,
            };
            let share = open_share(&trustee.secret, &context, held.share.as_slice())
                .unwrap_or_else(|err| panic!("{} cannot open its share: {err}", trustee.name));
            ReleasedShare {
                category: held.category,
                epoch: held.epoch,
                share: Binary::from(seal_share(&doctor_key, &context, &share).expect("seal")),
            }
        })
        .collect();
    if shares.is_empty() {
        return None;
    }
    let sent = shares
        .iter()
        .map(|share| (share.category.code(), share.epoch))
        .collect();
    let msgs = shares
        .chunks(MAX_RELEASES_PER_MESSAGE)
        .map(|chunk| {
            wasm(
                &suite.access,
                &access::ExecuteMsg::ReleaseShares {
                    patient_id,
                    doctor: doctor.to_string(),
                    shares: chunk.to_vec(),
                },
            )
        })
        .collect();
    let outcome = suite
        .app
        .execute_multi(trustee.addr.clone(), msgs)
        .map(|_| ())
        .map_err(|err| error_text(&err));
    Some(Served { sent, outcome })
}

/// The doctor's client: opens every share released to it and combines each (category, epoch)
/// (fewer than k shares combine to nothing); it keeps the keys like those it opened from
/// envelopes. Returns every key it combined, by (category code, epoch).
fn combine_released(
    suite: &Suite,
    patient_id: PatientId,
    doctor: &mut Party,
) -> BTreeMap<(u8, u32), CategoryKey> {
    let mut groups: BTreeMap<(u8, u32), (u8, Vec<KeyShare>)> = BTreeMap::new();
    for released in released_to(suite, patient_id, &doctor.addr) {
        let context = ShareContext {
            patient_id,
            category: released.category,
            epoch: released.epoch,
            set_version: released.set_version,
        };
        let share =
            open_share(&doctor.secret, &context, released.share.as_slice()).unwrap_or_else(|err| {
                panic!(
                    "{} cannot open the share {} released to it: {err}",
                    doctor.name, released.trustee
                )
            });
        groups
            .entry((released.category.code(), released.epoch))
            .or_insert_with(|| (released.threshold, Vec::new()))
            .1
            .push(share);
    }
    let mut combined = BTreeMap::new();
    for ((code, epoch), (threshold, shares)) in groups {
        if let Ok(key) = combine_shares(&shares, threshold) {
            let category = Category::from_code(code).expect("known category");
            doctor.remember(category, epoch, key.clone());
            combined.insert((code, epoch), key);
        }
    }
    combined
}

fn wasm<M: Serialize>(contract: &Addr, msg: &M) -> CosmosMsg {
    CosmosMsg::Wasm(WasmMsg::Execute {
        contract_addr: contract.to_string(),
        msg: to_json_binary(msg).expect("serialize"),
        funds: vec![],
    })
}

enum WriteKind {
    Add(Category),
    Update(RecordId),
}

/// Where a writer's key came from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum KeySource {
    Held,
    /// The patient's first key of the current epoch, stored with the write.
    Own,
    Rotated,
}

/// A write the chain accepted.
struct Written {
    record_id: RecordId,
    header: RecordHeader,
    key: CategoryKey,
    file: Vec<u8>,
    plaintext: Vec<u8>,
    source: KeySource,
}

/// The patient's client's `own_key`: a new key for the current epoch of a category that has
/// none, and the messages that put it on chain wrapped to the patient, and escrowed when the
/// patient escrows the category, before anything is sealed with it or handed out: no key lives
/// only in one client.
fn own_key(
    suite: &Suite,
    patient_id: PatientId,
    patient: &Party,
    category: Category,
    epoch: u32,
) -> (CategoryKey, Vec<CosmosMsg>) {
    let key = CategoryKey::generate().expect("category key");
    let context = EnvelopeContext {
        patient_id,
        category,
        epoch,
    };
    let envelope = seal_category_key(&patient.public, &context, &key).expect("seal");
    let mut msgs = vec![wasm(
        &suite.access,
        &access::ExecuteMsg::StoreOwnEnvelopes {
            patient_id,
            key_envelopes: vec![KeyEnvelope {
                category,
                epoch,
                envelope: envelope_binary(&envelope),
            }],
        },
    )];
    let shares = new_key_escrow(suite, context, &key);
    if !shares.is_empty() {
        msgs.push(wasm(
            &suite.access,
            &access::ExecuteMsg::EscrowShares {
                patient_id,
                escrows: vec![EpochEscrow {
                    category,
                    epoch,
                    shares,
                    key_commitment: key_commitment_of(context, &key),
                }],
            },
        ));
    }
    (key, msgs)
}

/// What the real writer's client does: rotate first when the chain's `WritePlan` says so (the
/// epoch is stale, the writer lacks its key, or, for the patient, a reader lacks it; the patient
/// makes the first key of an epoch nobody rotated to), escrow a new key when the patient escrows its category, then seal the
/// file under the epoch it writes with, all in one transaction.
fn client_write(
    suite: &mut Suite,
    patient_id: PatientId,
    writer: &mut Party,
    writer_is_patient: bool,
    kind: &WriteKind,
    plaintext: Vec<u8>,
) -> Result<Written, String> {
    let (category, record_version, base_version) = match kind {
        WriteKind::Add(category) => (*category, 1, None),
        WriteKind::Update(record_id) => {
            let record = suite.record(*record_id).expect("the record");
            (
                record.category,
                record.latest.version + 1,
                Some(record.latest.version),
            )
        }
    };
    refresh(suite, patient_id, writer, writer_is_patient);
    let plan: WritePlanResponse = access_query(
        suite,
        &access::QueryMsg::WritePlan {
            patient_id,
            category,
            writer: writer.addr.to_string(),
        },
    );
    let held = writer
        .keys
        .get(&(category.code(), plan.current_epoch))
        .cloned();
    let mut msgs = Vec::new();
    let (epoch, key, source) = match held {
        Some(key) if !plan.rotate => (plan.current_epoch, key, KeySource::Held),
        None if writer_is_patient && !plan.rotate => {
            let (key, own) = own_key(suite, patient_id, writer, category, plan.current_epoch);
            msgs.extend(own);
            (plan.current_epoch, key, KeySource::Own)
        }
        _ => {
            let epoch = plan.current_epoch + 1;
            let key = CategoryKey::generate().expect("category key");
            let context = EnvelopeContext {
                patient_id,
                category,
                epoch,
            };
            let patient_key = plan
                .patient_key
                .as_ref()
                .map(public_key_of)
                .ok_or_else(|| format!("patient {patient_id} has no encryption key"))?;
            let own_envelope =
                envelope_binary(&seal_category_key(&patient_key, &context, &key).expect("seal"));
            let envelopes = plan
                .recipients
                .iter()
                .filter_map(|recipient| {
                    let public = public_key_of(recipient.encryption_key.as_ref()?);
                    let envelope = seal_category_key(&public, &context, &key).expect("seal");
                    Some(RecipientEnvelope {
                        recipient: recipient.address.to_string(),
                        envelope: envelope_binary(&envelope),
                    })
                })
                .collect();
            let escrow = new_key_escrow(suite, context, &key);
            let escrow_key_commitment =
                (!escrow.is_empty()).then(|| key_commitment_of(context, &key));
            msgs.push(wasm(
                &suite.access,
                &access::ExecuteMsg::RotateKey {
                    patient_id,
                    category,
                    epoch,
                    own_envelope,
                    envelopes,
                    escrow,
                    escrow_key_commitment,
                },
            ));
            (epoch, key, KeySource::Rotated)
        }
    };
    let header = RecordHeader {
        patient_id,
        category,
        epoch,
        record_version,
    };
    let file = encrypt_file(&header, &key, &plaintext).expect("encrypt");
    let blob = blob_of(&file);
    let write = match kind {
        WriteKind::Add(_) => registry::ExecuteMsg::AddRecord {
            patient_id,
            category,
            epoch,
            blob,
        },
        WriteKind::Update(record_id) => registry::ExecuteMsg::UpdateRecord {
            record_id: *record_id,
            base_version: base_version.expect("an update's base"),
            epoch,
            blob,
        },
    };
    msgs.push(wasm(&suite.registry, &write));
    let responses = suite
        .app
        .execute_multi(writer.addr.clone(), msgs)
        .map_err(|err| error_text(&err))?;
    if source != KeySource::Held {
        writer.remember(category, epoch, key.clone());
    }
    let record_id = match kind {
        WriteKind::Add(_) => attribute_id(responses.last().expect("write response"), "record_id"),
        WriteKind::Update(record_id) => *record_id,
    };
    Ok(Written {
        record_id,
        header,
        key,
        file,
        plaintext,
        source,
    })
}

// ---------------------------------------------------------------------------------------------
// The world: chain, clients, model

struct ModelRecord {
    id: RecordId,
    category: usize,
    version: u32,
}

/// What the patient's client sends with a grant.
#[derive(Default)]
struct Handout {
    key_envelopes: Vec<KeyEnvelope>,
    /// What puts the keys it had to make on chain, before the grant.
    msgs: Vec<CosmosMsg>,
    new_keys: Vec<(Category, u32, CategoryKey)>,
}

/// A file written so far, with the doctors it must stay closed to.
struct WrittenFile {
    category: usize,
    epoch: u32,
    key: CategoryKey,
    /// `Some(regains)` for each doctor that was not entitled when the file was written: until
    /// its regain count moves past `regains`, it must hold no key that opens the file.
    closed_to: [Option<u32>; DOCTORS],
}

struct World {
    suite: Suite,
    patient_id: PatientId,
    patient: Party,
    doctors: Vec<Party>,
    /// They hold no category keys: only their own secret, to open their shares.
    trustees: Vec<Party>,
    model: Model,
    records: Vec<ModelRecord>,
    files: Vec<WrittenFile>,
    writes: u64,
    /// Figures of the run, for the coverage report.
    stats: Stats,
    step: usize,
}

#[derive(Default, Debug, Clone, Copy)]
struct Stats {
    writes: u64,
    rotations: u64,
    own_keys: u64,
    refused_writes: u64,
    escrowed_epochs: u64,
    releases: u64,
    refused_releases: u64,
    combined_keys: u64,
    closed_checks: u64,
    open_checks: u64,
    window_open_checks: u64,
    unserved_checks: u64,
}

impl World {
    fn new() -> Self {
        let mut suite = Suite::new();
        let patient = Party::new(&suite, "patient");
        let doctors: Vec<Party> = (0..DOCTORS)
            .map(|i| Party::new(&suite, &format!("doctor{i}")))
            .collect();
        let trustees: Vec<Party> = (0..TRUSTEES)
            .map(|i| Party::new(&suite, &format!("trustee{i}")))
            .collect();
        let admin = suite.admin.clone();
        suite
            .execute(
                &admin,
                Target::Access,
                &access::ExecuteMsg::SetTrustees {
                    trustees: trustees.iter().map(|t| t.addr.to_string()).collect(),
                    threshold: THRESHOLD,
                },
            )
            .expect("set trustees");
        for trustee in &trustees {
            suite
                .execute(
                    &trustee.addr,
                    Target::Access,
                    &access::ExecuteMsg::SetTrusteeKey {
                        encryption_key: trustee.public_key(),
                    },
                )
                .expect("publish trustee key");
        }
        for doctor in &doctors {
            suite
                .execute(
                    &admin,
                    Target::Registry,
                    &ehr_testing::credential_msg(&doctor.addr),
                )
                .expect("credential");
            suite
                .execute(
                    &doctor.addr,
                    Target::Registry,
                    &registry::ExecuteMsg::SetProviderKey {
                        encryption_key: doctor.public_key(),
                    },
                )
                .expect("publish key");
        }
        let response = suite
            .execute(
                &patient.addr,
                Target::Registry,
                &registry::ExecuteMsg::RegisterPatient {
                    encryption_key: patient.public_key(),
                    profile: None,
                },
            )
            .expect("register patient");
        let patient_id = attribute_id(&response, "patient_id");
        let model = Model::new(suite.now().seconds());
        World {
            suite,
            patient_id,
            patient,
            doctors,
            trustees,
            model,
            records: Vec::new(),
            files: Vec::new(),
            writes: 0,
            stats: Stats::default(),
            step: 0,
        }
    }

    fn execute<M: Serialize + std::fmt::Debug>(
        &mut self,
        sender: &Addr,
        target: Target,
        msg: &M,
    ) -> Result<cw_multi_test::AppResponse, String> {
        self.suite
            .execute(sender, target, msg)
            .map_err(|err| error_text(&err))
    }

    fn expect_outcome<T>(&self, what: &str, expected: bool, outcome: &Result<T, String>) {
        match outcome {
            Ok(_) => assert!(
                expected,
                "step {}: {what} succeeded, but the model refuses it\nmodel: {:?}",
                self.step, self.model
            ),
            Err(err) => assert!(
                !expected,
                "step {}: {what} failed: {err}\nmodel: {:?}",
                self.step, self.model
            ),
        }
    }

    /// The current keys of `categories` wrapped to the doctor, as the patient's client hands them
    /// with a grant (`envelopes_for`): a category without a key yet gets its first one.
    fn handout(&mut self, doctor: usize, categories: &[Category]) -> Handout {
        refresh(&self.suite, self.patient_id, &mut self.patient, true);
        let public = provider_key(&self.suite, &self.doctors[doctor].addr).expect("doctor key");
        let mut handout = Handout::default();
        for &category in categories {
            let epoch = key_holders(&self.suite, self.patient_id, category).epoch;
            let key = match self.patient.keys.get(&(category.code(), epoch)) {
                Some(key) => key.clone(),
                None => {
                    let (key, msgs) =
                        own_key(&self.suite, self.patient_id, &self.patient, category, epoch);
                    handout.msgs.extend(msgs);
                    handout.new_keys.push((category, epoch, key.clone()));
                    key
                }
            };
            let context = EnvelopeContext {
                patient_id: self.patient_id,
                category,
                epoch,
            };
            let envelope = seal_category_key(&public, &context, &key).expect("seal");
            handout.key_envelopes.push(KeyEnvelope {
                category,
                epoch,
                envelope: envelope_binary(&envelope),
            });
        }
        handout
    }

    /// The patient's `msg` (a grant or an approval) with the keys it hands made first, in one
    /// execution.
    fn execute_handout(
        &mut self,
        handout: Handout,
        msg: &access::ExecuteMsg,
    ) -> Result<cw_multi_test::AppResponse, String> {
        let mut msgs = handout.msgs;
        msgs.push(wasm(&self.suite.access, msg));
        let outcome = self
            .suite
            .app
            .execute_multi(self.patient.addr.clone(), msgs)
            .map_err(|err| error_text(&err));
        if outcome.is_ok() {
            for (category, epoch, key) in handout.new_keys {
                self.patient.remember(category, epoch, key);
                self.model.epochs.insert((index_of(category), epoch));
                self.stats.own_keys += 1;
            }
        }
        outcome.map(|mut responses| responses.pop().expect("the grant's response"))
    }

    fn grant(&mut self, doctor: usize, scope: Scope, mask: u8, expires: Option<u64>, what: &str) {
        let categories = categories_of(mask);
        let handout = self.handout(doctor, &categories);
        let msg = access::ExecuteMsg::Grant {
            patient_id: self.patient_id,
            grantee: self.doctors[doctor].addr.to_string(),
            scope,
            categories,
            expires: expires.map(Timestamp::from_seconds),
            key_envelopes: handout.key_envelopes.clone(),
        };
        let outcome = self.execute_handout(handout, &msg);
        let expected = self.model.active
            && self.model.credentialed[doctor]
            && expires.is_none_or(|expires| self.model.now < expires);
        self.expect_outcome(what, expected, &outcome);
        if outcome.is_ok() {
            self.model.grants[doctor] = Some(ModelGrant {
                scope,
                categories: mask,
                expires,
            });
        }
    }

    /// Each of `trustees` serves the doctor; then the doctor's client combines what it got.
    fn release(&mut self, op: &Op, doctor: usize, trustees: &[usize]) {
        for &trustee in trustees {
            let what = format!("{op:?} (trustee{trustee})");
            // A deleted patient's keys open for nobody, window or not.
            let expected = self.model.window_open(doctor) && self.model.active;
            let predicted: BTreeSet<(u8, u32)> = if self.model.credentialed[doctor] {
                self.model
                    .to_release(doctor, trustee)
                    .into_iter()
                    .map(|(category, epoch)| (CATEGORIES[category].code(), epoch))
                    .collect()
            } else {
                BTreeSet::new()
            };
            let before = (!expected).then(|| self.suite.dump_state());
            let attempt = trustee_release(
                &mut self.suite,
                self.patient_id,
                &self.trustees[trustee],
                &self.doctors[doctor].addr,
            );
            let sent = attempt.as_ref().map(|served| served.sent.clone());
            assert_eq!(
                sent.unwrap_or_default(),
                predicted,
                "step {}: {what} sent other shares than the escrowed epochs it holds\nmodel: {:?}",
                self.step,
                self.model
            );
            let Some(Served { outcome, .. }) = attempt else {
                continue;
            };
            self.expect_outcome(&what, expected, &outcome);
            if outcome.is_ok() {
                self.stats.releases += 1;
                let epochs = self.model.to_release(doctor, trustee);
                self.model.release(doctor, trustee, &epochs);
            } else {
                self.stats.refused_releases += 1;
                assert!(
                    before == Some(self.suite.dump_state()),
                    "step {}: refused {what} changed the chain",
                    self.step
                );
            }
        }
        let combined = combine_released(&self.suite, self.patient_id, &mut self.doctors[doctor]);
        self.check_combined(doctor, &combined);
    }

    /// The doctor combined exactly the escrowed epochs k trustees released to it, each into the
    /// key its files are sealed with.
    fn check_combined(&mut self, doctor: usize, combined: &BTreeMap<(u8, u32), CategoryKey>) {
        let expected: BTreeSet<(u8, u32)> = self
            .model
            .escrowed_epochs()
            .into_iter()
            .filter(|&(category, epoch)| {
                self.model.released_by(doctor, category, epoch) >= THRESHOLD
            })
            .map(|(category, epoch)| (CATEGORIES[category].code(), epoch))
            .collect();
        let got: BTreeSet<(u8, u32)> = combined.keys().copied().collect();
        assert_eq!(
            got, expected,
            "step {}: doctor{doctor} combined the keys of other epochs than k trustees released \
             to it (category code, epoch)\nmodel: {:?}",
            self.step, self.model
        );
        for file in &self.files {
            let slot = (CATEGORIES[file.category].code(), file.epoch);
            if let Some(key) = combined.get(&slot) {
                assert!(
                    *key == file.key,
                    "step {}: doctor{doctor} combined a {:?} epoch {} key its files are not \
                     sealed with",
                    self.step,
                    CATEGORIES[file.category],
                    file.epoch
                );
            }
        }
        self.stats.combined_keys += combined.len() as u64;
    }

    fn apply(&mut self, op: &Op) {
        match *op {
            Op::Grant {
                doctor,
                scope,
                categories,
                expires_in,
            } => {
                let expires = self.model.expiry(expires_in);
                self.grant(doctor, scope, categories, expires, &format!("{op:?}"));
            }
            Op::Narrow { doctor, keep } => {
                let Some(old) = self.model.grants[doctor] else {
                    return self.model.settle();
                };
                if old.categories.count_ones() < 2 {
                    return self.model.settle();
                }
                let mut narrower = old.categories & keep;
                if narrower == 0 || narrower == old.categories {
                    narrower = old.categories & (old.categories - 1);
                }
                let what = format!("{op:?}: {:#05b} -> {narrower:#05b}", old.categories);
                self.grant(doctor, old.scope, narrower, old.expires, &what);
            }
            Op::RequestApprove {
                doctor,
                scope,
                categories: mask,
                expires_in,
            } => {
                let categories = categories_of(mask);
                let addr = self.doctors[doctor].addr.clone();
                let request = access::ExecuteMsg::RequestAccess {
                    patient_id: self.patient_id,
                    scope,
                    categories: categories.clone(),
                };
                let outcome = self.execute(&addr, Target::Access, &request);
                let expected = self.model.active && self.model.credentialed[doctor];
                self.expect_outcome(&format!("{op:?} (request)"), expected, &outcome);
                if let Ok(response) = outcome {
                    let request_id = attribute_id(&response, "request_id");
                    let expires = self.model.expiry(expires_in);
                    let handout = self.handout(doctor, &categories);
                    let approve = access::ExecuteMsg::ApproveRequest {
                        request_id,
                        expires: expires.map(Timestamp::from_seconds),
                        key_envelopes: handout.key_envelopes.clone(),
                    };
                    let outcome = self.execute_handout(handout, &approve);
                    self.expect_outcome(&format!("{op:?} (approve)"), true, &outcome);
                    self.model.grants[doctor] = Some(ModelGrant {
                        scope,
                        categories: mask,
                        expires,
                    });
                }
            }
            Op::Revoke { doctor } => {
                let msg = access::ExecuteMsg::Revoke {
                    patient_id: self.patient_id,
                    grantee: self.doctors[doctor].addr.to_string(),
                };
                let patient = self.patient.addr.clone();
                let outcome = self.execute(&patient, Target::Access, &msg);
                let expected = self.model.active && self.model.grants[doctor].is_some();
                self.expect_outcome(&format!("{op:?}"), expected, &outcome);
                if outcome.is_ok() {
                    self.model.grants[doctor] = None;
                }
            }
            Op::Advance { seconds } => {
                self.suite.advance_time(seconds);
                self.model.now += seconds;
            }
            Op::Decredential { doctor } | Op::Recredential { doctor } => {
                let address = &self.doctors[doctor].addr;
                let withdraw = matches!(op, Op::Decredential { .. });
                let msg = if withdraw {
                    registry::ExecuteMsg::RevokeProvider {
                        address: address.to_string(),
                    }
                } else {
                    ehr_testing::credential_msg(address)
                };
                let admin = self.suite.admin.clone();
                let outcome = self.execute(&admin, Target::Registry, &msg);
                let expected = self.model.credentialed[doctor] == withdraw;
                self.expect_outcome(&format!("{op:?}"), expected, &outcome);
                if outcome.is_ok() {
                    self.model.credentialed[doctor] = !withdraw;
                }
            }
            Op::Emergency {
                doctor,
                ref trustees,
            } => {
                let msg = access::ExecuteMsg::EmergencyAccess {
                    patient_id: self.patient_id,
                    reason: ehr_types::escrow::EmergencyReason::IncapablePatient {},
                };
                let addr = self.doctors[doctor].addr.clone();
                let outcome = self.execute(&addr, Target::Access, &msg);
                let expected = self.model.may_declare(doctor);
                self.expect_outcome(&format!("{op:?}"), expected, &outcome);
                if outcome.is_ok() {
                    self.model.emergency_started[doctor] = Some(self.model.now);
                    self.model.emergency_until[doctor] = Some(self.model.now + EMERGENCY_SECONDS);
                    // The agents act on the emergencies the chain lists: declared ones only.
                    self.release(op, doctor, trustees);
                }
            }
            Op::Escrow => {
                // Once: escrowing again splits every epoch anew, and shares of two splits of a
                // key (some released before, some after) do not combine into it.
                if self.model.escrows {
                    return self.model.settle();
                }
                let outcome = patient_escrows(&mut self.suite, self.patient_id, &mut self.patient);
                self.expect_outcome(&format!("{op:?}"), self.model.active, &outcome);
                if let Ok(epochs) = outcome {
                    self.model.escrows = true;
                    self.stats.escrowed_epochs += epochs as u64;
                }
            }
            Op::Release {
                doctor,
                ref trustees,
            } => self.release(op, doctor, trustees),
            Op::DeletePatient => {
                let msg = registry::ExecuteMsg::DeletePatient {
                    patient_id: self.patient_id,
                };
                let patient = self.patient.addr.clone();
                let outcome = self.execute(&patient, Target::Registry, &msg);
                self.expect_outcome(&format!("{op:?}"), self.model.active, &outcome);
                if outcome.is_ok() {
                    self.model.active = false;
                }
            }
            Op::Add { writer, category } => {
                self.write(op, writer, category, &WriteKind::Add(CATEGORIES[category]));
            }
            Op::Update { writer, record } => {
                // A deleted patient's records are gone from the current state: nothing to update.
                if self.records.is_empty() || !self.model.active {
                    return self.model.settle();
                }
                let index = record % self.records.len();
                let (id, category) = (self.records[index].id, self.records[index].category);
                self.write(op, writer, category, &WriteKind::Update(id));
            }
        }
        self.model.settle();
    }

    fn write(&mut self, op: &Op, writer: Writer, category: usize, kind: &WriteKind) {
        self.writes += 1;
        let plaintext = format!("{op:?} #{}", self.writes).into_bytes();
        let expected = self.model.may_write(writer, category);
        let before = (!expected).then(|| self.suite.dump_state());
        let party = match writer {
            Writer::Patient => &mut self.patient,
            Writer::Doctor(doctor) => &mut self.doctors[doctor],
        };
        let outcome = client_write(
            &mut self.suite,
            self.patient_id,
            party,
            writer == Writer::Patient,
            kind,
            plaintext,
        );
        self.expect_outcome(&format!("{op:?}"), expected, &outcome);
        let written = match outcome {
            Ok(written) => written,
            Err(_) => {
                self.stats.refused_writes += 1;
                assert!(
                    before == Some(self.suite.dump_state()),
                    "step {}: refused {op:?} changed the chain",
                    self.step
                );
                return;
            }
        };
        self.stats.writes += 1;
        self.stats.rotations += u64::from(written.source == KeySource::Rotated);
        self.stats.own_keys += u64::from(written.source == KeySource::Own);
        self.model.epochs.insert((category, written.header.epoch));
        match kind {
            WriteKind::Add(_) => self.records.push(ModelRecord {
                id: written.record_id,
                category,
                version: 1,
            }),
            WriteKind::Update(id) => {
                let record = self
                    .records
                    .iter_mut()
                    .find(|record| record.id == *id)
                    .expect("known record");
                record.version += 1;
                assert_eq!(record.version, written.header.record_version);
            }
        }
        self.check(op, writer, category, &written);
    }

    /// The invariant, after a write the chain accepted.
    fn check(&mut self, op: &Op, writer: Writer, category: usize, written: &Written) {
        let step = self.step;
        let holders = key_holders(&self.suite, self.patient_id, CATEGORIES[category]);
        // The chain registered exactly this file, under the epoch it is sealed with.
        let record = self.suite.record(written.record_id).expect("the record");
        assert_eq!(record.latest.blob, blob_of(&written.file), "step {step}");
        assert_eq!(record.latest.epoch, written.header.epoch, "step {step}");
        assert_eq!(
            record.latest.version, written.header.record_version,
            "step {step}"
        );
        let opens = |party: &Party, patient_id: PatientId, by: &str| {
            let opened = party
                .keyring(patient_id)
                .decrypt_file(&written.file)
                .unwrap_or_else(|err| {
                    panic!(
                        "step {step}: {} is entitled to {:?} ({by}) but cannot open the file of \
                         {op:?} (epoch {}): {err}",
                        party.name, CATEGORIES[category], written.header.epoch
                    )
                });
            assert_eq!(opened.header, written.header, "step {step}");
            assert_eq!(
                opened.plaintext.as_slice(),
                written.plaintext.as_slice(),
                "step {step}"
            );
        };

        refresh(&self.suite, self.patient_id, &mut self.patient, true);
        opens(&self.patient, self.patient_id, "its own");
        self.stats.open_checks += 1;

        let mut closed_to = [None; DOCTORS];
        #[allow(clippy::needless_range_loop)]
        // `doctor` indexes the suite's parties and the model alike
        for doctor in 0..DOCTORS {
            refresh(
                &self.suite,
                self.patient_id,
                &mut self.doctors[doctor],
                false,
            );
            let party = &self.doctors[doctor];
            // A grantee's write into the current epoch leaves a reader that lacks its key
            // unserved (rules::must_rotate): the patient's next write hands it the next key.
            let left_unserved = matches!(writer, Writer::Doctor(_))
                && written.source == KeySource::Held
                && holders.unserved.contains(&party.addr);
            if self.model.by_grant(doctor, category, Scope::Read) && left_unserved {
                self.stats.unserved_checks += 1;
            } else if self.model.by_grant(doctor, category, Scope::Read) {
                opens(party, self.patient_id, "by its grant");
                self.stats.open_checks += 1;
            } else if self.model.opened_by_window[doctor][category] {
                opens(party, self.patient_id, "by its window's k releases");
                self.stats.window_open_checks += 1;
            } else if !self.model.entitled(doctor, category) {
                closed_to[doctor] = Some(self.model.regained[doctor][category]);
                for ((code, epoch), key) in &party.keys {
                    assert!(
                        decrypt_file(key, &written.file).is_err(),
                        "step {step}: {} may not read {:?}, yet its {code}/{epoch} key opens \
                         the file of {op:?} (epoch {})\nmodel: {:?}",
                        party.name,
                        CATEGORIES[category],
                        written.header.epoch,
                        self.model
                    );
                }
                assert!(
                    party
                        .keyring(self.patient_id)
                        .decrypt_file(&written.file)
                        .is_err(),
                    "step {step}: {} opens the file of {op:?}",
                    party.name
                );
                self.stats.closed_checks += 1;
            }
        }
        self.files.push(WrittenFile {
            category,
            epoch: written.header.epoch,
            key: written.key.clone(),
            closed_to,
        });

        // Nobody got, since, a key to a file written while it had no right to read it.
        for (index, file) in self.files.iter().enumerate() {
            for (doctor, party) in self.doctors.iter().enumerate() {
                let still_closed = file.closed_to[doctor]
                    .is_some_and(|regains| regains == self.model.regained[doctor][file.category]);
                if still_closed {
                    assert!(
                        !party.holds(&file.key),
                        "step {step}: {} holds the key of file #{index} ({:?}), written while \
                         it had no right to read it",
                        party.name,
                        CATEGORIES[file.category]
                    );
                }
            }
        }
    }
}

/// 64 cases in CI; `PROPTEST_CASES` runs more.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(64)
}

fn run(ops: &[Op]) {
    let mut world = World::new();
    for (step, op) in ops.iter().enumerate() {
        world.step = step;
        world.apply(op);
    }
    if std::env::var_os("KEY_LIFECYCLE_STATS").is_some() {
        eprintln!("{:?}", world.stats);
    }
}

/// Found by the property test in CI: the patient's write while the doctor's credential was
/// withdrawn opened epoch 1 without it; restored, it may read again, and the next write must
/// hand it the next key instead of writing into epoch 1.
#[test]
fn a_doctor_credentialed_again_opens_the_next_file() {
    let imaging = 2;
    run(&[
        Op::Grant {
            doctor: 3,
            scope: Scope::Read,
            categories: 1 << imaging,
            expires_in: None,
        },
        Op::Decredential { doctor: 3 },
        Op::Add {
            writer: Writer::Patient,
            category: imaging,
        },
        Op::Recredential { doctor: 3 },
        Op::Add {
            writer: Writer::Patient,
            category: imaging,
        },
    ]);
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        max_shrink_iters: 1024,
        ..ProptestConfig::default()
    })]

    #[test]
    fn no_party_opens_a_file_written_after_it_lost_access(
        ops in prop::collection::vec(op(), 1..=40)
    ) {
        run(&ops);
    }
}
