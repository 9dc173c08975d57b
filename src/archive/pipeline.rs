//! Filing in stages, so that no filing waits under the writer lock for another's receipt to
//! be signed.
//!
//! A receipt names its entry's position, registration number and hash, so it can only be
//! signed once the entry is built; and it must be kept in the same atomic batch as the entry,
//! so that no crash leaves a filing without its receipt (a sender's retry is answered from
//! it) or a receipt without its filing. Signing (≈ 20 µs) and compressing it (≈ 15 µs) under
//! the writer lock made every filing wait for every other's: issue #15's bisect found the
//! locked section grown from 25 % to 41 % of the CPU, and throughput down by a third.
//!
//! So a filing goes through three stages:
//! 1. **build**, under the writer lock: the batch (entry, registration, evidence, indexes,
//!    tiles, head) without its receipt. The batch joins a queue in build order and the head
//!    moves on: the next filing builds on it at once. Builds read through the queue
//!    ([`Overlaid`]): what a queued batch writes is what the store will hold.
//! 2. **sign**, with no lock held: the receipt is signed and compressed, and handed to its
//!    slot, which is now ready.
//! 3. **apply**, in queue order, one applier at a time: the receipt of each ready slot at the
//!    front of the queue is placed in its batch (in place: the queue holds the only
//!    reference), and the batch goes to the store whole — entry and receipt in one atomic
//!    batch, as before; batches ready together go as one (`joined.rs`).
//!
//! A filing returns once its own batch is applied; durability (group commit) follows as
//! before. Everything else that reads the head — a checkpoint, a retention or backup batch, a
//! reader asking for the size — first waits until the queue is empty ([`Archive::settled`]),
//! so it sees the head the store holds. If a batch cannot be applied (the store failed) or
//! its receipt cannot be signed, every batch queued after it was built on it: all of them
//! fail (nothing of theirs is filed; their senders retry), and the next build reads the head
//! the store holds.
//!
//! Only a store one process writes is filed this way. A store written in turns (PostgreSQL)
//! must apply a batch in the turn it was built in, so there the receipt is still signed under
//! the writer lock (see [`store::Store::writes_in_turns`]).
//!
//! [`store::Store::writes_in_turns`]: super::store::Store::writes_in_turns

use super::joined::{Placed, join};
use super::keys::Dictionary;
use super::merkle::Hash;
use super::overlaid::Overlaid;
use super::store::{Batch, Space, StoreError};
use super::{Archive, ArchiveError, State, Txn, Upto, lock};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

/// What a filing's build leaves to do once the writer lock is let go.
pub enum Built<B> {
    /// The submission was filed before: its stored receipt. Nothing was written.
    Found(Vec<u8>),
    /// A new filing, whose receipt is `body` signed, kept under `id`.
    ToSign {
        /// The receipt's id (its key in the receipts' space).
        id: String,
        /// What the signer is handed.
        body: B,
    },
}

/// A slot's fate, shared between the queue and its filer.
const PENDING: u8 = 0;
const APPLIED: u8 = 1;
const FAILED: u8 = 2;

/// The queue of built batches, and the applier's lock.
#[derive(Debug, Default)]
pub(super) struct Pipeline {
    queue: Mutex<Queue>,
    /// Signalled whenever a slot is applied or fails.
    moved: Condvar,
    /// Held by the one thread applying batches.
    applying: Mutex<()>,
}

#[derive(Debug, Default)]
struct Queue {
    /// Built batches not yet applied, in build order.
    slots: VecDeque<Slot>,
    /// Moves whenever the queue was failed: a batch built on an older head is refused.
    generation: u64,
    /// The head the first failed batch was built on, the last one applied: where the next
    /// build starts. (Not read from the store: a store may answer the keys of a failed write
    /// with errors until it reopens, which its next write does — sled.)
    rollback: Option<State>,
}

/// One built batch waiting for its receipt or its turn to be applied.
#[derive(Debug)]
struct Slot {
    /// The batch as built: what later builds read through ([`Overlaid`]). Only the queue
    /// holds it until it is applied, so the applier adds the receipt to it in place; during
    /// the store's write the applier shares it.
    built: Arc<Batch>,
    /// Its receipt's key, in flight until applied.
    receipt: Vec<u8>,
    /// Its signed receipt, placed in `built` when the batch is applied.
    ready: Option<Ready>,
    /// The receipt is placed in `built` (by an applier that then joined fewer batches).
    placed: bool,
    /// Its receipt could not be signed: this and every later batch fail.
    abandoned: bool,
    /// The tree size before its entries, and their leaf hashes (for the tiles' edge).
    base: u64,
    leaves: Vec<Hash>,
    fate: Arc<AtomicU8>,
    /// The head it was built on.
    before: State,
}

/// A slot's receipt once signed: it is placed in the slot's batch when that is applied, where
/// whether its dictionary is stored yet is known.
#[derive(Debug)]
struct Ready {
    id: String,
    der: Vec<u8>,
    encoded: super::receipts::Encoded,
}

/// A filer's hold on its queued batch, which its `fate` names.
struct Ticket {
    fate: Arc<AtomicU8>,
    /// The reload epoch and the store's count of losses the batch was built in (`upto.rs`).
    epoch: u64,
    losses: u64,
    /// The tree size after its entries, and the last one's leaf hash.
    size: u64,
    last: Option<Hash>,
}

/// A queued slot whose receipt is not handed over yet: dropped so, it fails.
struct Unsettled<'a> {
    archive: &'a Archive,
    ticket: Option<&'a Ticket>,
}

impl Drop for Unsettled<'_> {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket {
            self.archive.settle_slot(ticket, None);
        }
    }
}

/// The front slots being applied: should the applier unwind (a panic), the queue is not left
/// waiting for them. Not yet stored, they fail with those built on them; stored, they count as
/// applied, and the tiles' edge, which may not have moved with them, is read again.
struct Applying<'a> {
    archive: &'a Archive,
    stored: bool,
    /// How many slots, and the tree size after their entries.
    count: usize,
    size: u64,
    armed: bool,
}

impl Drop for Applying<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let pipeline = &self.archive.pipeline;
        let mut queue = lock(&pipeline.queue);
        if self.stored {
            for _ in 0..self.count {
                if let Some(slot) = queue.slots.pop_front() {
                    slot.fate.store(APPLIED, Ordering::Release);
                }
            }
            drop(queue);
            lock(&self.archive.edge).behind(self.size);
        } else {
            pipeline.fail_all(&mut queue);
            drop(queue);
        }
        pipeline.moved.notify_all();
    }
}

/// What [`Archive::build_queued`] leaves to its caller.
enum Queued<B> {
    /// The receipt was found: nothing was queued.
    Found(Vec<u8>, Upto),
    /// The batch was queued; its receipt, under this id, is this body signed.
    Slot(Ticket, String, B),
}
impl Pipeline {
    /// What the newest queued batch writing (space, key) writes there, if one does.
    pub(super) fn queued(&self, space: Space, key: &[u8]) -> Option<Vec<u8>> {
        let queue = lock(&self.queue);
        let mut slots = queue.slots.iter().rev();
        slots.find_map(|s| s.built.pending(space, key).map(<[u8]>::to_vec))
    }

    /// The keys the queued batches write in `space`.
    pub(super) fn queued_keys(&self, space: Space) -> Vec<Vec<u8>> {
        let queue = lock(&self.queue);
        let puts = queue.slots.iter().flat_map(|s| s.built.puts.iter());
        let put = puts.filter(|(s, _, _)| *s == space);
        put.map(|(_, k, _)| k.clone()).collect()
    }

    /// Whether a receipt kept under `key` is being signed or waits to be applied.
    pub(super) fn in_flight(&self, key: &[u8]) -> bool {
        lock(&self.queue).slots.iter().any(|s| s.receipt == key)
    }

    /// Tests: queued batches whose receipts are signed and not yet placed.
    #[cfg(test)]
    pub(super) fn signed(&self) -> usize {
        lock(&self.queue)
            .slots
            .iter()
            .filter(|s| s.ready.is_some())
            .count()
    }

    /// Waits until every queued batch is applied or has failed.
    fn wait_idle(&self) {
        let mut queue = lock(&self.queue);
        while !queue.slots.is_empty() {
            queue = self
                .moved
                .wait(queue)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// The generation a build must be queued in.
    fn generation(&self) -> u64 {
        lock(&self.queue).generation
    }

    /// Fails every queued batch: the one at the front cannot be applied, and the others were
    /// built on it.
    fn fail_all(&self, queue: &mut Queue) {
        if let Some(front) = queue.slots.front() {
            queue.rollback = Some(front.before.clone());
        }
        for slot in queue.slots.drain(..) {
            slot.fate.store(FAILED, Ordering::Release);
        }
        queue.generation += 1;
    }
}

impl Archive {
    /// Files one submission whose receipt `sign` makes from what `build` returns: its batch
    /// is built under the writer lock, the receipt is signed outside it, and the batch with
    /// its receipt is applied atomically, in build order (see the module's documentation).
    /// Returns the receipt, whether it was found rather than made (the submission was filed
    /// before), and what to pass to [`Archive::make_durable`].
    pub fn append_receipted<B>(
        &self,
        build: impl FnOnce(&mut Txn<'_>) -> Result<Built<B>, ArchiveError>,
        sign: impl FnOnce(B) -> Result<Vec<u8>, ArchiveError>,
    ) -> Result<((Vec<u8>, bool), Upto), ArchiveError> {
        if self.store.writes_in_turns() {
            return self.append(|txn| match build(txn)? {
                Built::Found(receipt) => Ok((receipt, true)),
                Built::ToSign { id, body } => {
                    let der = sign(body)?;
                    txn.put_receipt(&id, der.clone());
                    Ok((der, false))
                }
            });
        }
        let (ticket, id, body) = match self.build_queued(build)? {
            Queued::Found(receipt, upto) => return Ok(((receipt, true), upto)),
            Queued::Slot(ticket, id, body) => (ticket, id, body),
        };
        // Should signing fail, or unwind, the slot fails (and every slot queued after it).
        let mut unsettled = Unsettled {
            archive: self,
            ticket: Some(&ticket),
        };
        let der = sign(body)?;
        // Outside every lock: the compression.
        let ready = Ready {
            encoded: super::receipts::encode(&der),
            id,
            der: der.clone(),
        };
        unsettled.ticket = None;
        self.settle_slot(&ticket, Some(ready));
        while ticket.fate.load(Ordering::Acquire) == PENDING {
            self.wait_for(&ticket);
        }
        if ticket.fate.load(Ordering::Acquire) == FAILED {
            return Err(failed());
        }
        let upto = Upto::appended(ticket.size, ticket.epoch, ticket.losses, ticket.last);
        Ok(((der, false), upto))
    }

    /// Stage 1: builds the batch under the writer lock and queues it.
    fn build_queued<B>(
        &self,
        build: impl FnOnce(&mut Txn<'_>) -> Result<Built<B>, ArchiveError>,
    ) -> Result<Queued<B>, ArchiveError> {
        let mut state = lock(&self.state);
        let _turn = self.turn(&mut state)?;
        if state.generation != self.pipeline.generation() || !self.indexes_ready() {
            // After a failure, and before the indexes an old archive lacks are built (which
            // reads the store alone), the head is the applied one, once the queue is empty.
            self.pipeline.wait_idle();
            self.reset(&mut state)?;
        }
        // The generation it is queued in: should the queue fail while this builds on it, the
        // build is refused (`failed`).
        let generation = state.generation;
        let epoch = self.epoch.load(Ordering::Acquire);
        let losses = self.store.losses();
        self.ensure_tiles(state.size)?;
        let view = Overlaid {
            inner: self.store.as_ref(),
            pipeline: &self.pipeline,
        };
        let mut txn = self.txn(&view, &state, Some(&self.pipeline));
        let (id, body) = match build(&mut txn)? {
            Built::Found(receipt) => return Ok(Queued::Found(receipt, Upto::size(state.size))),
            Built::ToSign { id, body } => (id, body),
        };
        self.settle_indexes(&mut txn)?;
        txn.seal(state.size)?;
        let fate = Arc::new(AtomicU8::new(PENDING));
        let slot = Slot {
            built: Arc::new(std::mem::take(&mut txn.batch)),
            receipt: id.as_bytes().to_vec(),
            ready: None,
            placed: false,
            abandoned: false,
            base: state.size,
            leaves: txn.leaves.clone(),
            fate: Arc::clone(&fate),
            before: state.clone(),
        };
        let mut queue = lock(&self.pipeline.queue);
        if queue.generation != generation {
            // The queue failed while this was built (on a batch that is not to be).
            return Err(failed());
        }
        queue.slots.push_back(slot);
        drop(queue);
        let ticket = Ticket {
            fate,
            epoch,
            losses,
            size: txn.state.size,
            last: txn.leaves.last().copied(),
        };
        let mut next = txn.state;
        next.generation = generation;
        *state = next;
        Ok(Queued::Slot(ticket, id, body))
    }

    /// Stage 2 done: hands the slot its receipt (`None`: it could not be signed), then
    /// applies whatever is ready at the front of the queue.
    fn settle_slot(&self, ticket: &Ticket, ready: Option<Ready>) {
        let mut queue = lock(&self.pipeline.queue);
        if let Some(slot) = queue
            .slots
            .iter_mut()
            .find(|s| Arc::ptr_eq(&s.fate, &ticket.fate))
        {
            match ready {
                Some(r) => slot.ready = Some(r),
                None => slot.abandoned = true,
            }
        }
        drop(queue);
        self.apply_ready();
    }

    /// Stage 3: applies every ready batch at the front of the queue, in order, one applier at
    /// a time; batches ready together go to the store as one (`joined.rs`). A batch that
    /// cannot be applied (or whose receipt could not be signed) fails with every batch queued
    /// after it.
    fn apply_ready(&self) {
        let _applying = lock(&self.pipeline.applying);
        loop {
            // Declared before the queue's guard, so that an unwinding applier lets go of the
            // queue before its guard fails what is queued.
            let mut unwinding = Applying {
                archive: self,
                stored: false,
                count: 0,
                size: 0,
                armed: false,
            };
            let Some(readies) = self.take_ready() else {
                return;
            };
            // From here an unwinding applier fails the queue: the receipts are taken.
            unwinding.armed = true;
            // Whether the store holds each receipt's dictionary, asked with the queue let go
            // (it may read the disk). Nothing can store one meanwhile: this is the one applier.
            let (store, known) = (self.store.as_ref(), &self.receipt_dictionaries);
            let asked = readies.into_iter().map(|ready| {
                ready.map(|r| {
                    let d = super::keys::ask_dictionary(store, known, &r.encoded);
                    (r, d)
                })
            });
            let front = self.place_all(asked.collect());
            let (batch, count) = join(&front);
            let Some((joined, last)) = front.get(..count).and_then(|j| Some((j, j.last()?))) else {
                return; // not reached (a first batch always joins); the queue fails
            };
            unwinding.count = count;
            unwinding.size = last.base + last.leaves.len() as u64;
            let applied = self.apply_joined(&batch, joined, &mut unwinding.stored);
            drop((batch, front));
            unwinding.armed = false;
            let mut queue = lock(&self.pipeline.queue);
            match applied {
                Ok(()) => {
                    let count = count.min(queue.slots.len());
                    for slot in queue.slots.drain(..count) {
                        slot.fate.store(APPLIED, Ordering::Release);
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "a filing's batch could not be applied");
                    self.pipeline.fail_all(&mut queue);
                }
            }
            drop(queue);
            self.pipeline.moved.notify_all();
        }
    }

    /// The signed receipts of the ready slots at the front of the queue, up to the first not
    /// ready (`None` for one placed already); `None` when the front is not ready, or its
    /// receipt could not be signed (then the queue fails).
    fn take_ready(&self) -> Option<Vec<Option<Ready>>> {
        let mut queue = lock(&self.pipeline.queue);
        if queue.slots.front()?.abandoned {
            self.pipeline.fail_all(&mut queue);
            self.pipeline.moved.notify_all();
            return None;
        }
        let mut readies = Vec::new();
        for slot in queue.slots.iter_mut().take(super::joined::MAX_BATCHES) {
            if slot.abandoned {
                break;
            } else if slot.placed {
                readies.push(None);
            } else if let Some(ready) = slot.ready.take() {
                readies.push(Some(ready));
            } else {
                break;
            }
        }
        (!readies.is_empty()).then_some(readies)
    }

    /// Places the receipts [`Archive::take_ready`] took in their batches (in place: the queue
    /// holds the only reference, and builds reading through it see what the store will hold),
    /// and returns those batches.
    fn place_all(&self, asked: Vec<Option<(Ready, Dictionary)>>) -> Vec<Placed> {
        let mut queue = lock(&self.pipeline.queue);
        let mut front = Vec::with_capacity(asked.len());
        for (slot, asked) in queue.slots.iter_mut().zip(asked) {
            if let Some((ready, dictionary)) = asked {
                let batch = Arc::make_mut(&mut slot.built);
                self.place_ready(batch, slot.base, ready, dictionary);
                slot.placed = true;
            }
            front.push(Placed {
                batch: Arc::clone(&slot.built),
                base: slot.base,
                leaves: slot.leaves.clone(),
            });
        }
        front
    }

    /// Places a slot's signed receipt in its batch (with the dictionary it needs, unless that
    /// is known stored).
    fn place_ready(&self, batch: &mut Batch, base: u64, ready: Ready, asked: Dictionary) {
        let Ready { id, der, encoded } = ready;
        super::keys::place_receipt(
            batch,
            &self.receipt_dictionaries,
            base,
            (&id, der),
            encoded,
            asked,
        );
    }

    /// Applies the joined batch of the slots `placed`; then, slot by slot as
    /// [`Archive::append`]'s do, their receipts' dictionaries are known stored and the tiles'
    /// edge moves with them.
    fn apply_joined(
        &self,
        batch: &Batch,
        placed: &[Placed],
        stored: &mut bool,
    ) -> Result<(), ArchiveError> {
        self.store.apply(batch)?;
        *stored = true;
        for p in placed {
            self.receipt_dictionaries.applied(&p.batch, p.base + 1);
            self.advance_edge(&p.leaves);
        }
        Ok(())
    }

    /// The receipt stored under `id` once no filing of it is under way (a build that found it
    /// in flight got [`ArchiveError::InFlight`]); `None` if that filing failed.
    pub fn receipt_once_filed(&self, id: &str) -> Result<Option<Vec<u8>>, ArchiveError> {
        let mut queue = lock(&self.pipeline.queue);
        while queue.slots.iter().any(|s| s.receipt == id.as_bytes()) {
            queue = self
                .pipeline
                .moved
                .wait(queue)
                .unwrap_or_else(PoisonError::into_inner);
        }
        drop(queue);
        self.receipt(id)
    }

    /// Waits until the slot of `ticket` is applied or has failed.
    fn wait_for(&self, ticket: &Ticket) {
        let mut queue = lock(&self.pipeline.queue);
        while ticket.fate.load(Ordering::Acquire) == PENDING {
            queue = self
                .pipeline
                .moved
                .wait(queue)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// The writer lock once no batch is queued: the head it guards is the one the store holds.
    /// Everything but a filing's build takes the writer lock this way.
    pub(super) fn settled(&self) -> Result<MutexGuard<'_, State>, ArchiveError> {
        let mut state = lock(&self.state);
        self.pipeline.wait_idle();
        if state.generation != self.pipeline.generation() {
            self.reset(&mut state)?;
        }
        Ok(state)
    }

    /// Goes back to the head the store holds after the queue failed (what was built on the
    /// failed batch is not to be). Only with the writer lock and an empty queue.
    fn reset(&self, state: &mut State) -> Result<(), ArchiveError> {
        let queue = lock(&self.pipeline.queue);
        if state.generation == queue.generation {
            return Ok(());
        }
        let generation = queue.generation;
        let rollback = queue.rollback.clone();
        drop(queue);
        let mut head = match rollback {
            Some(head) => head,
            None => {
                let store = self.store.as_ref();
                let mut head = super::stored_head(store)?;
                head.filed = super::last_filed(store, head.size)?;
                head
            }
        };
        // The tiles' edge moved only with batches applied, so it is at this size already.
        head.generation = generation;
        *state = head;
        Ok(())
    }
}

/// 503 "try later": the batch could not be applied, or one queued before it, on which it was
/// built, could not (the store's error goes to the log).
fn failed() -> ArchiveError {
    ArchiveError::Store(StoreError::Unwritable(
        "this filing, or one queued before it that it was built on, could not be stored: \
         nothing of it was filed; retry"
            .into(),
    ))
}
