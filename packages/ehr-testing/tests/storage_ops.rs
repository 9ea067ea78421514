//! No execute path iterates over state: the storage operations of a write are the same with few
//! or many records stored (counts, not timings).

use ehr_testing::storage_ops::RegistryOpsBench;

#[test]
fn record_writes_cost_the_same_storage_operations_at_any_state_size() {
    let mut bench = RegistryOpsBench::new();
    let (patient, doctor) = (bench.patient.clone(), bench.doctor.clone());
    let mut figures = Vec::new();
    for (step, size) in [10u64, 2_000].into_iter().enumerate() {
        bench.fill_to(size);
        let mut at_size = Vec::new();
        for (offset, author) in [&patient, &doctor].into_iter().enumerate() {
            let seed = (step * 2 + offset) as u64;
            let (add, record_id) = bench.add_record_ops(author, seed);
            let update = bench.update_record_ops(author, record_id, seed);
            assert!(
                add.writes > 0 && update.writes > 0,
                "the counter sees the writes"
            );
            at_size.push((add, update));
        }
        figures.push(at_size);
    }
    assert_eq!(
        figures[0], figures[1],
        "storage operations grew with the state"
    );
    let (add, _) = figures[0][0];
    assert_eq!((add.scans, add.scanned), (0, 0), "AddRecord scans nothing");
}
