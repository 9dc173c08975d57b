//! A lost turn, as a PostgreSQL turn whose lease ran out before it committed: a batch applied
//! in it wrote nothing, so no receipt may leave for it (nor for a retry answered from it), and
//! nothing the archive learnt from it may shape a later batch.

use super::*;

#[test]
fn no_receipt_leaves_for_a_batch_whose_turn_was_lost() {
    let (shared, p, q) = two();
    assert_eq!(file(&p, "01-05", 1_700_000_000), 1);
    // P's batch of numbers 2–3 is lost with its turn; Q then files 2–4 at its positions.
    *shared.lose.lock().unwrap() = Some(0);
    let (n, lost) = append(&p, "01-05", 1_700_000_000, 2);
    assert_eq!(n, 3);
    // (Another document: were Q's entries byte for byte P's, P's would be stored.)
    let (_, q_upto) = append(&q, "01-05", 1_700_000_001, 3);
    q.make_durable(q_upto).unwrap();
    // Another filing of P's reads the stored head again, and is made durable with Q's.
    assert_eq!(file(&p, "01-05", 1_700_000_000), 5);
    // The lost batch's size is durable now, but its entries are Q's: no receipt for it.
    let refused = p.make_durable(lost);
    assert!(
        matches!(refused, Err(ArchiveError::Store(StoreError::Unwritable(_)))),
        "{refused:?}"
    );
}

/// P's first thread waits in its sync (`wait`) for a batch whose turn was lost, while P's
/// second thread begins the turn that reports the loss (and lets syncs succeed again) and has
/// not read the head again yet: the first must not be told its batch is durable.
fn a_loss_reported_to_another_thread(
    count_at_drop: bool,
    wait: impl Fn(&Archive, Upto) -> Result<(), ArchiveError> + Sync,
) {
    let (shared, p, q) = two();
    shared.count_at_drop.store(count_at_drop, Ordering::SeqCst);
    assert_eq!(file(&p, "01-05", 1_700_000_000), 1);
    *shared.lose.lock().unwrap() = Some(0);
    let (_, lost) = append(&p, "01-05", 1_700_000_000, 2);
    let (in_sync, sync_go) = Gate::set(&shared.sync_gate, 0);
    std::thread::scope(|s| {
        let first = s.spawn(|| wait(&p, lost));
        // It signed its checkpoint in the lost turn too, and waits in the sync.
        in_sync.recv().unwrap();
        // Q files at the lost positions (another document: were Q's entries byte for byte
        // P's, P's would be stored).
        let (_, q_upto) = append(&q, "01-05", 1_700_000_001, 3);
        q.make_durable(q_upto).unwrap();
        let (begun, begin_go) = Gate::set(&shared.begin_gate, 0);
        let second = s.spawn(|| file(&p, "01-05", 1_700_000_000));
        begun.recv().unwrap();
        sync_go.send(()).unwrap();
        let refused = first.join().unwrap();
        assert!(
            matches!(refused, Err(ArchiveError::Store(StoreError::Unwritable(_)))),
            "{refused:?}"
        );
        // What P knows durable stays below the lost head when the sync saw the loss: were it
        // 3, a stored head of 1 or 2 would read as damage.
        if !count_at_drop {
            assert_eq!(lock(&p.commit).durable, 1);
        }
        begin_go.send(()).unwrap();
        assert_eq!(second.join().unwrap(), 5);
    });
    audit::verify(&p, true, &mut |_, _| {}).unwrap();
}

#[test]
fn no_receipt_leaves_for_a_lost_batch_whose_loss_another_thread_reported() {
    a_loss_reported_to_another_thread(false, Archive::make_durable);
}

#[test]
fn no_receipt_leaves_for_a_lost_batch_whose_loss_was_counted_before_the_sync() {
    a_loss_reported_to_another_thread(true, Archive::make_durable);
}

#[test]
fn a_sync_of_everything_during_which_a_turn_was_lost_fails() {
    // (A bare size has no entry of its own to compare: a loss during its sync fails it.)
    a_loss_reported_to_another_thread(false, |p, _| p.sync_now());
}

#[test]
fn no_receipt_leaves_for_a_retry_answered_from_a_batch_whose_turn_was_lost() {
    let (shared, p, q) = two();
    assert_eq!(file(&p, "01-05", 1_700_000_000), 1);
    // P files a document with its receipt; the turn is lost (the primary died before it
    // committed), but P still answers from the batch until its next turn.
    *shared.lose.lock().unwrap() = Some(0);
    p.append(|txn| {
        txn.next_number(&counter_key("01-05"))?;
        txn.push(
            log::Event::Review {
                case: "01-05".into(),
                decision: "keep".into(),
                by: "lost".into(),
            },
            1_700_000_000,
        );
        txn.put_receipt("lost", b"the lost filing's receipt".to_vec());
        Ok(())
    })
    .unwrap();
    // The sender's retry at P finds the receipt, and the stored head it stands on.
    let receipt = p.receipt("lost").unwrap().unwrap();
    let stored = Upto::size(p.stored_head().unwrap().0);
    assert_eq!(stored.size, 2);
    // Q and P file at its position: the size the retry waits for is durable, with their
    // entries.
    assert_eq!(file(&q, "01-05", 1_700_000_001), 2);
    assert_eq!(file(&p, "01-05", 1_700_000_002), 3);
    assert_eq!(p.receipt("lost").unwrap(), None);
    let refused = p.make_read_receipt_durable(stored, "lost", &receipt);
    assert!(
        matches!(refused, Err(ArchiveError::Store(StoreError::Unwritable(_)))),
        "{refused:?}"
    );
    // A receipt that is stored is answered.
    let (_, kept) = p
        .append(|txn| {
            txn.put_receipt("kept", b"a kept filing's receipt".to_vec());
            Ok(())
        })
        .unwrap();
    let receipt = p.receipt("kept").unwrap().unwrap();
    p.make_read_receipt_durable(kept, "kept", &receipt).unwrap();
    // What `GET /v1/receipts/{id}` shows: the kept one, and nothing for the lost one.
    assert_eq!(p.durable_receipt("kept").unwrap(), Some(receipt));
    assert_eq!(p.durable_receipt("lost").unwrap(), None);
}

#[test]
fn a_batch_kept_before_another_process_wrote_is_still_made_durable() {
    let (_shared, p, q) = two();
    let (_, mine) = append(&p, "01-05", 1_700_000_000, 2);
    assert_eq!(file(&q, "01-05", 1_700_000_000), 3);
    // P reads the head again (a new epoch) before its first batch is durable: the entry at
    // its last position is its own, so its receipt leaves.
    assert_eq!(file(&p, "01-05", 1_700_000_000), 4);
    p.make_durable(mine).unwrap();
    // A batch that wrote but appended no entry has nothing to compare after a reload: refused.
    let (_, empty) = p
        .append(|txn| {
            txn.put(Space::Index, b"test/x".to_vec(), b"y".to_vec());
            Ok(())
        })
        .unwrap();
    assert_eq!(file(&q, "01-05", 1_700_000_000), 5);
    assert_eq!(file(&p, "01-05", 1_700_000_000), 6);
    assert!(p.make_durable(empty).is_err());
}

#[test]
fn a_lost_turn_leaves_memory_ahead_of_the_store_without_damage() {
    let (shared, p, q) = two();
    assert_eq!(file(&p, "01-05", 1_700_000_000), 1);
    // P's memory says 3 entries, the store keeps 1, then Q's 1: 2 < 3, but not below the 1
    // P knows durable.
    *shared.lose.lock().unwrap() = Some(0);
    append(&p, "01-05", 1_700_000_000, 2);
    assert_eq!(file(&q, "01-05", 1_700_000_000), 2);
    assert_eq!(file(&p, "01-05", 1_700_000_000), 3);
    assert_eq!(p.size(), 3);
    audit::verify(&p, true, &mut |_, _| {}).unwrap();
    // Below what P made durable, the store lost what it had kept: damaged.
    let raw = p.raw_store().get(Space::Index, HEAD_KEY).unwrap().unwrap();
    let mut head = decode_head(&raw).unwrap();
    head.size = 1;
    let mut map = shared.map.lock().unwrap();
    map.insert(
        (Space::Index.prefix(), HEAD_KEY.to_vec()),
        encode_head(&head),
    );
    drop(map);
    shared.generation.fetch_add(1, Ordering::SeqCst);
    assert!(matches!(
        p.append(|_| Ok(())),
        Err(ArchiveError::Damaged(_))
    ));
}

/// Appends one entry in case 01-05 with the receipt `n` signed by `a`'s service key.
fn file_receipt(a: &Archive, n: u64) -> (String, Vec<u8>, Upto) {
    let der = crate::archive::receipts::tests::receipt(a.signer(), "Org", n);
    let id = format!("{n:032x}");
    let ((), upto) = a
        .append(|txn| {
            txn.push(
                log::Event::Review {
                    case: "01-05".into(),
                    decision: "keep".into(),
                    by: format!("receipt {n}"),
                },
                1_700_000_000,
            );
            txn.put_receipt(&id, der.clone());
            Ok(())
        })
        .unwrap();
    (id, der, upto)
}

/// Q files, then P, whose turn reads the head again, and P syncs: the principals of the
/// access log as stored.
fn principals_once_both_filed(p: &Archive, q: &Archive) -> Vec<Option<String>> {
    assert_eq!(file(q, "02-01", 1_700_000_000), 1);
    assert_eq!(file(p, "01-05", 1_700_000_000), 1);
    p.sync_now().unwrap();
    let records = q.access_records(0, 10).unwrap();
    records.into_iter().map(|r| r.principal).collect()
}

#[test]
fn a_receipt_dictionary_lost_with_its_turn_is_written_again() {
    let (shared, p, q) = two();
    // P's first receipt writes the dictionary, in a batch lost with its turn.
    *shared.lose.lock().unwrap() = Some(0);
    let (_, _, lost) = file_receipt(&p, 1);
    // Q writes meanwhile; P's next turn reads the stored head again.
    assert_eq!(file(&q, "02-01", 1_700_000_000), 1);
    let (id, der, upto) = file_receipt(&p, 2);
    p.make_durable(upto).unwrap();
    assert!(p.make_durable(lost).is_err());
    // The receipt names a dictionary the store holds: every reader reads it back.
    assert_eq!(p.receipt(&id).unwrap(), Some(der.clone()));
    assert_eq!(q.receipt(&id).unwrap(), Some(der));
    audit::verify(&q, true, &mut |_, _| {}).unwrap();
}

#[test]
fn a_dictionary_from_a_durable_batch_is_not_read_again_after_another_process_wrote() {
    let (shared, p, q) = two();
    let (_, _, upto) = file_receipt(&p, 1);
    p.make_durable(upto).unwrap();
    assert_eq!(file(&q, "02-01", 1_700_000_000), 1);
    // P reads its head again: the dictionary, written by a batch P made durable, stays known
    // (no read of it for the next receipt).
    let key = {
        let map = shared.map.lock().unwrap();
        map.keys()
            .find(|(s, k)| *s == Space::Receipts.prefix() && receipts::is_dictionary_key(k))
            .map(|(_, k)| k.clone())
            .unwrap()
    };
    let (_, _, upto) = file_receipt(&p, 2);
    p.make_durable(upto).unwrap();
    assert!(p.receipt_dictionaries.holds(&key));
}

#[test]
fn access_records_lost_with_their_turn_are_written_again() {
    let (shared, p, q) = two();
    q.record_access(access(1), 1_700_000_000).unwrap();
    q.sync_now().unwrap();
    // P's record is written in a batch lost with its turn; Q writes meanwhile.
    p.record_access(access(2), 1_700_000_000).unwrap();
    *shared.lose.lock().unwrap() = Some(0);
    p.flush_access().unwrap();
    // P's next turn reads the head again and finds its record missing: written again.
    let principals = principals_once_both_filed(&p, &q);
    assert_eq!(principals, [Some("p1".into()), Some("p2".into())]);
    let (size, head) = q.stored_access_head().unwrap();
    assert_eq!(access::chain_head(&q, size).unwrap(), head);
    audit::verify(&q, true, &mut |_, _| {}).unwrap();
}

#[test]
fn access_records_are_kept_in_memory_only_until_a_sync_covers_them() {
    let (_shared, p, _q) = two();
    p.record_access(access(1), 1_700_000_000).unwrap();
    p.flush_access().unwrap();
    assert_eq!(lock(&p.access).unsure(), 1);
    p.sync_now().unwrap();
    assert_eq!(lock(&p.access).unsure(), 0);
}

#[test]
fn records_of_a_kept_turn_are_not_written_again_when_a_later_turn_is_lost() {
    let (shared, p, q) = two();
    // p1 is written in a turn that is kept, p2 in one that is lost; neither is synced yet.
    p.record_access(access(1), 1_700_000_000).unwrap();
    p.flush_access().unwrap();
    p.record_access(access(2), 1_700_000_000).unwrap();
    *shared.lose.lock().unwrap() = Some(0);
    p.flush_access().unwrap();
    // P's next turn reads the head again: p2 is written again, p1 is not.
    let principals = principals_once_both_filed(&p, &q);
    assert_eq!(principals, [Some("p1".into()), Some("p2".into())]);
    audit::verify(&q, true, &mut |_, _| {}).unwrap();
}

/// `GET /v1/documents/{regno}` at P, answered from a batch whose turn was lost: the number and
/// position it read are then Q's filing's, so P must not show what it read.
#[test]
fn no_document_is_shown_from_a_batch_whose_turn_was_lost() {
    let (shared, p, q) = two();
    assert_eq!(file(&p, "01-05", 1_700_000_000), 1);
    *shared.lose.lock().unwrap() = Some(0);
    let register = |a: &Archive, by: &str, at: i64| {
        a.append(|txn| {
            let n = txn.next_number(&counter_key("01-05"))?;
            txn.register(&format!("01-05/{n}"));
            let event = log::Event::Review {
                case: "01-05".into(),
                decision: "keep".into(),
                by: by.into(),
            };
            txn.push(event, at);
            Ok(())
        })
        .unwrap()
    };
    register(&p, "lost", 1_700_000_000);
    // A reader at P finds 01-05/2 in the lost batch.
    let index = p.regno_entry("01-05/2").unwrap().unwrap();
    let bytes = p.entry_bytes(index).unwrap().unwrap();
    // Q files its own 01-05/2 at that position, and P files on.
    let ((), q_upto) = register(&q, "Q's", 1_700_000_001);
    q.make_durable(q_upto).unwrap();
    assert_eq!(file(&p, "01-05", 1_700_000_002), 3);
    let refused = p.make_filing_durable("01-05/2", index, &bytes);
    assert!(
        matches!(refused, Err(ArchiveError::Store(StoreError::Unwritable(_)))),
        "{refused:?}"
    );
    // What is stored there now is shown.
    let stored = p.entry_bytes(index).unwrap().unwrap();
    p.make_filing_durable("01-05/2", index, &stored).unwrap();
}

/// P opens an archive from before the tallies and look-up lists and builds them in a turn
/// that is lost: P read its own lost batches back, so it takes them for built. Its next
/// filing, whose turn reads the head again, builds them, rather than the next restart.
#[test]
fn indexes_built_in_a_lost_turn_are_built_by_the_next_filing() {
    let shared = Arc::new(Shared::default());
    let signer = Arc::new(crate::receipt::ReceiptSigner::ephemeral("t").unwrap());
    let q = open(&shared, 1, &signer);
    assert_eq!(file(&q, "01-05", 1_700_000_000), 1);
    let mut map = shared.map.lock().unwrap();
    for key in [keys::TALLY_VERSION, keys::LISTS_VERSION] {
        map.remove(&(Space::Index.prefix(), key.to_vec()));
    }
    drop(map);
    *shared.lose.lock().unwrap() = Some(0);
    let p = open(&shared, 0, &signer);
    assert!(p.tally_ready.load(Ordering::SeqCst) && p.lists_ready.load(Ordering::SeqCst));
    assert!(!tally::ready(q.store()).unwrap() && !lists::ready(q.store()).unwrap());
    assert_eq!(file(&q, "01-05", 1_700_000_001), 2);
    assert_eq!(file(&p, "01-05", 1_700_000_002), 3);
    assert!(
        tally::ready(q.store()).unwrap(),
        "the tallies were not built again"
    );
    assert!(
        lists::ready(q.store()).unwrap(),
        "the lists were not built again"
    );
    audit::verify(&q, true, &mut |_, _| {}).unwrap();
}

/// P opens an archive whose one full tile is missing (as one from before tiles) and builds
/// it in a turn that is lost: P read its own lost batch back, so it takes the tiles for
/// built. Once a turn of P's finds the loss, its next filing builds the tile again, rather
/// than the next restart.
#[test]
fn tiles_built_in_a_lost_turn_are_built_by_the_next_filing() {
    let shared = Arc::new(Shared::default());
    let signer = Arc::new(crate::receipt::ReceiptSigner::ephemeral("t").unwrap());
    let q = open(&shared, 1, &signer);
    let full = 1u64 << tiles::HEIGHT;
    for i in 0..full {
        file(&q, "01-05", 1_700_000_000 + i as i64);
    }
    let tile = (Space::Tiles.prefix(), keys::tile(0, 0, full));
    let kept = || shared.map.lock().unwrap().contains_key(&tile);
    assert!(kept());
    shared.map.lock().unwrap().remove(&tile);
    *shared.lose.lock().unwrap() = Some(0);
    let p = open(&shared, 0, &signer);
    assert!(p.tiles_ready.load(Ordering::SeqCst));
    assert!(!kept(), "the open's turn was not lost");
    file(&q, "01-05", 1_700_001_000);
    file(&p, "01-05", 1_700_001_001);
    assert!(kept(), "the tile was not built again");
    audit::verify(&q, true, &mut |_, _| {}).unwrap();
}
