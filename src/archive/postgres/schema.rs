//! The PostgreSQL schema: its versioned migrations, the connection set-up, and the SQL of a
//! batch and of a flush.

use super::migrations::MIGRATIONS;
use super::{Location, code, pg};
use crate::archive::store::{Batch, Space, StoreError};
use std::collections::HashMap;

/// The schema version this tamga writes. An archive at a newer version is refused (a newer
/// tamga wrote it); an older one is migrated forward on open.
pub const SCHEMA_VERSION: i32 = 3;

/// Refuses a schema name that is not a plain lower-case SQL identifier (it is spliced into
/// `SET search_path`, so nothing else may pass).
pub fn check_name(schema: &str) -> Result<(), StoreError> {
    let ok = (1..=63).contains(&schema.len())
        && schema.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && schema
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(StoreError::Refused(format!(
            "{schema:?} is not a schema name tamga uses: lower-case letters, digits and _, \
             at most 63"
        )))
    }
}

/// A connection with the archive's statements prepared on it.
pub struct Session {
    /// The connection.
    pub client: postgres::Client,
    apply: postgres::Statement,
    flush: postgres::Statement,
    /// The first of some append-only puts whose key holds another value.
    clash: postgres::Statement,
    /// `SELECT value … WHERE space = $1 AND key = $2`.
    pub get: postgres::Statement,
    /// `SELECT key … WHERE space = $1 ORDER BY key`.
    pub keys: postgres::Statement,
    /// The rows groups after `$1` wrote: (space, key, value if at most `$2` bytes).
    written: postgres::Statement,
    /// Whether rows written name their group (one of several frontends), or group 0 (one
    /// writer alone, whose rows every frontend reads when it opens).
    stamp: bool,
}

/// What a connection is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The one writer: holds the archive's advisory lock exclusively, creates and migrates
    /// the schema.
    Writer,
    /// One of several writers (`tamga serve` frontends): holds the archive's advisory lock
    /// shared and writes in turns (`turn.rs`); creates and migrates the schema as the one
    /// writer does.
    Sharing,
    /// A reader of one snapshot.
    Reader,
    /// The writer's second connection, for syncs.
    Syncer,
}

/// Connects and prepares the session: a writer takes the archive's advisory lock, creates or
/// migrates the schema; a reader starts its one snapshot transaction.
pub fn connect(location: &Location, role: Role) -> Result<Session, StoreError> {
    let read_only = role == Role::Reader;
    let mut client = match role {
        Role::Syncer => {
            let mut c = postgres::Client::connect(&location.url, postgres::NoTls).map_err(pg)?;
            c.batch_execute(&format!("SET search_path TO {}", location.schema))
                .map_err(pg)?;
            c
        }
        _ => open(location, role)?,
    };
    let mut prepare = |sql: &str| client.prepare(sql).map_err(pg);
    let (get, keys) = (
        prepare("SELECT value FROM tamga_kv WHERE space = $1 AND key = $2")?,
        prepare("SELECT key FROM tamga_kv WHERE space = $1 ORDER BY key")?,
    );
    let (apply, flush, clash, written) = if read_only {
        (
            prepare("SELECT 1")?,
            prepare("SELECT 1")?,
            prepare("SELECT 1")?,
            prepare("SELECT 1")?,
        )
    } else {
        (
            prepare("SELECT tamga_apply($1, $2, $3, $4, $5, $6, $7, $8, $9)")?,
            prepare("SELECT tamga_flush()")?,
            prepare(
                "SELECT n.space, encode(n.key, 'hex')
                 FROM unnest($1::int2[], $2::bytea[], $3::bytea[]) AS n (space, key, value)
                 JOIN tamga_kv k USING (space, key) WHERE k.value <> n.value LIMIT 1",
            )?,
            prepare(
                "SELECT space, key, CASE WHEN octet_length(value) <= $2 THEN value END
                 FROM tamga_kv WHERE grp > $1 AND grp > 0 LIMIT $3",
            )?,
        )
    };
    Ok(Session {
        client,
        apply,
        flush,
        clash,
        get,
        keys,
        written,
        stamp: role == Role::Sharing,
    })
}

/// The connection, set up for reading or writing.
fn open(location: &Location, role: Role) -> Result<postgres::Client, StoreError> {
    let mut client = postgres::Client::connect(&location.url, postgres::NoTls).map_err(pg)?;
    let schema = &location.schema;
    if role == Role::Reader {
        let exists = client
            .query_opt(
                "SELECT 1 FROM information_schema.tables \
                 WHERE table_schema = $1 AND table_name = 'tamga_kv'",
                &[schema],
            )
            .map_err(pg)?
            .is_some();
        if !exists {
            return Err(StoreError::NoArchive(location.display().into()));
        }
        client
            .batch_execute(&format!(
                "SET search_path TO {schema};
                 BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;"
            ))
            .map_err(pg)?;
        check_version(&mut client, location)?;
        return Ok(client);
    }
    // The archive's lifetime lock: exclusive for the one writer, shared among frontends
    // writing in turns, so that either kind excludes the other (a running service and a
    // restore, or an older tamga that writes alone).
    let take = if role == Role::Sharing {
        "SELECT pg_try_advisory_lock_shared(hashtextextended('tamga archive ' || $1, 0))"
    } else {
        "SELECT pg_try_advisory_lock(hashtextextended('tamga archive ' || $1, 0))"
    };
    let locked: bool = client.query_one(take, &[schema]).map_err(pg)?.get(0);
    if !locked {
        return Err(StoreError::InUse(location.display().into()));
    }
    client
        .batch_execute("SET synchronous_commit = off")
        .map_err(pg)?;
    if role == Role::Sharing {
        // The turn's lease: a holder that stops (SIGSTOP, a partition) leaves its turn's
        // transaction idle, and the server ends its session, releasing the turn.
        client
            .batch_execute(&format!(
                "SET idle_in_transaction_session_timeout = {}",
                super::turn::LEASE.as_millis()
            ))
            .map_err(pg)?;
    }
    migrate(&mut client, location)?;
    Ok(client)
}

/// The version recorded in the schema (0 for none yet).
fn version(client: &mut impl postgres::GenericClient) -> Result<i32, StoreError> {
    let row = client
        .query_opt("SELECT version FROM tamga_schema", &[])
        .map_err(pg)?;
    Ok(row.map_or(0, |r| r.get(0)))
}

/// Refuses an archive whose schema is not the one this tamga reads.
fn check_version(
    client: &mut impl postgres::GenericClient,
    location: &Location,
) -> Result<(), StoreError> {
    match version(client)? {
        SCHEMA_VERSION => Ok(()),
        v => Err(StoreError::Refused(format!(
            "{} has schema version {v}; this tamga reads version {SCHEMA_VERSION}",
            location.display()
        ))),
    }
}

/// Takes the schema to [`SCHEMA_VERSION`], each step in one transaction with its version.
fn migrate(client: &mut postgres::Client, location: &Location) -> Result<(), StoreError> {
    let schema = &location.schema;
    let mut tx = client.transaction().map_err(pg)?;
    // Frontends starting together would create the same schema and tables at once (and one
    // would fail on a unique index): one at a time, the later ones finding the work done.
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('tamga migrate ' || $1, 0))",
        &[schema],
    )
    .map_err(pg)?;
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {schema}; SET search_path TO {schema};
         CREATE TABLE IF NOT EXISTS tamga_schema (version int4 NOT NULL);"
    ))
    .map_err(pg)?;
    let current = version(&mut tx)?;
    if current > SCHEMA_VERSION {
        return Err(StoreError::Refused(format!(
            "{} has schema version {current}, newer than this tamga knows \
             ({SCHEMA_VERSION}): run the tamga that wrote it",
            location.display()
        )));
    }
    for (n, sql) in MIGRATIONS.iter().enumerate().skip(current.max(0) as usize) {
        tx.batch_execute(sql).map_err(pg)?;
        let to = i32::try_from(n + 1).unwrap_or(SCHEMA_VERSION);
        tx.execute("DELETE FROM tamga_schema", &[]).map_err(pg)?;
        tx.execute("INSERT INTO tamga_schema VALUES ($1)", &[&to])
            .map_err(pg)?;
    }
    tx.commit().map_err(pg)
}

/// A batch sorted into the three statements that write it.
pub struct Writes {
    /// Append-only puts, one per key: (spaces, keys, values) as SQL arrays.
    append: (Vec<i16>, Vec<Vec<u8>>, Vec<Vec<u8>>),
    /// Overwritable puts, the last value per key.
    overwrite: (Vec<i16>, Vec<Vec<u8>>, Vec<Vec<u8>>),
    /// Disposals.
    dispose: (Vec<i16>, Vec<Vec<u8>>),
}

impl Writes {
    /// Whether it puts any append-only key (what no later writer changes).
    pub fn appends(&self) -> bool {
        !self.append.0.is_empty()
    }

    /// Sorts `batch`, refusing what the store contract refuses before anything is sent:
    /// a disposal outside the documents' spaces, two values for one append-only key.
    pub fn of(batch: &Batch) -> Result<Writes, StoreError> {
        let mut w = Writes {
            append: Default::default(),
            overwrite: Default::default(),
            dispose: Default::default(),
        };
        for (space, key) in &batch.disposals {
            if !matches!(space, Space::Chunks | Space::Blobs) {
                return Err(StoreError::NotDisposable { space: *space });
            }
            w.dispose.0.push(code(*space));
            w.dispose.1.push(key.clone());
        }
        let mut seen: HashMap<(Space, &[u8]), usize> = HashMap::new();
        for (space, key, value) in &batch.puts {
            let list = if space.append_only() {
                &mut w.append
            } else {
                &mut w.overwrite
            };
            match seen.get(&(*space, key.as_slice())) {
                Some(&i) if space.append_only() && list.2.get(i) != Some(value) => {
                    return Err(overwrite(*space, key));
                }
                Some(&i) => {
                    if let Some(slot) = list.2.get_mut(i) {
                        slot.clone_from(value);
                    }
                }
                None => {
                    seen.insert((*space, key), list.0.len());
                    list.0.push(code(*space));
                    list.1.push(key.clone());
                    list.2.push(value.clone());
                }
            }
        }
        Ok(w)
    }
}

/// The refusal of a second value for an append-only key.
pub fn overwrite(space: Space, key: &[u8]) -> StoreError {
    StoreError::Overwrite {
        space,
        key: crate::verify::certificate::hex(key),
    }
}

/// Writes one batch in one statement (one transaction, one round trip), committed without
/// waiting for the WAL flush (a sync does that). An append-only key that already holds another
/// value refuses the whole batch.
/// Returns the count of batches applied, this one included.
pub fn apply(session: &mut Session, w: &Writes) -> Result<i64, StoreError> {
    let (a, o, d) = (&w.append, &w.overwrite, &w.dispose);
    match session.client.query_one(
        &session.apply,
        &[
            &a.0,
            &a.1,
            &a.2,
            &o.0,
            &o.1,
            &o.2,
            &d.0,
            &d.1,
            &session.stamp,
        ],
    ) {
        Ok(row) => Ok(row.get(0)),
        Err(e) => Err(clash(&e).unwrap_or_else(|| pg(e))),
    }
}

/// The overwrite that writing the append-only `puts` (space, key, value) would be, as the
/// committed table stands: one round trip for all of them.
pub fn clashing(
    session: &mut Session,
    puts: &[(Space, &[u8], &[u8])],
) -> Result<Option<StoreError>, StoreError> {
    let spaces: Vec<i16> = puts.iter().map(|(s, _, _)| code(*s)).collect();
    let keys: Vec<&[u8]> = puts.iter().map(|(_, k, _)| *k).collect();
    let values: Vec<&[u8]> = puts.iter().map(|(_, _, v)| *v).collect();
    let row = session
        .client
        .query_opt(&session.clash, &[&spaces, &keys, &values])
        .map_err(pg)?;
    Ok(row.and_then(|row| {
        let space: i16 = row.get(0);
        let space = Space::ALL.into_iter().find(|s| code(*s) == space)?;
        Some(StoreError::Overwrite {
            space,
            key: row.get(1),
        })
    }))
}

/// Whether the server refused `e` for what was sent (an overwrite, a value it cannot take),
/// so that sending it again would be refused again: not a lost connection, nor a server
/// that cannot write now (shutting down, read-only, disk full), which a retry outlives.
pub fn refused_for_good(e: &StoreError) -> bool {
    match e {
        StoreError::Overwrite { .. } => true,
        StoreError::Postgres(e) => e.as_db_error().is_some_and(|db| {
            let class = db.code().code().get(..2);
            matches!(class, Some("22" | "23" | "42"))
        }),
        _ => false,
    }
}

/// The greatest key of `space` in the table (`None`: it holds none), from the primary key's
/// index.
pub fn greatest(session: &mut Session, space: Space) -> Result<Option<Vec<u8>>, StoreError> {
    // (bytea has no max(); the index walked backwards gives it at once.)
    let row = session
        .client
        .query_opt(
            "SELECT key FROM tamga_kv WHERE space = $1 ORDER BY key DESC LIMIT 1",
            &[&code(space)],
        )
        .map_err(pg)?;
    Ok(row.map(|r| r.get(0)))
}

/// Calls `each` with every (space, key) the table holds, streamed (not collected).
pub fn each_key(
    session: &mut Session,
    mut each: impl FnMut(Space, &[u8]),
) -> Result<(), StoreError> {
    use postgres::fallible_iterator::FallibleIterator;
    let mut rows = session
        .client
        .query_raw("SELECT space, key FROM tamga_kv", Vec::<i16>::new())
        .map_err(pg)?;
    while let Some(row) = rows.next().map_err(pg)? {
        let space: i16 = row.get(0);
        if let Some(space) = Space::ALL.into_iter().find(|s| code(*s) == space) {
            each(space, row.get(1));
        }
    }
    Ok(())
}

/// A row another writer wrote: its space, key, and value when at most the size asked for.
pub type Written = (Space, Vec<u8>, Option<Vec<u8>>);

/// The rows the groups after `since` wrote (their `grp` is greater), with the values of at
/// most `small` bytes: one round trip, by the index on `grp`, O(rows written since).
pub fn written_since(
    session: &mut Session,
    since: i64,
    small: usize,
    limit: usize,
) -> Result<Vec<Written>, StoreError> {
    let small = i32::try_from(small).unwrap_or(i32::MAX);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = session
        .client
        .query(&session.written, &[&since, &small, &limit])
        .map_err(pg)?;
    Ok(rows
        .iter()
        .filter_map(|row| {
            let space: i16 = row.get(0);
            let space = Space::ALL.into_iter().find(|s| code(*s) == space)?;
            Some((space, row.get(1), row.get(2)))
        })
        .collect())
}

/// The count of batches applied, as the server holds it now.
pub fn applied(session: &mut Session) -> Result<i64, StoreError> {
    Ok(session
        .client
        .query_one("SELECT applied FROM tamga_sync", &[])
        .map_err(pg)?
        .get(0))
}

/// The overwrite `tamga_apply` refused, from its TA001 error ("<space code> <key hex>").
fn clash(e: &postgres::Error) -> Option<StoreError> {
    let db = e.as_db_error().filter(|d| d.code().code() == "TA001")?;
    let (space, key) = db.message().split_once(' ')?;
    let space = Space::ALL
        .into_iter()
        .find(|s| space.parse::<i16>().ok() == Some(code(*s)))?;
    Some(StoreError::Overwrite {
        space,
        key: key.to_owned(),
    })
}

/// Whether every put of `w` is in the table with its value (for a commit whose answer was
/// lost: it either landed whole or not at all). `whole`: no one wrote after it, so every put
/// and disposal must be as it left them; otherwise another writer may have rewritten the
/// overwritten keys (the index's heads and counters, on every filing) or put back what was
/// disposed, and only the append-only puts — which no writer changes — are looked at (the
/// caller makes sure its transaction had some: [`Writes::appends`]).
pub fn landed(session: &mut Session, w: &Writes, whole: bool) -> Result<bool, StoreError> {
    let client = &mut session.client;
    let (mut spaces, mut keys, mut values) = w.append.clone();
    if whole {
        spaces.extend_from_slice(&w.overwrite.0);
        keys.extend_from_slice(&w.overwrite.1);
        values.extend_from_slice(&w.overwrite.2);
    }
    let missing: i64 = client
        .query_one(
            "SELECT count(*) FROM unnest($1::int2[], $2::bytea[], $3::bytea[]) n (space, key, value)
             WHERE NOT EXISTS (SELECT 1 FROM tamga_kv k
                               WHERE k.space = n.space AND k.key = n.key AND k.value = n.value)",
            &[&spaces, &keys, &values],
        )
        .map_err(pg)?
        .get(0);
    if !whole {
        return Ok(missing == 0);
    }
    let kept: i64 = client
        .query_one(
            "SELECT count(*) FROM tamga_kv WHERE (space, key) IN (
                 SELECT * FROM unnest($1::int2[], $2::bytea[]))",
            &[&w.dispose.0, &w.dispose.1],
        )
        .map_err(pg)?
        .get(0);
    Ok(missing == 0 && kept == 0)
}

/// Makes every commit so far durable (a synchronous commit flushes the WAL up to itself);
/// returns the count of batches that are.
pub fn flush(session: &mut Session) -> Result<i64, StoreError> {
    Ok(session
        .client
        .query_one(&session.flush, &[])
        .map_err(pg)?
        .get(0))
}

/// Takes the archive's turn on the writer's connection: opens the turn's transaction
/// (committed synchronously: one WAL flush for everything written in it) and waits in
/// PostgreSQL's queue for its transaction-level lock, which the transaction's end releases
/// (a commit, a rollback, or the server ending a session that died or hung). Returns the
/// count of groups applied, as it stands once the turn is this writer's, and the last group
/// that disposed of rows.
pub fn take_turn(session: &mut Session) -> Result<(i64, i64), StoreError> {
    let client = &mut session.client;
    client
        .batch_execute("BEGIN; SET LOCAL synchronous_commit = on")
        .map_err(pg)?;
    // Two statements: in READ COMMITTED a statement's snapshot is taken when it starts, so a
    // count read in the statement that waits for the lock would be the one from before the
    // wait — missing the very turn waited for, whose writer then looks like no one.
    let row = client
        .execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('tamga turn ' || current_schema(), 0))",
            &[],
        )
        .and_then(|_| client.query_one("SELECT applied, deleted FROM tamga_sync", &[]))
        .map_err(pg);
    match row {
        Ok(row) => Ok((row.get(0), row.get(1))),
        Err(e) => {
            let _ = client.batch_execute("ROLLBACK");
            Err(e)
        }
    }
}

/// Ends the turn's transaction: commits it (returning once it is durable, with a
/// synchronous standby once the standby has it too), or rolls it back.
pub fn end_turn(session: &mut Session, commit: bool) -> Result<(), StoreError> {
    let sql = if commit { "COMMIT" } else { "ROLLBACK" };
    session.client.batch_execute(sql).map_err(pg)
}
