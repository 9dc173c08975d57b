//! Over the journal, listing a space reads the whole journal's metadata
//! ([`super::store::Store::lists_cheaply`]): an export, a backup's checkpoints and an audit's
//! question "are tiles kept?" name what they look for instead.

use super::journal::JournalStore;
use super::store::{Space, Store};
use super::*;

/// Files one entry and makes it durable: one sync, one checkpoint.
fn file(a: &Archive, n: u64) {
    let ((), upto) = a
        .append(|txn| {
            txn.push(
                log::Event::Review {
                    case: "01-05".into(),
                    decision: "keep".into(),
                    by: format!("{n}"),
                },
                1_700_000_000,
            );
            Ok(())
        })
        .unwrap();
    a.make_durable(upto).unwrap();
}

/// Spaces of a journal this thread has listed so far.
fn scans() -> u64 {
    journal::KEY_SCANS.with(|n| n.get())
}

/// The tree sizes of the checkpoints `store` holds, listed.
fn listed(store: &dyn Store) -> Vec<u64> {
    let keys = store.keys(Space::Checkpoints).unwrap();
    keys.iter()
        .map(|k| index_u64(Some(k.clone())).unwrap())
        .collect()
}

#[test]
fn an_export_a_backup_and_an_audit_of_a_journal_archive_list_no_checkpoints_nor_tiles() {
    let dir = tempfile::tempdir().unwrap();
    let signer = Arc::new(crate::receipt::ReceiptSigner::ephemeral("t").unwrap());
    let store = JournalStore::open(&dir.path().join("store")).unwrap();
    let a = Archive::open(Box::new(store), "tamga.test/listing".into(), signer).unwrap();
    // More than a full tile, a checkpoint after every filing.
    for n in 0..300 {
        file(&a, n);
    }
    let all = listed(a.raw_store());
    assert!(all.len() >= 300, "{}", all.len());
    let before = scans();
    // The export: every checkpoint, none listed.
    let pkg = dir.path().join("pkg");
    export::write(&a, &pkg).unwrap();
    assert_eq!(scans(), before, "the export listed a space");
    let mut got: Vec<u64> = std::fs::read_dir(pkg.join("checkpoints"))
        .unwrap()
        .map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".note").unwrap().parse().unwrap()
        })
        .collect();
    got.sort_unstable();
    assert_eq!(got, all);
    export::verify(&pkg).unwrap();
    // The audit asks whether tiles are kept with one look-up; it lists only the index, whose
    // stale reference counts the tally check must find (`tally::check`).
    audit::verify(&a, false, &mut |_, _| {}).unwrap();
    assert_eq!(scans(), before + 1, "the audit listed more than the index");
    // A full backup, then an incremental one: each lists the index and the acts (copied
    // whole), but not the checkpoints.
    let backups = dir.path().join("backups");
    backup::write(&a, &backups).unwrap();
    assert_eq!(
        scans(),
        before + 3,
        "the backup listed more than the index and acts"
    );
    for n in 300..310 {
        file(&a, n);
    }
    backup::write(&a, &backups).unwrap();
    assert_eq!(scans(), before + 5);
    backup::check::verify(&backups, None).unwrap();
    // The two generations together hold every checkpoint up to the newest one's size.
    let m = backup::check::manifest(&backups, None).unwrap();
    let loaded = backup::check::load(&backups, &m).unwrap();
    let mut kept: Vec<u64> = loaded.spaces["checkpoints.kv"]
        .iter()
        .map(|(k, _)| index_u64(Some(k.clone())).unwrap())
        .collect();
    kept.sort_unstable();
    let all: Vec<u64> = listed(a.raw_store())
        .into_iter()
        .filter(|n| *n <= loaded.checkpoint.size)
        .collect();
    assert_eq!(kept, all);
}
