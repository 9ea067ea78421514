//! Issue 21 as a property test: random sequences of steps over one patient, four credentialed
//! doctors, three trustees (threshold 2), a stranger and the patient's new wallet, in which any
//! party may misbehave: grants, narrower re-grants, revokes, expiries and credential
//! withdrawals; writes by the owner and by grantees, two of them based on the same version;
//! grantees' rotations with junk envelopes (of the right length or not); emergencies declared
//! after a revoke and windows the owner ends; trustees releasing shares inside or outside
//! windows, and of categories a window does not open; recovery requests by strangers, racing a
//! completed recovery; approvals with identity checks; re-sent messages; patient-only messages
//! from anybody else.
//!
//! Keys are abstract: every (category, epoch) key is an id, and an honest client's envelope (or
//! sealed share) carries it in the clear, so the test sees what each party can open. A party
//! holds or can fetch a key when it opened an envelope the chain hands it (`KeyEnvelopes`, and
//! `OwnEnvelopes` while it owns the patient), made the key itself as a writer, or was released
//! at least k shares of its epoch (counted whatever they hold). Junk is random bytes.
//!
//! A model of its own (grants, expiries, credentials, windows, the patient's emergency
//! categories, ownership), not the contract's rule functions, decides who may read and write,
//! and predicts each step's outcome. After every step:
//! - consent: no party holds or can fetch the key of a record version written while it had no
//!   right to read its category (unless it regained the right since, as an emergency opens the
//!   past of an emergency category);
//! - liveness: every write of the owner is accepted (rotating first when its client cannot
//!   open the current key), and so is every write of an honest doctor with Write, whatever junk
//!   another party wrapped for it;
//! - ownership changes only by the k-th trustee approval of a request, each approval carrying an
//!   identity check, never by anybody alone;
//! - the chain holds envelopes of exactly `ENVELOPE_LEN` bytes and shares of `SEALED_SHARE_LEN`.

use std::collections::{BTreeMap, BTreeSet};

use cosmwasm_std::{Addr, Binary, CosmosMsg, Timestamp};
use cw_multi_test::AppResponse;
use ehr_testing::{
    attribute_id, blob_of, credential_msg, error_text, sample_public_key, Suite, Target,
    RECOVERY_WAIT_SECONDS,
};
use ehr_types::access::{self, KeyEnvelope, KeyHoldersResponse, RecipientEnvelope, Scope};
use ehr_types::error_code::{self, ErrorCode};
use ehr_types::escrow::{
    EmergencyReason, EpochEscrow, EscrowPolicyResponse, EscrowedSharesResponse, ReleasedShare,
    ReleasedShareInfo, ReleasedSharesResponse, TrusteeShare,
};
use ehr_types::recovery::IdentityCheck;
use ehr_types::registry;
use ehr_types::validate::{ENVELOPE_LEN, SEALED_SHARE_LEN};
use ehr_types::{AuditAction, AuditEntry, Category, PatientId, RecordId};
use proptest::prelude::*;

/// Escrow commitments stand in as one 32-byte value: the chain checks only their length, and
/// the keys of this model are abstract (the combiner's checks are ehr-crypto's unit tests).
const COMMITMENT: [u8; 32] = [0xc0; 32];
const DOCTORS: usize = 4;
const TRUSTEES: usize = 3;
const THRESHOLD: usize = 2;
/// Few categories, so that grants, losses of access and writes meet often.
const CATEGORIES: [Category; 3] = [Category::Lab, Category::Imaging, Category::Allergy];
const CATEGORY_COUNT: usize = CATEGORIES.len();
/// The patient's emergency categories, once it escrows: Lab and Allergy, not Imaging.
const EMERGENCY: u8 = 0b101;
/// `Suite::new` instantiates the access contract with one-hour windows.
const WINDOW_SECONDS: u64 = 3600;
const ENVELOPE_MAGIC: &[u8; 8] = b"EHRKEY\x01\x00";
const SHARE_MAGIC: &[u8; 8] = b"EHRSHR\x01\x00";

// ---------------------------------------------------------------------------------------------
// Parties and steps

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Who {
    /// The patient's original wallet.
    Patient,
    Doctor(usize),
    Stranger,
    /// The wallet the patient recovers to.
    NewWallet,
    Trustee(usize),
}

/// Every party that can hold keys (trustees hold shares only).
const READERS: [Who; 7] = [
    Who::Patient,
    Who::Doctor(0),
    Who::Doctor(1),
    Who::Doctor(2),
    Who::Doctor(3),
    Who::Stranger,
    Who::NewWallet,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Writer {
    /// Whoever owns the patient now.
    Owner,
    Doctor(usize),
}

#[derive(Clone, Debug)]
enum Step {
    Grant {
        doctor: usize,
        scope: Scope,
        categories: u8,
        expires_in: Option<u64>,
    },
    /// A re-grant with a proper subset of the doctor's categories.
    Narrow {
        doctor: usize,
        keep: u8,
    },
    Revoke {
        doctor: usize,
    },
    Advance {
        seconds: u64,
    },
    Decredential {
        doctor: usize,
    },
    Recredential {
        doctor: usize,
    },
    /// A write into `category`; when `aimed`, a doctor writes into the `category`-th of the
    /// categories it may write, if it may write any.
    Write {
        writer: Writer,
        category: usize,
        aimed: bool,
    },
    Update {
        writer: Writer,
        record: usize,
    },
    /// Two clients read the record's latest version, then both send an update based on it;
    /// the one that loses the race re-reads and sends once more.
    Concurrent {
        first: Writer,
        second: Writer,
        record: usize,
    },
    /// A doctor opens a new epoch whose envelopes (the patient's too) and shares are junk of
    /// `len` bytes, and may write under the key only it knows.
    JunkRotation {
        doctor: usize,
        category: usize,
        aimed: bool,
        seed: u64,
        len: usize,
        write: bool,
    },
    /// The doctor declares an emergency; then these trustees' agents serve it.
    Emergency {
        doctor: usize,
        trustees: Vec<usize>,
    },
    /// These trustees' agents serve the doctor whether its window is open or not.
    Release {
        doctor: usize,
        trustees: Vec<usize>,
    },
    /// A trustee releases its share of Imaging, which no window opens.
    RogueRelease {
        trustee: usize,
        doctor: usize,
    },
    EndEmergency {
        doctor: usize,
    },
    /// The owner escrows (once): Lab and Allergy for emergencies, everything when `recovery`.
    Escrow {
        recovery: bool,
    },
    RequestRecovery {
        by: Who,
    },
    /// A request, one waiting period, and these trustees' approvals.
    RecoveryAttempt {
        by: Who,
        approvals: Vec<(usize, IdentityCheck)>,
    },
    ApproveRecovery {
        trustee: usize,
        check: IdentityCheck,
    },
    /// A trustee's agent releases its shares to the owner of the last completed recovery.
    ReleaseRecovery {
        trustee: usize,
    },
    CancelRecovery,
    /// `by` re-sends the `index`-th (modulo) earlier accepted transaction as it was.
    Replay {
        index: usize,
        by: Who,
    },
    /// A party that does not own the patient sends one of the owner's messages.
    Impostor {
        by: Who,
        act: u8,
    },
    DeletePatient,
}

fn writer() -> impl Strategy<Value = Writer> {
    prop_oneof![
        1 => Just(Writer::Owner),
        1 => (0..DOCTORS).prop_map(Writer::Doctor),
    ]
}

fn anybody() -> impl Strategy<Value = Who> {
    prop_oneof![
        Just(Who::Patient),
        (0..DOCTORS).prop_map(Who::Doctor),
        Just(Who::Stranger),
        Just(Who::NewWallet),
        (0..TRUSTEES).prop_map(Who::Trustee),
    ]
}

fn trustees() -> impl Strategy<Value = Vec<usize>> {
    prop::sample::subsequence((0..TRUSTEES).collect::<Vec<_>>(), 1..=TRUSTEES)
}

fn scope() -> impl Strategy<Value = Scope> {
    prop_oneof![
        2 => Just(Scope::Read),
        3 => Just(Scope::Write),
        1 => Just(Scope::Manage),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    let mask = 1u8..(1 << CATEGORY_COUNT);
    let expires_in = prop_oneof![
        2 => Just(None),
        2 => prop::sample::select(vec![60u64, 900, 5000]).prop_map(Some),
    ];
    let junk_len = prop_oneof![
        6 => Just(ENVELOPE_LEN),
        1 => Just(1usize),
        1 => 0usize..200,
    ];
    let check = prop::sample::select(IdentityCheck::ALL.to_vec());
    let requester = prop_oneof![
        Just(Who::Patient),
        Just(Who::Stranger),
        Just(Who::NewWallet)
    ];
    prop_oneof![
        12 => (0..DOCTORS, scope(), mask.clone(), expires_in).prop_map(
            |(doctor, scope, categories, expires_in)| Step::Grant {
                doctor,
                scope,
                categories,
                expires_in,
            }
        ),
        3 => (0..DOCTORS, mask).prop_map(|(doctor, keep)| Step::Narrow { doctor, keep }),
        4 => (0..DOCTORS).prop_map(|doctor| Step::Revoke { doctor }),
        5 => prop::sample::select(vec![30u64, 700, 2000, 4000])
            .prop_map(|seconds| Step::Advance { seconds }),
        1 => (0..DOCTORS).prop_map(|doctor| Step::Decredential { doctor }),
        1 => (0..DOCTORS).prop_map(|doctor| Step::Recredential { doctor }),
        14 => (writer(), 0..CATEGORY_COUNT, any::<bool>()).prop_map(
            |(writer, category, aimed)| Step::Write {
                writer,
                category,
                aimed,
            }
        ),
        6 => (writer(), any::<usize>()).prop_map(|(writer, record)| Step::Update { writer, record }),
        3 => (writer(), writer(), any::<usize>()).prop_map(|(first, second, record)| {
            Step::Concurrent {
                first,
                second,
                record,
            }
        }),
        10 => (
            (0..DOCTORS, 0..CATEGORY_COUNT, any::<bool>()),
            (any::<u64>(), junk_len, any::<bool>())
        )
            .prop_map(|((doctor, category, aimed), (seed, len, write))| {
                Step::JunkRotation {
                    doctor,
                    category,
                    aimed,
                    seed,
                    len,
                    write,
                }
            }),
        6 => (0..DOCTORS, trustees())
            .prop_map(|(doctor, trustees)| Step::Emergency { doctor, trustees }),
        2 => (0..DOCTORS, trustees())
            .prop_map(|(doctor, trustees)| Step::Release { doctor, trustees }),
        1 => (0..TRUSTEES, 0..DOCTORS)
            .prop_map(|(trustee, doctor)| Step::RogueRelease { trustee, doctor }),
        3 => (0..DOCTORS).prop_map(|doctor| Step::EndEmergency { doctor }),
        3 => any::<bool>().prop_map(|recovery| Step::Escrow { recovery }),
        3 => requester.clone().prop_map(|by| Step::RequestRecovery { by }),
        2 => (
            requester,
            prop::collection::vec((0..TRUSTEES, check.clone()), 1..=TRUSTEES)
        )
            .prop_map(|(by, approvals)| Step::RecoveryAttempt { by, approvals }),
        8 => (0..TRUSTEES, check)
            .prop_map(|(trustee, check)| Step::ApproveRecovery { trustee, check }),
        3 => (0..TRUSTEES).prop_map(|trustee| Step::ReleaseRecovery { trustee }),
        1 => Just(Step::CancelRecovery),
        4 => (any::<usize>(), anybody()).prop_map(|(index, by)| Step::Replay { index, by }),
        3 => (anybody(), 0u8..8).prop_map(|(by, act)| Step::Impostor { by, act }),
    ]
}

/// Most runs escrow first (recoveries need it); some end with the patient's deletion and a few
/// steps after it, all of which must be refused.
fn steps() -> impl Strategy<Value = Vec<Step>> {
    let first = prop::option::weighted(0.7, prop::bool::weighted(0.75));
    let tail = prop::option::weighted(0.15, prop::collection::vec(step(), 0..6));
    (first, prop::collection::vec(step(), 10..=45), tail).prop_map(|(first, body, tail)| {
        let escrow = first.map(|recovery| Step::Escrow { recovery });
        let deletion = tail.map(|tail| std::iter::once(Step::DeletePatient).chain(tail));
        escrow
            .into_iter()
            .chain(body)
            .chain(deletion.into_iter().flatten())
            .collect()
    })
}

fn categories_of(mask: u8) -> Vec<Category> {
    (0..CATEGORY_COUNT)
        .filter(|c| mask & (1 << c) != 0)
        .map(|c| CATEGORIES[c])
        .collect()
}

fn index_of(category: Category) -> usize {
    CATEGORIES
        .iter()
        .position(|known| *known == category)
        .expect("a test category")
}

// ---------------------------------------------------------------------------------------------
// Abstract keys: what an honest client's envelope or share carries, and junk

fn envelope_of(key: u64) -> Binary {
    let mut bytes = vec![0u8; ENVELOPE_LEN];
    bytes[..8].copy_from_slice(ENVELOPE_MAGIC);
    bytes[8..16].copy_from_slice(&key.to_be_bytes());
    Binary::from(bytes)
}

/// The key an envelope opens to, if it opens.
fn opened(envelope: &Binary) -> Option<u64> {
    let bytes = envelope.as_slice();
    (bytes.len() == ENVELOPE_LEN && &bytes[..8] == ENVELOPE_MAGIC)
        .then(|| u64::from_be_bytes(bytes[8..16].try_into().expect("8 bytes")))
}

fn share_of(key: u64, trustee: usize) -> Binary {
    let mut bytes = vec![0u8; SEALED_SHARE_LEN];
    bytes[..8].copy_from_slice(SHARE_MAGIC);
    bytes[8..16].copy_from_slice(&key.to_be_bytes());
    bytes[16] = trustee as u8;
    Binary::from(bytes)
}

/// The key a share is part of, if it is an honest share.
fn share_key(share: &Binary) -> Option<u64> {
    let bytes = share.as_slice();
    (bytes.len() == SEALED_SHARE_LEN && &bytes[..8] == SHARE_MAGIC)
        .then(|| u64::from_be_bytes(bytes[8..16].try_into().expect("8 bytes")))
}

/// `len` random-looking bytes (splitmix64 of `seed`).
fn junk(seed: u64, len: usize) -> Binary {
    let mut state = seed;
    let bytes = (0..len)
        .map(|_| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            (z ^ (z >> 31)) as u8
        })
        .collect::<Vec<u8>>();
    Binary::from(bytes)
}

// ---------------------------------------------------------------------------------------------
// The model: who may do what, from the steps applied alone

#[derive(Clone, Copy, Debug)]
struct ModelGrant {
    scope: Scope,
    categories: u8,
    expires: Option<u64>,
}

#[derive(Clone, Copy, Debug)]
struct Window {
    started: u64,
    expires: u64,
    ended: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Request {
    Pending {
        requester: Who,
        not_before: u64,
        approvals: Vec<usize>,
    },
    Completed,
    Cancelled,
}

#[derive(Clone, Debug)]
struct Completed {
    new_owner: Who,
    decided_at: u64,
    released_by: BTreeSet<usize>,
    /// (trustee, category, epoch) released to the new owner.
    released: BTreeSet<(usize, usize, u32)>,
}

#[derive(Debug)]
struct Model {
    now: u64,
    active: bool,
    owner: Who,
    /// How many recoveries moved the patient (0: the original wallet's keys are its own).
    generation: u32,
    credentialed: [bool; DOCTORS],
    grants: [Option<ModelGrant>; DOCTORS],
    windows: [Option<Window>; DOCTORS],
    /// `Some(recovery)` once the patient escrows.
    escrow: Option<bool>,
    epoch: [u32; CATEGORY_COUNT],
    /// The key of each (category, epoch) that has one.
    keys: BTreeMap<(usize, u32), u64>,
    /// Who was handed (or made) each category's current key, the owner aside; a former owner
    /// holds the keys that were current when it lost the patient.
    holders: [BTreeSet<Who>; CATEGORY_COUNT],
    /// The doctor that opened each category's current epoch (none: the owner).
    opener: [Option<Who>; CATEGORY_COUNT],
    /// Each escrowed (category, epoch) with the share each trustee holds.
    escrowed: BTreeMap<(usize, u32), Vec<Binary>>,
    /// (doctor, category, epoch) -> trustee -> start of the window it released in.
    released: BTreeMap<(usize, usize, u32), BTreeMap<usize, u64>>,
    request: Option<Request>,
    completed: Option<Completed>,
    /// How often each party regained the right to read each category.
    regained: BTreeMap<(Who, usize), u32>,
    entitled_before: BTreeMap<(Who, usize), bool>,
}

impl Model {
    fn new(now: u64) -> Self {
        Model {
            now,
            active: true,
            owner: Who::Patient,
            generation: 0,
            credentialed: [true; DOCTORS],
            grants: [None; DOCTORS],
            windows: [None; DOCTORS],
            escrow: None,
            epoch: [0; CATEGORY_COUNT],
            keys: BTreeMap::new(),
            holders: Default::default(),
            opener: [None; CATEGORY_COUNT],
            escrowed: BTreeMap::new(),
            released: BTreeMap::new(),
            request: None,
            completed: None,
            regained: BTreeMap::new(),
            entitled_before: BTreeMap::new(),
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

    fn window_open(&self, doctor: usize) -> bool {
        self.windows[doctor].is_some_and(|window| !window.ended && self.now < window.expires)
    }

    /// A window opens the patient's emergency categories, once it named them, for Read.
    fn by_emergency(&self, doctor: usize, category: usize) -> bool {
        self.credentialed[doctor]
            && self.window_open(doctor)
            && self.escrow.is_some()
            && EMERGENCY & (1 << category) != 0
    }

    fn entitled(&self, who: Who, category: usize) -> bool {
        match who {
            _ if who == self.owner => true,
            Who::Doctor(doctor) => {
                self.by_grant(doctor, category, Scope::Read) || self.by_emergency(doctor, category)
            }
            _ => false,
        }
    }

    fn writer(&self, writer: Writer) -> Who {
        match writer {
            Writer::Owner => self.owner,
            Writer::Doctor(doctor) => Who::Doctor(doctor),
        }
    }

    fn may_write(&self, writer: Who, category: usize) -> bool {
        self.active
            && match writer {
                _ if writer == self.owner => true,
                Who::Doctor(doctor) => self.by_grant(doctor, category, Scope::Write),
                _ => false,
            }
    }

    fn stale(&self, category: usize) -> bool {
        self.holders[category]
            .iter()
            .any(|holder| !self.entitled(*holder, category))
    }

    /// A grantee entitled by its grant that was not handed the current key.
    fn unserved(&self, category: usize) -> bool {
        (0..DOCTORS).any(|doctor| {
            self.by_grant(doctor, category, Scope::Read)
                && !self.holders[category].contains(&Who::Doctor(doctor))
        })
    }

    /// Whether the chain takes a new epoch from `writer`: the owner always; a writer that holds
    /// no current key, or whose epoch is stale, or was opened by another doctor.
    fn may_rotate(&self, writer: Who, category: usize) -> bool {
        self.may_write(writer, category)
            && (writer == self.owner
                || self.stale(category)
                || !self.holders[category].contains(&writer)
                || self.opener[category].is_some_and(|opener| opener != writer))
    }

    /// Who a new key is to be wrapped to: the grantees that may read, and the holders that may
    /// still read (an emergency reader that holds the current key).
    fn readers(&self, category: usize) -> BTreeSet<Who> {
        let by_grant = (0..DOCTORS)
            .filter(|&doctor| self.by_grant(doctor, category, Scope::Read))
            .map(Who::Doctor);
        let holding = self.holders[category]
            .iter()
            .copied()
            .filter(|holder| self.entitled(*holder, category));
        by_grant.chain(holding).collect()
    }

    fn escrows(&self, category: usize) -> bool {
        match self.escrow {
            Some(true) => true,
            Some(false) => EMERGENCY & (1 << category) != 0,
            None => false,
        }
    }

    /// The window a trustee serves a doctor in: its start, if it is open.
    fn serving_since(&self, doctor: usize) -> Option<u64> {
        self.windows[doctor]
            .filter(|_| self.window_open(doctor))
            .map(|window| window.started)
    }

    /// What an agent sends a doctor: each escrowed share of an emergency category it has not
    /// released in the open window (everything when none is open: the chain must refuse).
    fn emergency_shares(&self, trustee: usize, doctor: usize) -> Vec<(usize, u32)> {
        let since = self.serving_since(doctor);
        self.escrowed
            .keys()
            .copied()
            .filter(|&(category, _)| self.escrow.is_some() && EMERGENCY & (1 << category) != 0)
            .filter(|&(category, epoch)| {
                since.is_none()
                    || self
                        .released
                        .get(&(doctor, category, epoch))
                        .and_then(|by| by.get(&trustee))
                        != since.as_ref()
            })
            .collect()
    }

    fn recovery_shares(&self, trustee: usize) -> Vec<(usize, u32)> {
        self.escrowed
            .keys()
            .copied()
            .filter(|&(category, epoch)| {
                self.escrows(category)
                    && !self.completed.as_ref().is_some_and(|completed| {
                        completed.released.contains(&(trustee, category, epoch))
                    })
            })
            .collect()
    }

    fn releases_pending(&self) -> bool {
        matches!(self.request, Some(Request::Completed))
            && self.completed.as_ref().is_some_and(|completed| {
                self.now < completed.decided_at + RECOVERY_WAIT_SECONDS
                    && completed.released_by.len() < THRESHOLD
            })
    }

    /// Counts, after a step, who regained the right to read what.
    fn settle(&mut self) {
        for who in READERS {
            for category in 0..CATEGORY_COUNT {
                let entitled = self.entitled(who, category);
                let before = self.entitled_before.insert((who, category), entitled);
                if entitled && before != Some(true) {
                    *self.regained.entry((who, category)).or_default() += 1;
                }
            }
        }
    }

    fn regains(&self, who: Who, category: usize) -> u32 {
        self.regained.get(&(who, category)).copied().unwrap_or(0)
    }
}

// ---------------------------------------------------------------------------------------------
// The world: chain, clients' knowledge, model

/// A record version the chain accepted, with who may never get its key.
struct Version {
    what: String,
    category: usize,
    epoch: u32,
    key: u64,
    /// Each party that could not read the category then, with its regain count: until that
    /// count moves, it must hold no way to the key.
    closed_to: Vec<(Who, u32)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Writes and rotations: a copy never goes through (blob, version or epoch already used).
    Write,
    OwnerOnly,
    TrusteeOnly,
}

struct Sent {
    kind: Kind,
    msgs: Vec<CosmosMsg>,
}

/// A write a client built: the transaction and what the model learns if it goes through.
struct Built {
    msgs: Vec<CosmosMsg>,
    category: usize,
    epoch: u32,
    key: u64,
    /// `Some(recipients)` when it opens a new epoch.
    rotation: Option<BTreeSet<Who>>,
    /// The owner's first key of epoch 0, made with the write.
    first_key: bool,
    shares: Option<Vec<Binary>>,
    record: Option<RecordId>,
}

#[derive(Default, Debug)]
struct Stats {
    owner_writes: u64,
    writes: u64,
    refused_writes: u64,
    rotations: u64,
    junk_accepted: u64,
    races: u64,
    releases: u64,
    recoveries: u64,
    replays_refused: u64,
    closed_checks: u64,
}

struct World {
    suite: Suite,
    patient_id: PatientId,
    addrs: BTreeMap<Who, Addr>,
    model: Model,
    /// (category, epoch) -> key, for every key each party can open.
    knows: BTreeMap<Who, BTreeMap<(usize, u32), u64>>,
    records: Vec<RecordId>,
    versions: Vec<Version>,
    sent: Vec<Sent>,
    next_key: u64,
    blobs: u64,
    step: usize,
    stats: Stats,
}

fn who_index(who: Who) -> u8 {
    match who {
        Who::Patient => 0,
        Who::Doctor(doctor) => 1 + doctor as u8,
        Who::Stranger => 10,
        Who::NewWallet => 11,
        Who::Trustee(trustee) => 20 + trustee as u8,
    }
}

impl World {
    fn new() -> Self {
        let mut suite = Suite::new();
        let mut addrs = BTreeMap::new();
        for who in READERS.into_iter().chain((0..TRUSTEES).map(Who::Trustee)) {
            addrs.insert(who, suite.addr(&format!("{who:?}")));
        }
        let admin = suite.admin.clone();
        let trustees: Vec<String> = (0..TRUSTEES)
            .map(|t| addrs[&Who::Trustee(t)].to_string())
            .collect();
        let set = access::ExecuteMsg::SetTrustees {
            trustees,
            threshold: THRESHOLD as u8,
        };
        suite
            .execute(&admin, Target::Access, &set)
            .expect("trustees");
        for trustee in 0..TRUSTEES {
            let who = Who::Trustee(trustee);
            let key = access::ExecuteMsg::SetTrusteeKey {
                encryption_key: sample_public_key(40 + who_index(who)),
            };
            suite
                .execute(&addrs[&who], Target::Access, &key)
                .expect("trustee key");
        }
        for doctor in 0..DOCTORS {
            let who = Who::Doctor(doctor);
            suite
                .execute(&admin, Target::Registry, &credential_msg(&addrs[&who]))
                .expect("credential");
            let key = registry::ExecuteMsg::SetProviderKey {
                encryption_key: sample_public_key(40 + who_index(who)),
            };
            suite
                .execute(&addrs[&who], Target::Registry, &key)
                .expect("provider key");
        }
        let patient_id = suite
            .register_patient(&addrs[&Who::Patient])
            .expect("register patient");
        let model = Model::new(suite.now().seconds());
        World {
            suite,
            patient_id,
            addrs,
            model,
            knows: BTreeMap::new(),
            records: Vec::new(),
            versions: Vec::new(),
            sent: Vec::new(),
            next_key: 1,
            blobs: 0,
            step: 0,
            stats: Stats::default(),
        }
    }

    fn addr(&self, who: Who) -> Addr {
        self.addrs[&who].clone()
    }

    fn who_is(&self, addr: &Addr) -> Who {
        *self
            .addrs
            .iter()
            .find(|(_, known)| *known == addr)
            .unwrap_or_else(|| panic!("unknown address {addr}"))
            .0
    }

    fn fresh_key(&mut self) -> u64 {
        self.next_key += 1;
        self.next_key
    }

    fn access<M: serde::Serialize>(&self, msg: &M) -> CosmosMsg {
        self.suite.wasm_msg(Target::Access, msg)
    }

    fn query<R: serde::de::DeserializeOwned>(&self, msg: &access::QueryMsg) -> R {
        self.suite
            .query(Target::Access, msg)
            .unwrap_or_else(|err| panic!("{msg:?}: {err}"))
    }

    fn key_holders(&self, category: usize) -> KeyHoldersResponse {
        self.suite
            .key_holders(self.patient_id, CATEGORIES[category])
    }

    fn escrow_policy(&self) -> EscrowPolicyResponse {
        self.query(&access::QueryMsg::EscrowPolicy {
            patient_id: self.patient_id,
        })
    }

    /// Runs `msgs` from `sender`; a refusal must leave every stored byte as it was. When the
    /// transaction is one a copy of which must never go through, it joins the replay pool.
    fn send(
        &mut self,
        sender: Who,
        kind: Option<Kind>,
        msgs: Vec<CosmosMsg>,
    ) -> Result<Vec<AppResponse>, String> {
        let before = self.suite.dump_state();
        let outcome = self
            .suite
            .execute_multi(&self.addr(sender), msgs.clone())
            .map_err(|err| error_text(&err));
        match &outcome {
            Ok(_) => {
                if let Some(kind) = kind {
                    self.sent.push(Sent { kind, msgs });
                }
            }
            Err(err) => assert!(
                self.suite.dump_state() == before,
                "step {}: a refused transaction ({err}) changed the chain",
                self.step
            ),
        }
        outcome
    }

    fn expect<T>(&self, what: &str, expected: bool, outcome: &Result<T, String>) {
        match outcome {
            Ok(_) => assert!(
                expected,
                "step {}: {what} was accepted, but the model refuses it\nmodel: {:#?}",
                self.step, self.model
            ),
            Err(err) => assert!(
                !expected,
                "step {}: {what} was refused: {err}\nmodel: {:#?}",
                self.step, self.model
            ),
        }
    }

    // ---- clients ----------------------------------------------------------------------------

    /// The owner's own envelopes of its generation: every current one, page after page.
    fn own_envelopes(&self) -> Vec<KeyEnvelope> {
        self.suite.own_envelopes(self.patient_id, None)
    }

    /// The key of (category, epoch) `who`'s client can open.
    fn key_of(&self, who: Who, category: usize, epoch: u32) -> Option<u64> {
        self.knows
            .get(&who)
            .and_then(|keys| keys.get(&(category, epoch)))
            .copied()
    }

    fn learn(&mut self, who: Who, category: usize, epoch: u32, key: u64) {
        self.knows
            .entry(who)
            .or_default()
            .insert((category, epoch), key);
    }

    /// Every client fetches what the chain hands it; every stored envelope and share has the
    /// one length the chain takes.
    fn refresh(&mut self) {
        for who in READERS {
            self.fetch(who);
        }
        for trustee in 0..TRUSTEES {
            let held: EscrowedSharesResponse = self.query(&access::QueryMsg::EscrowedShares {
                patient_id: self.patient_id,
                trustee: self.addr(Who::Trustee(trustee)).to_string(),
                start_after: None,
                limit: Some(100),
            });
            for share in held.shares {
                assert_eq!(share.share.len(), SEALED_SHARE_LEN, "step {}", self.step);
            }
        }
    }

    /// `who`'s client fetches and opens everything the chain hands it.
    fn fetch(&mut self, who: Who) {
        let id = self.patient_id;
        {
            let addr = self.addr(who);
            let mut learnt = Vec::new();
            let mut envelopes = self.suite.key_envelopes(id, &addr, None);
            if who == self.model.owner {
                envelopes.extend(self.own_envelopes());
            }
            for envelope in &envelopes {
                assert_eq!(
                    envelope.envelope.len(),
                    ENVELOPE_LEN,
                    "step {}: the chain holds a {}-byte envelope of {:?} epoch {} for {who:?}",
                    self.step,
                    envelope.envelope.len(),
                    envelope.category,
                    envelope.epoch
                );
                if let Some(key) = opened(&envelope.envelope) {
                    learnt.push((index_of(envelope.category), envelope.epoch, key));
                }
            }
            let mut shares: BTreeMap<(usize, u32), BTreeMap<Addr, Option<u64>>> = BTreeMap::new();
            for share in self.released_to(&addr) {
                assert_eq!(
                    share.share.len(),
                    SEALED_SHARE_LEN,
                    "step {}: the chain holds a {}-byte share released to {who:?}",
                    self.step,
                    share.share.len()
                );
                shares
                    .entry((index_of(share.category), share.epoch))
                    .or_default()
                    .insert(share.trustee.clone(), share_key(&share.share));
            }
            // k honest shares of one key combine into it.
            for ((category, epoch), by) in shares {
                let keys: BTreeSet<Option<u64>> = by.values().copied().collect();
                if by.len() >= THRESHOLD && keys.len() == 1 {
                    if let Some(Some(key)) = keys.first() {
                        learnt.push((category, epoch, *key));
                    }
                }
            }
            for (category, epoch, key) in learnt {
                self.learn(who, category, epoch, key);
            }
        }
    }

    fn released_to(&self, addr: &Addr) -> Vec<ReleasedShareInfo> {
        let released: ReleasedSharesResponse = self.query(&access::QueryMsg::ReleasedShares {
            patient_id: self.patient_id,
            doctor: addr.to_string(),
            start_after: None,
            limit: Some(100),
        });
        assert!(released.shares.len() < 100, "step {}: page full", self.step);
        released.shares
    }

    /// The keys `who` holds or can fetch: what it opened or made, and the key of every epoch
    /// of which k shares were released to it, whatever they hold.
    fn reachable(&self, who: Who) -> BTreeSet<u64> {
        let mut keys: BTreeSet<u64> = self
            .knows
            .get(&who)
            .map(|known| known.values().copied().collect())
            .unwrap_or_default();
        let mut counts: BTreeMap<(usize, u32), BTreeSet<Addr>> = BTreeMap::new();
        for share in self.released_to(&self.addr(who)) {
            counts
                .entry((index_of(share.category), share.epoch))
                .or_default()
                .insert(share.trustee);
        }
        for (slot, trustees) in counts {
            if trustees.len() >= THRESHOLD {
                keys.extend(self.model.keys.get(&slot));
            }
        }
        keys
    }

    /// The shares of a new key for every trustee, in the set's order.
    fn trustee_shares(&self, shares: &[Binary]) -> Vec<TrusteeShare> {
        (0..TRUSTEES)
            .map(|trustee| TrusteeShare {
                trustee: self.addr(Who::Trustee(trustee)).to_string(),
                share: shares[trustee].clone(),
                commitment: COMMITMENT.into(),
            })
            .collect()
    }

    /// What an honest writer's client sends for one write: it reads `KeyHolders`; it opens a
    /// new epoch when the current one is stale, when it was never handed the current key or
    /// cannot open the one it was handed, or (the owner) when a reader lacks it, wrapping the
    /// new key to every `Readers` entry and escrowing it when the patient escrows the category.
    /// The owner's first key of epoch 0 goes on chain with the write.
    fn build_write(&mut self, writer: Who, category: usize, record: Option<RecordId>) -> Built {
        self.fetch(writer);
        let id = self.patient_id;
        let cat = CATEGORIES[category];
        let holders = self.key_holders(category);
        let current = holders.epoch;
        let is_owner = writer == self.model.owner;
        assert_eq!(
            (holders.stale, holders.must_rotate()),
            (
                self.model.stale(category),
                self.model.stale(category) || self.model.unserved(category)
            ),
            "step {}: {cat:?} is (stale, must rotate) for the chain, not for the model: \
             {holders:?}\nmodel: {:#?}",
            self.step,
            self.model
        );
        let holds = is_owner
            || holders
                .holders
                .iter()
                .any(|holder| holder.address == self.addrs[&writer]);
        let held = self.key_of(writer, category, current);
        let own_listed = is_owner
            && self
                .own_envelopes()
                .iter()
                .any(|e| e.category == cat && e.epoch == current);
        // Only the patient's first wallet makes a first key: a recovered owner's epoch 0 is the
        // former owner's, stale for it.
        let first_key = is_owner
            && held.is_none()
            && current == 0
            && !own_listed
            && self.model.generation == 0
            && !holders.must_rotate();
        let rotate = if is_owner {
            holders.must_rotate() || (held.is_none() && !first_key)
        } else {
            holders.stale || !holds || held.is_none()
        };
        self.check_plan(writer, category, &holders, rotate, held.is_some());
        let escrows = self.escrow_policy().escrowed.contains(&cat);
        let mut msgs = Vec::new();
        let (epoch, key, rotation, shares) = if rotate {
            let epoch = current + 1;
            let key = self.fresh_key();
            let readers = self.suite.readers(id, cat);
            let recipients: BTreeSet<Who> = readers.iter().map(|r| self.who_is(r)).collect();
            assert_eq!(
                recipients,
                self.model.readers(category),
                "step {}: the chain's readers of {cat:?} are not the parties that may read it",
                self.step
            );
            let shares: Vec<Binary> = (0..TRUSTEES).map(|t| share_of(key, t)).collect();
            msgs.push(
                self.access(&access::ExecuteMsg::RotateKey {
                    patient_id: id,
                    category: cat,
                    epoch,
                    own_envelope: envelope_of(key),
                    envelopes: readers
                        .iter()
                        .map(|reader| RecipientEnvelope {
                            recipient: reader.to_string(),
                            envelope: envelope_of(key),
                        })
                        .collect(),
                    escrow: if escrows {
                        self.trustee_shares(&shares)
                    } else {
                        vec![]
                    },
                    escrow_key_commitment: escrows.then(|| COMMITMENT.into()),
                }),
            );
            (epoch, key, Some(recipients), escrows.then_some(shares))
        } else if first_key {
            let key = self.fresh_key();
            msgs.push(self.access(&access::ExecuteMsg::StoreOwnEnvelopes {
                patient_id: id,
                key_envelopes: vec![KeyEnvelope {
                    category: cat,
                    epoch: 0,
                    envelope: envelope_of(key),
                }],
            }));
            let shares: Vec<Binary> = (0..TRUSTEES).map(|t| share_of(key, t)).collect();
            if escrows {
                msgs.push(self.access(&access::ExecuteMsg::EscrowShares {
                    patient_id: id,
                    escrows: vec![EpochEscrow {
                        category: cat,
                        epoch: 0,
                        shares: self.trustee_shares(&shares),
                        key_commitment: ehr_testing::sample_commitment(cat, 0),
                    }],
                }));
            }
            (0, key, None, escrows.then_some(shares))
        } else {
            (current, held.expect("a held key"), None, None)
        };
        self.blobs += 1;
        let blob = blob_of(format!("step {} write {}", self.step, self.blobs).as_bytes());
        let write = match record {
            None => registry::ExecuteMsg::AddRecord {
                patient_id: id,
                category: cat,
                epoch,
                blob,
            },
            Some(record_id) => registry::ExecuteMsg::UpdateRecord {
                record_id,
                base_version: self
                    .suite
                    .record(record_id)
                    .expect("the record")
                    .latest
                    .version,
                epoch,
                blob,
            },
        };
        msgs.push(self.suite.wasm_msg(Target::Registry, &write));
        Built {
            msgs,
            category,
            epoch,
            key,
            rotation,
            first_key,
            shares,
            record,
        }
    }

    /// The chain's `WritePlan` says what the client decided, and never leaves an honest writer
    /// with Write unable to replace a key it cannot open.
    fn check_plan(
        &self,
        writer: Who,
        category: usize,
        holders: &KeyHoldersResponse,
        rotate: bool,
        opens: bool,
    ) {
        let plan: access::WritePlanResponse = self.query(&access::QueryMsg::WritePlan {
            patient_id: self.patient_id,
            category: CATEGORIES[category],
            writer: self.addr(writer).to_string(),
        });
        assert_eq!(plan.current_epoch, holders.epoch, "step {}", self.step);
        let step = self.step;
        assert!(
            rotate || !plan.rotate,
            "step {step}: the chain says {writer:?} must rotate {:?}: {plan:?}",
            CATEGORIES[category]
        );
        if self.model.may_write(writer, category) {
            assert!(
                !rotate || plan.rotate || (!opens && plan.may_rotate),
                "step {step}: {writer:?} must open a new {:?} epoch, but the chain would refuse \
                 it: {plan:?}\nmodel: {:#?}",
                CATEGORIES[category],
                self.model
            );
            assert_eq!(
                plan.may_rotate,
                self.model.may_rotate(writer, category),
                "step {step}: may {writer:?} rotate {:?}? {plan:?}",
                CATEGORIES[category]
            );
        } else {
            assert!(
                !plan.may_rotate,
                "step {step}: {writer:?} may not write: {plan:?}"
            );
        }
    }

    /// The model after an accepted write (`what` names the record version it wrote, if any),
    /// and the consent snapshot of that version.
    fn written(
        &mut self,
        writer: Who,
        built: &Built,
        what: Option<&str>,
        responses: &[AppResponse],
    ) {
        let Built {
            category,
            epoch,
            key,
            ..
        } = *built;
        if let Some(recipients) = &built.rotation {
            self.model.epoch[category] = epoch;
            let mut holders = recipients.clone();
            if writer != self.model.owner {
                holders.insert(writer);
                self.model.opener[category] = Some(writer);
            } else {
                self.model.opener[category] = None;
            }
            self.model.holders[category] = holders;
            self.stats.rotations += 1;
        }
        if built.rotation.is_some() || built.first_key {
            self.model.keys.insert((category, epoch), key);
            if let Some(shares) = &built.shares {
                self.model
                    .escrowed
                    .insert((category, epoch), shares.clone());
            }
        }
        self.learn(writer, category, epoch, key);
        let Some(what) = what else {
            return;
        };
        if built.record.is_none() {
            let response = responses.last().expect("the write's response");
            self.records.push(attribute_id(response, "record_id"));
        }
        self.version(what, category, epoch, key);
        self.stats.writes += 1;
        self.stats.owner_writes += u64::from(writer == self.model.owner);
    }

    fn version(&mut self, what: &str, category: usize, epoch: u32, key: u64) {
        let closed_to = READERS
            .into_iter()
            .filter(|who| !self.model.entitled(*who, category))
            .map(|who| (who, self.model.regains(who, category)))
            .collect();
        self.versions.push(Version {
            what: format!("step {}: {what}", self.step),
            category,
            epoch,
            key,
            closed_to,
        });
    }

    fn write(&mut self, writer: Writer, category: usize, record: Option<usize>, what: &str) {
        if !self.model.active {
            return;
        }
        let who = self.model.writer(writer);
        let (record, category) = match record {
            None => (None, category),
            Some(n) => {
                if self.records.is_empty() {
                    return;
                }
                let id = self.records[n % self.records.len()];
                (
                    Some(id),
                    index_of(self.suite.record(id).expect("record").category),
                )
            }
        };
        let built = self.build_write(who, category, record);
        let outcome = self.send(who, Some(Kind::Write), built.msgs.clone());
        let expected = self.model.may_write(who, category);
        self.expect(what, expected, &outcome);
        match outcome {
            Ok(responses) => self.written(who, &built, Some(what), &responses),
            Err(_) => self.stats.refused_writes += 1,
        }
    }

    fn concurrent(&mut self, first: Writer, second: Writer, record: usize) {
        if self.records.is_empty() || !self.model.active {
            return;
        }
        let id = self.records[record % self.records.len()];
        let category = index_of(self.suite.record(id).expect("record").category);
        let (first, second) = (self.model.writer(first), self.model.writer(second));
        let a = self.build_write(first, category, Some(id));
        let b = self.build_write(second, category, Some(id));
        let outcome = self.send(first, Some(Kind::Write), a.msgs.clone());
        self.expect(
            "the first of two updates",
            self.model.may_write(first, category),
            &outcome,
        );
        if outcome.is_err() {
            // Nothing changed: the second goes through as if alone.
            let outcome = self.send(second, Some(Kind::Write), b.msgs.clone());
            self.expect(
                "the second update",
                self.model.may_write(second, category),
                &outcome,
            );
            if let Ok(responses) = outcome {
                self.written(second, &b, Some("the second update"), &responses);
            }
            return;
        }
        let responses = outcome.expect("the first update went through");
        self.written(first, &a, Some("the first of two updates"), &responses);
        let raced = self.send(second, None, b.msgs);
        let err = raced.expect_err("an update based on a replaced version went through");
        if self.model.may_write(second, category) {
            let code = error_code::parse(&err).map(|coded| coded.code);
            assert!(
                matches!(
                    code,
                    Some(
                        ErrorCode::VersionConflict
                            | ErrorCode::WrongKeyEpoch
                            | ErrorCode::StaleKeyEpoch
                            | ErrorCode::EpochMismatch
                            | ErrorCode::RotationNotNeeded
                    )
                ),
                "step {}: the losing update was refused with {err}, not as a write race",
                self.step
            );
            self.stats.races += 1;
        }
        // Its client re-reads and sends once more: a race never blocks a writer for good.
        self.write_record_again(second, id);
    }

    fn write_record_again(&mut self, writer: Who, record: RecordId) {
        let category = index_of(self.suite.record(record).expect("record").category);
        let built = self.build_write(writer, category, Some(record));
        let outcome = self.send(writer, Some(Kind::Write), built.msgs.clone());
        let expected = self.model.may_write(writer, category);
        self.expect("the update sent again after the race", expected, &outcome);
        if let Ok(responses) = outcome {
            let what = "the update sent again after the race";
            self.written(writer, &built, Some(what), &responses);
        }
    }

    fn junk_rotation(
        &mut self,
        doctor: usize,
        category: usize,
        seed: u64,
        len: usize,
        write: bool,
    ) {
        let who = Who::Doctor(doctor);
        let id = self.patient_id;
        let cat = CATEGORIES[category];
        let epoch = self.key_holders(category).epoch + 1;
        let readers = self.suite.readers(id, cat);
        let recipients: BTreeSet<Who> = readers.iter().map(|r| self.who_is(r)).collect();
        let share_len = if len == ENVELOPE_LEN {
            SEALED_SHARE_LEN
        } else {
            len
        };
        let shares: Vec<Binary> = (0..TRUSTEES)
            .map(|t| junk(seed ^ (t as u64 + 1), share_len))
            .collect();
        let escrows = self.escrow_policy().escrowed.contains(&cat);
        let mut msgs = vec![self.access(&access::ExecuteMsg::RotateKey {
            patient_id: id,
            category: cat,
            epoch,
            own_envelope: junk(seed, len),
            envelopes: readers
                .iter()
                .enumerate()
                .map(|(n, reader)| RecipientEnvelope {
                    recipient: reader.to_string(),
                    envelope: junk(seed.wrapping_add(n as u64 + 7), len),
                })
                .collect(),
            escrow: if escrows {
                self.trustee_shares(&shares)
            } else {
                vec![]
            },
            escrow_key_commitment: escrows.then(|| COMMITMENT.into()),
        })];
        let key = self.fresh_key();
        self.blobs += 1;
        if write {
            let blob = blob_of(format!("junk {} {}", self.step, self.blobs).as_bytes());
            msgs.push(self.suite.wasm_msg(
                Target::Registry,
                &registry::ExecuteMsg::AddRecord {
                    patient_id: id,
                    category: cat,
                    epoch,
                    blob,
                },
            ));
        }
        let outcome = self.send(who, Some(Kind::Write), msgs);
        let expected = len == ENVELOPE_LEN && self.model.may_rotate(who, category);
        self.expect(&format!("a {len}-byte junk rotation"), expected, &outcome);
        if let Ok(responses) = outcome {
            self.stats.junk_accepted += 1;
            let built = Built {
                msgs: vec![],
                category,
                epoch,
                key,
                rotation: Some(recipients),
                first_key: false,
                shares: escrows.then_some(shares),
                record: None,
            };
            let what = write.then_some("a junk rotation's write");
            self.written(who, &built, what, &responses);
        }
    }

    // ---- the owner's other acts ------------------------------------------------------------

    /// The owner's client grants with envelopes of the current keys it can open (making the
    /// first key of epoch 0 when it may); a key it cannot open is not handed.
    fn grant(&mut self, doctor: usize, scope: Scope, mask: u8, expires: Option<u64>, what: &str) {
        let id = self.patient_id;
        let owner = self.model.owner;
        let mut msgs = Vec::new();
        let mut envelopes = Vec::new();
        let mut handed = Vec::new();
        let mut made = Vec::new();
        let escrowed = self.escrow_policy().escrowed;
        for category in categories_of(mask) {
            let c = index_of(category);
            let current = self.key_holders(c).epoch;
            let key = match self.key_of(owner, c, current) {
                Some(key) => Some(key),
                // The patient's first wallet made every epoch-0 key there is: one it does not
                // know is still to be made.
                None if current == 0 && self.model.generation == 0 => {
                    let key = self.fresh_key();
                    msgs.push(self.access(&access::ExecuteMsg::StoreOwnEnvelopes {
                        patient_id: id,
                        key_envelopes: vec![KeyEnvelope {
                            category,
                            epoch: 0,
                            envelope: envelope_of(key),
                        }],
                    }));
                    let shares: Vec<Binary> = (0..TRUSTEES).map(|t| share_of(key, t)).collect();
                    if escrowed.contains(&category) {
                        msgs.push(self.access(&access::ExecuteMsg::EscrowShares {
                            patient_id: id,
                            escrows: vec![EpochEscrow {
                                category,
                                epoch: 0,
                                shares: self.trustee_shares(&shares),
                                key_commitment: COMMITMENT.into(),
                            }],
                        }));
                    }
                    made.push((c, key, escrowed.contains(&category).then_some(shares)));
                    Some(key)
                }
                None => None,
            };
            if let Some(key) = key {
                envelopes.push(KeyEnvelope {
                    category,
                    epoch: current,
                    envelope: envelope_of(key),
                });
                handed.push(c);
            }
        }
        msgs.push(self.access(&access::ExecuteMsg::Grant {
            patient_id: id,
            grantee: self.addr(Who::Doctor(doctor)).to_string(),
            scope,
            categories: categories_of(mask),
            expires: expires.map(Timestamp::from_seconds),
            key_envelopes: envelopes,
        }));
        let outcome = self.send(owner, Some(Kind::OwnerOnly), msgs);
        let expected = self.model.active
            && self.model.credentialed[doctor]
            && expires.is_none_or(|expires| self.model.now < expires);
        self.expect(what, expected, &outcome);
        if outcome.is_ok() {
            self.model.grants[doctor] = Some(ModelGrant {
                scope,
                categories: mask,
                expires,
            });
            for (c, key, shares) in made {
                self.model.keys.insert((c, 0), key);
                self.learn(owner, c, 0, key);
                if let Some(shares) = shares {
                    self.model.escrowed.insert((c, 0), shares);
                }
            }
            for c in handed {
                self.model.holders[c].insert(Who::Doctor(doctor));
            }
        }
    }

    /// The owner escrows: its policy and the shares of every key it can open.
    fn escrow(&mut self, recovery: bool) {
        if self.model.escrow.is_some() {
            return;
        }
        let owner = self.model.owner;
        let mut escrows = Vec::new();
        let mut made = Vec::new();
        for (c, category) in CATEGORIES.into_iter().enumerate() {
            let escrowed = recovery || EMERGENCY & (1 << c) != 0;
            for epoch in 0..=self.key_holders(c).epoch {
                let Some(key) = self.key_of(owner, c, epoch).filter(|_| escrowed) else {
                    continue;
                };
                let shares: Vec<Binary> = (0..TRUSTEES).map(|t| share_of(key, t)).collect();
                escrows.push(EpochEscrow {
                    category,
                    epoch,
                    shares: self.trustee_shares(&shares),
                    key_commitment: COMMITMENT.into(),
                });
                made.push(((c, epoch), shares));
            }
        }
        let mut msgs = vec![self.access(&access::ExecuteMsg::SetEscrowPolicy {
            patient_id: self.patient_id,
            categories: categories_of(EMERGENCY),
            recovery,
        })];
        for chunk in escrows.chunks(ehr_types::escrow::MAX_ESCROWS_PER_MESSAGE) {
            msgs.push(self.access(&access::ExecuteMsg::EscrowShares {
                patient_id: self.patient_id,
                escrows: chunk.to_vec(),
            }));
        }
        let outcome = self.send(owner, Some(Kind::OwnerOnly), msgs);
        self.expect("escrow", self.model.active, &outcome);
        if outcome.is_ok() {
            self.model.escrow = Some(recovery);
            self.model.escrowed.extend(made);
        }
    }

    // ---- trustees ----------------------------------------------------------------------------

    fn release(&mut self, doctor: usize, trustees: &[usize]) {
        for &trustee in trustees {
            let slots = self.model.emergency_shares(trustee, doctor);
            if slots.is_empty() {
                continue;
            }
            let shares: Vec<ReleasedShare> = slots
                .iter()
                .map(|&(category, epoch)| ReleasedShare {
                    category: CATEGORIES[category],
                    epoch,
                    share: self.model.escrowed[&(category, epoch)][trustee].clone(),
                })
                .collect();
            let msgs = shares
                .chunks(ehr_types::escrow::MAX_RELEASES_PER_MESSAGE)
                .map(|chunk| {
                    self.access(&access::ExecuteMsg::ReleaseShares {
                        patient_id: self.patient_id,
                        doctor: self.addr(Who::Doctor(doctor)).to_string(),
                        shares: chunk.to_vec(),
                    })
                })
                .collect();
            let outcome = self.send(Who::Trustee(trustee), Some(Kind::TrusteeOnly), msgs);
            let since = self.model.serving_since(doctor);
            let expected = self.model.active && self.model.credentialed[doctor] && since.is_some();
            self.expect(&format!("trustee{trustee}'s release"), expected, &outcome);
            if outcome.is_ok() {
                self.stats.releases += 1;
                let since = since.expect("an open window");
                for (category, epoch) in slots {
                    let by = self
                        .model
                        .released
                        .entry((doctor, category, epoch))
                        .or_default();
                    by.insert(trustee, since);
                    if by.len() >= THRESHOLD && epoch == self.model.epoch[category] {
                        self.model.holders[category].insert(Who::Doctor(doctor));
                    }
                }
            }
        }
    }

    fn rogue_release(&mut self, trustee: usize, doctor: usize) {
        let imaging = index_of(Category::Imaging);
        let epoch = self.model.epoch[imaging];
        let msg = self.access(&access::ExecuteMsg::ReleaseShares {
            patient_id: self.patient_id,
            doctor: self.addr(Who::Doctor(doctor)).to_string(),
            shares: vec![ReleasedShare {
                category: Category::Imaging,
                epoch,
                share: self
                    .model
                    .escrowed
                    .get(&(imaging, epoch))
                    .map(|shares| shares[trustee].clone())
                    .unwrap_or_else(|| junk(epoch.into(), SEALED_SHARE_LEN)),
            }],
        });
        let outcome = self.send(Who::Trustee(trustee), None, vec![msg]);
        self.expect(
            "a release of Imaging, which no window opens",
            false,
            &outcome,
        );
    }

    fn release_recovery(&mut self, trustee: usize) {
        let slots = self.model.recovery_shares(trustee);
        if slots.is_empty() {
            return;
        }
        let shares: Vec<ReleasedShare> = slots
            .iter()
            .map(|&(category, epoch)| ReleasedShare {
                category: CATEGORIES[category],
                epoch,
                share: self.model.escrowed[&(category, epoch)][trustee].clone(),
            })
            .collect();
        let msgs = shares
            .chunks(ehr_types::escrow::MAX_RELEASES_PER_MESSAGE)
            .map(|chunk| {
                self.access(&access::ExecuteMsg::ReleaseRecoveryShares {
                    patient_id: self.patient_id,
                    shares: chunk.to_vec(),
                })
            })
            .collect();
        let outcome = self.send(Who::Trustee(trustee), Some(Kind::TrusteeOnly), msgs);
        let expected = self.model.active
            && self
                .model
                .completed
                .as_ref()
                .is_some_and(|completed| completed.new_owner == self.model.owner);
        self.expect(
            &format!("trustee{trustee}'s release to the recovered owner"),
            expected,
            &outcome,
        );
        if outcome.is_ok() {
            let completed = self.model.completed.as_mut().expect("a completed recovery");
            completed.released_by.insert(trustee);
            for (category, epoch) in slots {
                completed.released.insert((trustee, category, epoch));
            }
        }
    }

    fn request_recovery(&mut self, by: Who) {
        let msg = self.access(&access::ExecuteMsg::RequestRecovery {
            patient_id: self.patient_id,
            encryption_key: sample_public_key(40 + who_index(by)),
        });
        let outcome = self.send(by, None, vec![msg]);
        let expected = self.model.active
            && self.model.escrow == Some(true)
            && by != self.model.owner
            && !self.model.releases_pending();
        self.expect(&format!("{by:?}'s recovery request"), expected, &outcome);
        if outcome.is_ok() {
            self.model.request = Some(Request::Pending {
                requester: by,
                not_before: self.model.now + RECOVERY_WAIT_SECONDS,
                approvals: vec![],
            });
        }
    }

    fn approve_recovery(&mut self, trustee: usize, check: IdentityCheck) {
        let msg = self.access(&access::ExecuteMsg::ApproveRecovery {
            patient_id: self.patient_id,
            identity_check: check,
        });
        let outcome = self.send(Who::Trustee(trustee), Some(Kind::TrusteeOnly), msg_vec(msg));
        let expected = match &self.model.request {
            Some(Request::Pending {
                not_before,
                approvals,
                ..
            }) => {
                self.model.active
                    && self.model.now >= *not_before
                    && self.model.escrow == Some(true)
                    && !approvals.contains(&trustee)
            }
            _ => false,
        };
        self.expect(&format!("trustee{trustee}'s approval"), expected, &outcome);
        if outcome.is_err() {
            return;
        }
        let Some(Request::Pending {
            requester,
            approvals,
            ..
        }) = &mut self.model.request
        else {
            unreachable!("an approval of a pending request");
        };
        approvals.push(trustee);
        if approvals.len() < THRESHOLD {
            return;
        }
        let (new_owner, former) = (*requester, self.model.owner);
        self.model.request = Some(Request::Completed);
        self.model.completed = Some(Completed {
            new_owner,
            decided_at: self.model.now,
            released_by: BTreeSet::new(),
            released: BTreeSet::new(),
        });
        self.model.owner = new_owner;
        self.model.generation += 1;
        // The former owner holds every current key; the new one's own envelopes start empty.
        for holders in &mut self.model.holders {
            holders.insert(former);
            holders.remove(&new_owner);
        }
        self.stats.recoveries += 1;
    }

    fn cancel_recovery(&mut self) {
        let msg = self.access(&access::ExecuteMsg::CancelRecovery {
            patient_id: self.patient_id,
        });
        let outcome = self.send(self.model.owner, Some(Kind::OwnerOnly), msg_vec(msg));
        let expected =
            self.model.active && matches!(self.model.request, Some(Request::Pending { .. }));
        self.expect("the owner's cancel", expected, &outcome);
        if outcome.is_ok() {
            self.model.request = Some(Request::Cancelled);
        }
    }

    fn replay(&mut self, index: usize, by: Who) {
        if self.sent.is_empty() {
            return;
        }
        let sent = &self.sent[index % self.sent.len()];
        let authorized = match sent.kind {
            Kind::Write => false,
            Kind::OwnerOnly => by == self.model.owner,
            Kind::TrusteeOnly => matches!(by, Who::Trustee(_)),
        };
        // The owner's or a trustee's own act again is no replay attack.
        if authorized {
            return;
        }
        let (kind, msgs) = (sent.kind, sent.msgs.clone());
        let outcome = self.send(by, None, msgs);
        self.expect(
            &format!("{by:?} re-sending a {kind:?} transaction"),
            false,
            &outcome,
        );
        self.stats.replays_refused += 1;
    }

    fn impostor(&mut self, by: Who, act: u8) {
        if by == self.model.owner {
            return;
        }
        let id = self.patient_id;
        let sender = self.addr(by);
        let doctor = self.addr(Who::Doctor(0)).to_string();
        let msg = match act {
            0 => self.access(&access::ExecuteMsg::Grant {
                patient_id: id,
                grantee: if matches!(by, Who::Doctor(_)) {
                    sender.to_string()
                } else {
                    doctor
                },
                scope: Scope::Manage,
                categories: CATEGORIES.to_vec(),
                expires: None,
                key_envelopes: vec![],
            }),
            1 => self.access(&access::ExecuteMsg::Revoke {
                patient_id: id,
                grantee: doctor,
            }),
            2 => self.access(&end_emergency(id, &doctor)),
            3 => self.access(&access::ExecuteMsg::SetEscrowPolicy {
                patient_id: id,
                categories: vec![],
                recovery: false,
            }),
            4 => self.access(&access::ExecuteMsg::CancelRecovery { patient_id: id }),
            5 => self.access(&access::ExecuteMsg::StoreOwnEnvelopes {
                patient_id: id,
                key_envelopes: vec![KeyEnvelope {
                    category: Category::Lab,
                    epoch: self.model.epoch[0],
                    envelope: envelope_of(0),
                }],
            }),
            6 => self.suite.wasm_msg(
                Target::Registry,
                &registry::ExecuteMsg::TransferPatient {
                    patient_id: id,
                    new_owner: sender.to_string(),
                    encryption_key: sample_public_key(99),
                },
            ),
            _ => self.access(&access::ExecuteMsg::LogActions {
                patient_id: id,
                actor: sender.to_string(),
                actions: vec![AuditAction::PatientDeleted {}],
            }),
        };
        let outcome = self.send(by, None, vec![msg]);
        self.expect(
            &format!("{by:?} acting as the owner ({act})"),
            false,
            &outcome,
        );
    }

    // ---- one step and the checks after it ----------------------------------------------------

    /// The `n`-th (modulo) category a doctor may write, or `n` when it may write none.
    fn aim(&self, writer: Writer, n: usize) -> usize {
        let who = self.model.writer(writer);
        let writable: Vec<usize> = (0..CATEGORY_COUNT)
            .filter(|&category| self.model.may_write(who, category))
            .collect();
        if writable.is_empty() {
            n
        } else {
            writable[n % writable.len()]
        }
    }

    fn apply(&mut self, step: &Step) {
        let what = format!("{step:?}");
        match *step {
            Step::Grant {
                doctor,
                scope,
                categories,
                expires_in,
            } => {
                let expires = expires_in.map(|seconds| self.model.now + seconds);
                self.grant(doctor, scope, categories, expires, &what);
            }
            Step::Narrow { doctor, keep } => {
                if let Some(old) = self.model.grants[doctor] {
                    let mut narrower = old.categories & keep;
                    if narrower == 0 || narrower == old.categories {
                        narrower = old.categories & (old.categories - 1);
                    }
                    if narrower != 0 {
                        self.grant(doctor, old.scope, narrower, old.expires, &what);
                    }
                }
            }
            Step::Revoke { doctor } => {
                let msg = self.access(&access::ExecuteMsg::Revoke {
                    patient_id: self.patient_id,
                    grantee: self.addr(Who::Doctor(doctor)).to_string(),
                });
                let outcome = self.send(self.model.owner, Some(Kind::OwnerOnly), msg_vec(msg));
                let expected = self.model.active && self.model.grants[doctor].is_some();
                self.expect(&what, expected, &outcome);
                if outcome.is_ok() {
                    self.model.grants[doctor] = None;
                }
            }
            Step::Advance { seconds } => {
                self.suite.advance_time(seconds);
                self.model.now += seconds;
            }
            Step::Decredential { doctor } | Step::Recredential { doctor } => {
                let withdraw = matches!(step, Step::Decredential { .. });
                let address = self.addr(Who::Doctor(doctor));
                let msg = if withdraw {
                    registry::ExecuteMsg::RevokeProvider {
                        address: address.to_string(),
                    }
                } else {
                    credential_msg(&address)
                };
                let admin = self.suite.admin.clone();
                let outcome = self
                    .suite
                    .execute(&admin, Target::Registry, &msg)
                    .map(drop)
                    .map_err(|err| error_text(&err));
                self.expect(&what, self.model.credentialed[doctor] == withdraw, &outcome);
                if outcome.is_ok() {
                    self.model.credentialed[doctor] = !withdraw;
                }
            }
            Step::Write {
                writer,
                category,
                aimed,
            } => {
                let category = if aimed {
                    self.aim(writer, category)
                } else {
                    category
                };
                self.write(writer, category, None, &what);
            }
            Step::Update { writer, record } => self.write(writer, 0, Some(record), &what),
            Step::Concurrent {
                first,
                second,
                record,
            } => self.concurrent(first, second, record),
            Step::JunkRotation {
                doctor,
                category,
                aimed,
                seed,
                len,
                write,
            } => {
                let category = if aimed {
                    self.aim(Writer::Doctor(doctor), category)
                } else {
                    category
                };
                self.junk_rotation(doctor, category, seed, len, write);
            }
            Step::Emergency {
                doctor,
                ref trustees,
            } => {
                let msg = self.access(&access::ExecuteMsg::EmergencyAccess {
                    patient_id: self.patient_id,
                    reason: EmergencyReason::IncapablePatient {},
                });
                let outcome = self.send(Who::Doctor(doctor), None, msg_vec(msg));
                // One declaration per window length, even after the owner ended the last one.
                let expected = self.model.active
                    && self.model.credentialed[doctor]
                    && self.model.windows[doctor]
                        .is_none_or(|window| self.model.now >= window.expires);
                self.expect(&what, expected, &outcome);
                if outcome.is_ok() {
                    self.model.windows[doctor] = Some(Window {
                        started: self.model.now,
                        expires: self.model.now + WINDOW_SECONDS,
                        ended: false,
                    });
                    self.release(doctor, trustees);
                }
            }
            Step::Release {
                doctor,
                ref trustees,
            } => self.release(doctor, trustees),
            Step::RogueRelease { trustee, doctor } => self.rogue_release(trustee, doctor),
            Step::EndEmergency { doctor } => {
                let doctor_addr = self.addr(Who::Doctor(doctor)).to_string();
                let msg = self.access(&end_emergency(self.patient_id, &doctor_addr));
                let outcome = self.send(self.model.owner, Some(Kind::OwnerOnly), msg_vec(msg));
                let expected = self.model.active && self.model.window_open(doctor);
                self.expect(&what, expected, &outcome);
                if outcome.is_ok() {
                    if let Some(window) = &mut self.model.windows[doctor] {
                        window.ended = true;
                    }
                }
            }
            Step::Escrow { recovery } => self.escrow(recovery),
            Step::RequestRecovery { by } => self.request_recovery(by),
            Step::RecoveryAttempt { by, ref approvals } => {
                self.request_recovery(by);
                self.suite.advance_time(RECOVERY_WAIT_SECONDS);
                self.model.now += RECOVERY_WAIT_SECONDS;
                for &(trustee, check) in approvals {
                    let owner_before = self.model.owner;
                    self.approve_recovery(trustee, check);
                    if self.model.owner != owner_before {
                        break;
                    }
                }
            }
            Step::ApproveRecovery { trustee, check } => self.approve_recovery(trustee, check),
            Step::ReleaseRecovery { trustee } => self.release_recovery(trustee),
            Step::CancelRecovery => self.cancel_recovery(),
            Step::Replay { index, by } => self.replay(index, by),
            Step::Impostor { by, act } => self.impostor(by, act),
            Step::DeletePatient => {
                let msg = self.suite.wasm_msg(
                    Target::Registry,
                    &registry::ExecuteMsg::DeletePatient {
                        patient_id: self.patient_id,
                    },
                );
                let outcome = self.send(self.model.owner, None, vec![msg]);
                self.expect(&what, self.model.active, &outcome);
                if outcome.is_ok() {
                    self.model.active = false;
                }
            }
        }
        self.model.settle();
    }

    /// The patient's owner is the model's, and a change of owner in this step was the k-th
    /// approval of the new owner's request, each approval with an identity check.
    fn check_ownership(&self, owner_before: &Addr, step: &Step) {
        let owner = self.suite.patient(self.patient_id).expect("patient").owner;
        assert_eq!(
            self.who_is(&owner),
            self.model.owner,
            "step {}: the chain's owner is not the model's",
            self.step
        );
        if owner == *owner_before {
            return;
        }
        assert!(
            matches!(
                step,
                Step::ApproveRecovery { .. } | Step::RecoveryAttempt { .. }
            ),
            "step {}: the owner changed by {step:?}",
            self.step
        );
        let log = self.audit_log();
        let requested = log
            .iter()
            .rposition(|entry| {
                matches!(&entry.action, AuditAction::RecoveryRequested { new_owner, .. } if *new_owner == owner)
            })
            .expect("the new owner's request is in the audit log");
        let mut approvers = BTreeSet::new();
        for entry in &log[requested..] {
            if let AuditAction::RecoveryApproved { new_owner, .. } = &entry.action {
                assert_eq!(*new_owner, owner, "step {}", self.step);
                assert!(
                    matches!(self.who_is(&entry.actor), Who::Trustee(_)),
                    "step {}: {} approved a recovery",
                    self.step,
                    entry.actor
                );
                assert!(
                    approval_check(&entry.action),
                    "step {}: an approval without an identity check",
                    self.step
                );
                approvers.insert(entry.actor.clone());
            }
        }
        assert!(
            approvers.len() >= THRESHOLD,
            "step {}: the patient moved on {} approvals",
            self.step,
            approvers.len()
        );
    }

    fn audit_log(&self) -> Vec<AuditEntry> {
        let mut entries: Vec<AuditEntry> = Vec::new();
        loop {
            let page: access::AuditLogResponse = self.query(&access::QueryMsg::AuditLog {
                patient_id: self.patient_id,
                start_after: entries.last().map(|entry| entry.seq),
                limit: Some(100),
            });
            if page.entries.is_empty() {
                return entries;
            }
            entries.extend(page.entries);
        }
    }

    /// Consent: nobody can get the key of a version written while it could not read it.
    fn check_consent(&mut self) {
        let reachable: BTreeMap<Who, BTreeSet<u64>> = READERS
            .into_iter()
            .map(|who| (who, self.reachable(who)))
            .collect();
        let mut checks = 0;
        for version in &self.versions {
            for &(who, regains) in &version.closed_to {
                if self.model.regains(who, version.category) != regains {
                    continue;
                }
                checks += 1;
                assert!(
                    !reachable[&who].contains(&version.key),
                    "step {}: {who:?} holds or can fetch the key of {:?} epoch {} of {} \
                     (written while it could not read {:?})\nmodel: {:#?}",
                    self.step,
                    CATEGORIES[version.category],
                    version.epoch,
                    version.what,
                    CATEGORIES[version.category],
                    self.model
                );
            }
        }
        self.stats.closed_checks += checks;
    }
}

fn msg_vec(msg: CosmosMsg) -> Vec<CosmosMsg> {
    vec![msg]
}

fn end_emergency(patient_id: PatientId, doctor: &str) -> access::ExecuteMsg {
    access::ExecuteMsg::EndEmergency {
        patient_id,
        doctor: doctor.to_string(),
    }
}

fn approval_check(action: &AuditAction) -> bool {
    matches!(
        action,
        AuditAction::RecoveryApproved {
            identity_check: Some(_),
            ..
        }
    )
}

fn run(steps: &[Step]) {
    let mut world = World::new();
    for (n, step) in steps.iter().enumerate() {
        world.step = n;
        let owner_before = world
            .suite
            .patient(world.patient_id)
            .expect("patient")
            .owner;
        world.apply(step);
        world.refresh();
        world.check_ownership(&owner_before, step);
        world.check_consent();
    }
    if std::env::var_os("ADVERSARIAL_STATS").is_some() {
        eprintln!("{:?}", world.stats);
    }
}

/// 64 cases by default (seconds in a debug build); `PROPTEST_CASES` runs more.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(64)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        max_shrink_iters: 512,
        ..ProptestConfig::default()
    })]

    #[test]
    fn no_misbehaviour_breaks_consent_liveness_or_ownership(steps in steps()) {
        run(&steps);
    }
}
