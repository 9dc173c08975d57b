//! The schema's migrations, the n-th taking version n to n + 1 (`schema.rs` runs them, each
//! in one transaction with its version).

use super::schema::SCHEMA_VERSION;

/// The migrations, the n-th taking version n to n + 1.
pub const MIGRATIONS: [&str; SCHEMA_VERSION as usize] = [
    // 1: one table for every space. Values are zstd-compressed chunks or small records, so
    // PostgreSQL's own compression is skipped (EXTERNAL storage). `tamga_sync` has one row:
    // a sync updates it in a synchronous commit, which flushes the WAL of all that came before.
    "CREATE TABLE tamga_kv (
         space int2 NOT NULL,
         key bytea NOT NULL,
         value bytea NOT NULL,
         PRIMARY KEY (space, key)
     );
     ALTER TABLE tamga_kv ALTER COLUMN value SET STORAGE EXTERNAL;
     CREATE TABLE tamga_sync (n int8 NOT NULL, applied int8 NOT NULL);
     INSERT INTO tamga_sync VALUES (0, 0);
     -- A batch in one statement, so in one round trip and one transaction: the append-only
     -- puts (an existing key with another value aborts it all with SQLSTATE TA001 naming
     -- space and key), the overwritable ones, and the disposals.
     CREATE FUNCTION tamga_apply(a_space int2[], a_key bytea[], a_value bytea[],
                                 o_space int2[], o_key bytea[], o_value bytea[],
                                 d_space int2[], d_key bytea[]) RETURNS int8
     LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
     DECLARE clash record; counted int8;
     BEGIN
         INSERT INTO tamga_kv SELECT * FROM unnest(a_space, a_key, a_value)
             ON CONFLICT (space, key) DO NOTHING;
         SELECT n.space, n.key INTO clash
             FROM unnest(a_space, a_key, a_value) AS n (space, key, value)
             JOIN tamga_kv k USING (space, key) WHERE k.value <> n.value LIMIT 1;
         IF FOUND THEN
             RAISE EXCEPTION USING ERRCODE = 'TA001',
                 MESSAGE = clash.space::text || ' ' || encode(clash.key, 'hex');
         END IF;
         INSERT INTO tamga_kv SELECT * FROM unnest(o_space, o_key, o_value)
             ON CONFLICT (space, key) DO UPDATE SET value = EXCLUDED.value;
         DELETE FROM tamga_kv WHERE (space, key) IN (SELECT * FROM unnest(d_space, d_key));
         -- Batches are counted in the same transaction: a count lower than the writer's says
         -- the server lost some (crash recovery), a higher one that another process wrote.
         UPDATE tamga_sync SET applied = applied + 1 RETURNING applied INTO counted;
         RETURN counted;
     END $$;
     -- A sync: a transaction committed synchronously flushes the WAL up to itself, so every
     -- earlier (asynchronous) commit is durable once it returns.
     -- It returns the count of batches that commit made durable.
     CREATE FUNCTION tamga_flush() RETURNS int8
     LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
     DECLARE counted int8;
     BEGIN
         PERFORM set_config('synchronous_commit', 'on', true);
         UPDATE tamga_sync SET n = n + 1 RETURNING applied INTO counted;
         RETURN counted;
     END $$;",
    // 2: the same batch without a join against the whole table on every call. Once its plan
    // was cached generic, the clash check and the disposals' DELETE (even with nothing to
    // dispose of) ran as hash joins over a scan of tamga_kv: work growing with the archive,
    // most of the server's CPU under load. Now the inserts report what they inserted, and
    // only keys that were there already (a chunk filed again: rare) are compared, each by the
    // primary key; the DELETE runs only when there is something to dispose of.
    "CREATE OR REPLACE FUNCTION tamga_apply(a_space int2[], a_key bytea[], a_value bytea[],
                                 o_space int2[], o_key bytea[], o_value bytea[],
                                 d_space int2[], d_key bytea[]) RETURNS int8
     LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
     DECLARE clash record; counted int8; inserted int8;
     BEGIN
         WITH ins AS (INSERT INTO tamga_kv SELECT * FROM unnest(a_space, a_key, a_value)
                      ON CONFLICT (space, key) DO NOTHING RETURNING 1)
         SELECT count(*) INTO inserted FROM ins;
         IF inserted < coalesce(cardinality(a_key), 0) THEN
             SELECT n.space, n.key INTO clash
                 FROM unnest(a_space, a_key, a_value) AS n (space, key, value)
                 WHERE EXISTS (SELECT 1 FROM tamga_kv k WHERE k.space = n.space
                               AND k.key = n.key AND k.value <> n.value)
                 LIMIT 1;
             IF FOUND THEN
                 RAISE EXCEPTION USING ERRCODE = 'TA001',
                     MESSAGE = clash.space::text || ' ' || encode(clash.key, 'hex');
             END IF;
         END IF;
         INSERT INTO tamga_kv SELECT * FROM unnest(o_space, o_key, o_value)
             ON CONFLICT (space, key) DO UPDATE SET value = EXCLUDED.value;
         IF coalesce(cardinality(d_key), 0) > 0 THEN
             DELETE FROM tamga_kv k USING unnest(d_space, d_key) AS d (space, key)
                 WHERE k.space = d.space AND k.key = d.key;
         END IF;
         UPDATE tamga_sync SET applied = applied + 1 RETURNING applied INTO counted;
         RETURN counted;
     END $$;",
    // 3: each row names the group that last wrote it (`grp`: the count `tamga_sync.applied`
    // took in the transaction that wrote it), with an index, and `tamga_sync.deleted` names
    // the last group that disposed of rows. A frontend writing in turns then reads, when a
    // turn finds the count moved, just the rows the other frontends wrote since its last
    // turn (one round trip, O(new rows)) and keeps its filter of keys and its cache, where it
    // had to drop them before; it drops what a disposal may have deleted only when `deleted`
    // moved. Rows written before this migration are group 0: every frontend read them at open.
    // So are rows one writer alone writes (`stamp` false): no frontend can write beside it,
    // and each reads every key when it opens. Group 0 stays out of the (partial) index, and
    // rewriting a row of group 0 does not change an indexed column, so the one writer pays
    // nothing for the column.
    "ALTER TABLE tamga_kv ADD COLUMN grp int8 NOT NULL DEFAULT 0;
     CREATE INDEX tamga_kv_grp ON tamga_kv (grp) WHERE grp > 0;
     ALTER TABLE tamga_sync ADD COLUMN deleted int8 NOT NULL DEFAULT 0;
     DROP FUNCTION tamga_apply(int2[], bytea[], bytea[], int2[], bytea[], bytea[], int2[],
                               bytea[]);
     CREATE FUNCTION tamga_apply(a_space int2[], a_key bytea[], a_value bytea[],
                                 o_space int2[], o_key bytea[], o_value bytea[],
                                 d_space int2[], d_key bytea[], stamp boolean) RETURNS int8
     LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
     DECLARE clash record; counted int8; inserted int8; g int8;
     BEGIN
         UPDATE tamga_sync SET applied = applied + 1 RETURNING applied INTO counted;
         g := CASE WHEN stamp THEN counted ELSE 0 END;
         WITH ins AS (INSERT INTO tamga_kv (space, key, value, grp)
                      SELECT n.space, n.key, n.value, g
                      FROM unnest(a_space, a_key, a_value) AS n (space, key, value)
                      ON CONFLICT (space, key) DO NOTHING RETURNING 1)
         SELECT count(*) INTO inserted FROM ins;
         IF inserted < coalesce(cardinality(a_key), 0) THEN
             SELECT n.space, n.key INTO clash
                 FROM unnest(a_space, a_key, a_value) AS n (space, key, value)
                 WHERE EXISTS (SELECT 1 FROM tamga_kv k WHERE k.space = n.space
                               AND k.key = n.key AND k.value <> n.value)
                 LIMIT 1;
             IF FOUND THEN
                 RAISE EXCEPTION USING ERRCODE = 'TA001',
                     MESSAGE = clash.space::text || ' ' || encode(clash.key, 'hex');
             END IF;
         END IF;
         INSERT INTO tamga_kv (space, key, value, grp)
             SELECT n.space, n.key, n.value, g
             FROM unnest(o_space, o_key, o_value) AS n (space, key, value)
             ON CONFLICT (space, key) DO UPDATE SET value = EXCLUDED.value, grp = EXCLUDED.grp;
         IF coalesce(cardinality(d_key), 0) > 0 THEN
             DELETE FROM tamga_kv k USING unnest(d_space, d_key) AS d (space, key)
                 WHERE k.space = d.space AND k.key = d.key;
             UPDATE tamga_sync SET deleted = counted;
         END IF;
         RETURN counted;
     END $$;",
];
