//! Prefix affinity's memory: a prompt cut into 64-byte blocks whose hashes
//! are chained (each block's hash is seeded with the one before, the first
//! with the model id), so one block hash stands for the whole prefix up to
//! it; and per host, a bounded LRU of the block hashes it was sent, which
//! approximates what its prompt cache holds (llm-d's approximate prefix
//! scorer has this shape).
//!
//! Unlike an approximate peer, the index is corrected by what the host says
//! it reused (`cached_tokens`, llama-server's `cache_n`): when a host
//! reports less reuse than the index predicted, it keeps fewer prompts than
//! the index assumed, so the host's index shrinks by the blocks it forgot; when
//! the prediction holds, it grows back (additively) up to its configured
//! size. The index so follows each host's cache size roughly: smaller
//! while the host forgets, larger while predictions hold.
//!
//! Only hashes are kept: prompt text never leaves the request.

use std::num::NonZeroUsize;

use lru::LruCache;
use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

use crate::domain::ChatMessage;

/// Bytes per block (llm-d's approximate scorer uses 64 characters).
pub const BLOCK_BYTES: usize = 64;
/// Blocks hashed per prompt (16 KiB): bounds the work per request; longer
/// prompts are told apart by their first 16 KiB.
pub const MAX_BLOCKS: usize = 256;
/// Smallest size a host's index shrinks to.
const MIN_CAPACITY: usize = 64;

/// The chained block hashes of a conversation for `model`: roles and
/// contents in order, a partial last block left out (it cannot be matched
/// by a longer prompt anyway).
pub fn prompt_blocks(model: &str, messages: &[ChatMessage]) -> Vec<u64> {
    let mut chain = Chain {
        previous: xxh3_64(model.as_bytes()),
        buffer: [0; BLOCK_BYTES],
        filled: 0,
        blocks: Vec::new(),
    };
    for m in messages {
        if !chain.feed(m.role.as_str().as_bytes())
            || !chain.feed(b"\n")
            || !chain.feed(m.content.as_bytes())
            || !chain.feed(b"\0")
        {
            break;
        }
    }
    chain.blocks
}

/// The prompt's bytes so far, cut into chained blocks.
struct Chain {
    previous: u64,
    buffer: [u8; BLOCK_BYTES],
    filled: usize,
    blocks: Vec<u64>,
}

impl Chain {
    /// Adds bytes; false once `MAX_BLOCKS` blocks are full.
    fn feed(&mut self, mut bytes: &[u8]) -> bool {
        while !bytes.is_empty() {
            if self.blocks.len() >= MAX_BLOCKS {
                return false;
            }
            let take = (BLOCK_BYTES - self.filled).min(bytes.len());
            self.buffer[self.filled..self.filled + take].copy_from_slice(&bytes[..take]);
            self.filled += take;
            bytes = &bytes[take..];
            if self.filled == BLOCK_BYTES {
                self.previous = xxh3_64_with_seed(&self.buffer, self.previous);
                self.blocks.push(self.previous);
                self.filled = 0;
            }
        }
        self.blocks.len() < MAX_BLOCKS
    }
}

/// One host's remembered prompt blocks.
#[derive(Debug)]
pub struct PrefixIndex {
    blocks: LruCache<u64, ()>,
    /// The configured size: the index never grows past it.
    max: usize,
}

impl PrefixIndex {
    /// An empty index of at most `max` blocks (at least 64).
    pub fn new(max: usize) -> PrefixIndex {
        let max = max.max(MIN_CAPACITY);
        PrefixIndex {
            blocks: LruCache::new(nonzero(max)),
            max,
        }
    }

    /// How many leading blocks of `blocks` the host likely holds. Looks
    /// without refreshing: only a request actually sent refreshes.
    pub fn matched(&self, blocks: &[u64]) -> usize {
        blocks
            .iter()
            .take_while(|b| self.blocks.contains(b))
            .count()
    }

    /// Remembers a prompt the host has just processed.
    pub fn insert(&mut self, blocks: &[u64]) {
        for b in blocks {
            self.blocks.put(*b, ());
        }
    }

    /// Corrects the index by what the host reported: it reused about
    /// `reused` blocks where `predicted` were expected.
    pub fn observe(&mut self, predicted: usize, reused: usize) {
        let capacity = self.capacity();
        if reused + 1 < predicted {
            // It forgot blocks the index still holds: it keeps that many
            // less. (Not a share of everything: a llama-server that gives
            // a slot to another prompt drops that one prompt, and a
            // quarter of the index forgotten at once sent prompts it
            // still held elsewhere, so they missed too.)
            let forgot = predicted - reused;
            let smaller = self
                .blocks
                .len()
                .min(capacity)
                .saturating_sub(forgot)
                .max(MIN_CAPACITY);
            self.blocks.resize(nonzero(smaller));
        } else if predicted > 0 && capacity < self.max {
            let larger = (capacity + predicted.max(MIN_CAPACITY)).min(self.max);
            self.blocks.resize(nonzero(larger));
        }
    }

    /// Blocks it may hold now.
    pub fn capacity(&self) -> usize {
        self.blocks.cap().get()
    }

    /// Blocks it holds now.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.blocks.len()
    }
}

/// `n` as an LRU size, which may not be 0 (1 then).
pub(super) fn nonzero(n: usize) -> NonZeroUsize {
    NonZeroUsize::new(n).unwrap_or(NonZeroUsize::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Role;

    fn conversation(system: &str, user: &str) -> Vec<ChatMessage> {
        vec![
            ChatMessage::text(Role::System, system),
            ChatMessage::text(Role::User, user),
        ]
    }

    #[test]
    fn shared_prefixes_share_leading_blocks_and_models_do_not() {
        let system = "You are a support agent for customer 7. ".repeat(10);
        let a = prompt_blocks("m", &conversation(&system, "first question"));
        let b = prompt_blocks("m", &conversation(&system, "another, longer question here"));
        let shared = system.len() / BLOCK_BYTES;
        assert!(shared >= 5);
        assert_eq!(a[..shared], b[..shared]);
        let other_model = prompt_blocks("n", &conversation(&system, "first question"));
        assert!(other_model.iter().all(|h| !a.contains(h)));
        // A short prompt has no full block.
        assert!(prompt_blocks("m", &conversation("hi", "there")).is_empty());
    }

    #[test]
    fn blocks_are_bounded() {
        let huge = "x".repeat(BLOCK_BYTES * MAX_BLOCKS * 2);
        assert_eq!(
            prompt_blocks("m", &conversation(&huge, "q")).len(),
            MAX_BLOCKS
        );
    }

    #[test]
    fn the_index_matches_leading_blocks_and_forgets_the_least_recent() {
        let mut index = PrefixIndex::new(MIN_CAPACITY);
        let first: Vec<u64> = (0..40).collect();
        index.insert(&first);
        assert_eq!(index.matched(&first), 40);
        assert_eq!(index.matched(&[0, 1, 99, 3]), 2, "leading blocks only");
        let second: Vec<u64> = (100..140).collect();
        index.insert(&second);
        assert_eq!(index.len(), MIN_CAPACITY);
        assert_eq!(index.matched(&first), 0, "the oldest blocks went first");
        assert_eq!(index.matched(&second), 40);
    }

    #[test]
    fn reports_of_less_reuse_shrink_the_index_and_kept_predictions_grow_it() {
        let mut index = PrefixIndex::new(1024);
        let blocks: Vec<u64> = (0..512).collect();
        index.insert(&blocks);
        // 100 blocks predicted, 28 reused: it holds 72 fewer than assumed.
        index.observe(100, 28);
        assert_eq!(index.capacity(), 440);
        assert_eq!(index.len(), 440);
        // Within one block of the prediction: no shrink, growth.
        index.observe(100, 99);
        assert_eq!(index.capacity(), 540);
        index.observe(1000, 1000);
        assert_eq!(index.capacity(), 1024, "never past the configured size");
        // Nothing predicted, nothing learned.
        index.observe(0, 0);
        assert_eq!(index.capacity(), 1024);
        // Never below the floor.
        index.observe(5000, 0);
        assert_eq!(index.capacity(), MIN_CAPACITY);
    }
}
