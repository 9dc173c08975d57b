//! A store's reads and syncs failing, on the turn-giving store of `turn_tests.rs`: a reload
//! that fails is tried again by the next turn, and an open whose sync fails counts nothing
//! durable.

use super::*;

/// The store tells of Q's writes in one turn only; P's reload in it fails (a read fails).
/// P's next turn must read the head again all the same, not build on the old one.
#[test]
fn a_failed_reload_is_tried_again_by_the_next_turn() {
    let (shared, p, q) = two();
    assert_eq!(file(&p, "01-05", 1_700_000_000), 1);
    assert_eq!(file(&q, "01-05", 1_700_000_000), 2);
    *shared.fail_read.lock().unwrap() = Some(0);
    let failed = p.append(|_| Ok(()));
    assert!(
        matches!(failed, Err(ArchiveError::Store(StoreError::Unwritable(_)))),
        "{failed:?}"
    );
    assert_eq!(
        *shared.fail_read.lock().unwrap(),
        None,
        "the read did not fail"
    );
    let (n, upto) = p
        .append(|txn| {
            let n = txn.next_number(&counter_key("01-05"))?;
            let event = log::Event::Review {
                case: "01-05".into(),
                decision: "keep".into(),
                by: "P after the failed reload".into(),
            };
            txn.push(event, 1_700_000_000);
            Ok(n)
        })
        .expect("the next turn must read the head again");
    assert_eq!((n, upto.size), (3, 3));
    p.make_durable(upto).unwrap();
    audit::verify(&q, true, &mut |_, _| {}).unwrap();
}

/// Q's second filing is applied with its checkpoint, and its sync fails (the process dies):
/// the OS may still lose it. P's open cannot sync either, so P counts nothing durable: no
/// checkpoint, tile or proof of size 2 until a sync of P's succeeds.
#[test]
fn an_open_whose_sync_failed_shows_nothing_unsynced() {
    let shared = Arc::new(Shared::default());
    let signer = Arc::new(crate::receipt::ReceiptSigner::ephemeral("t").unwrap());
    let q = open(&shared, 1, &signer);
    assert_eq!(file(&q, "01-05", 1_700_000_000), 1);
    shared.fail_syncs.store(true, Ordering::SeqCst);
    let (_, upto) = append(&q, "01-05", 1_700_000_000, 1);
    assert!(q.make_durable(upto).is_err());
    assert_eq!(q.checkpoint_size().unwrap(), Some(2));
    drop(q);
    let p = open(&shared, 0, &signer);
    assert_eq!(p.served_checkpoint_size().unwrap(), None);
    assert_eq!(p.checkpoint_note().unwrap(), None);
    assert!(proofs::inclusion(&p, 1, None).is_err());
    let bundle = tilepath::TileRef {
        level: None,
        n: 0,
        partial: Some(2),
    };
    assert_eq!(p.tile(bundle).unwrap(), None);
    // Once a sync succeeds, the stored checkpoint is shown.
    shared.fail_syncs.store(false, Ordering::SeqCst);
    assert_eq!(p.served_checkpoint_size().unwrap(), Some(2));
    assert_eq!(proofs::inclusion(&p, 1, None).unwrap().size, 2);
}
