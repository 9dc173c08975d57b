//! What an archive remembers of its store must not outlive a lost turn: a batch applied in a
//! turn that was lost (see `no_receipt_leaves_for_a_batch_whose_turn_was_lost`) wrote nothing,
//! so nothing learnt from it may shape a later batch.

use super::*;

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
