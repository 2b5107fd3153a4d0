//! Encoded utterances kept by (text, sample rate), so that the phrases an agent repeats
//! ("Thanks for your time. Goodbye.") cost nothing after the first time.
//!
//! Bounded by bytes; when full, the least recently used entries go first. Eviction scans
//! every entry, which is fine for the few thousand a phone test produces.

use crate::speech_code::{self, EncodeError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

struct Entry {
    pcm: Arc<[i16]>,
    last_used: u64,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<(String, u32), Entry>,
    /// Ticks on every lookup: the recency order.
    clock: u64,
    bytes: usize,
    hits: u64,
    misses: u64,
}

/// The cache of encoded utterances.
pub(crate) struct SpeechCache {
    budget: usize,
    inner: Mutex<Inner>,
}

impl SpeechCache {
    /// A cache holding at most `budget` bytes of PCM.
    pub(crate) fn new(budget: usize) -> Self {
        SpeechCache {
            budget,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `text` as 16-bit PCM at `rate` Hz, encoded now (off the async threads) or reused.
    pub(crate) async fn utterance(&self, text: &str, rate: u32) -> Result<Arc<[i16]>, EncodeError> {
        let key = (text.to_string(), rate);
        {
            let mut inner = self.lock();
            inner.clock += 1;
            let now = inner.clock;
            if let Some(entry) = inner.entries.get_mut(&key) {
                entry.last_used = now;
                let pcm = entry.pcm.clone();
                inner.hits += 1;
                return Ok(pcm);
            }
            inner.misses += 1;
        }
        let owned = key.0.clone();
        // Encoding a long utterance at 48 kHz takes milliseconds of sine evaluation.
        let encoded = tokio::task::spawn_blocking(move || speech_code::encode(&owned, rate)).await;
        let pcm: Arc<[i16]> = match encoded {
            Ok(result) => result?.into(),
            // The encoder panicked (or the runtime is going away): fail this request the
            // same way rather than invent an encoding error.
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        };
        self.insert(key, pcm.clone());
        Ok(pcm)
    }

    fn insert(&self, key: (String, u32), pcm: Arc<[i16]>) {
        let size = pcm.len() * 2 + key.0.len();
        if size > self.budget {
            return;
        }
        let mut inner = self.lock();
        while inner.bytes + size > self.budget {
            let Some(oldest) = inner
                .entries
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(gone) = inner.entries.remove(&oldest) {
                inner.bytes -= gone.pcm.len() * 2 + oldest.0.len();
            }
        }
        let now = inner.clock;
        let replaced = inner.entries.insert(
            key.clone(),
            Entry {
                pcm,
                last_used: now,
            },
        );
        inner.bytes += size;
        if let Some(old) = replaced {
            inner.bytes -= old.pcm.len() * 2 + key.0.len();
        }
    }

    /// Lookups answered from the cache and lookups that had to encode.
    pub(crate) fn stats(&self) -> (u64, u64) {
        let inner = self.lock();
        (inner.hits, inner.misses)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_repeated_phrase_is_encoded_once() {
        let cache = SpeechCache::new(1 << 20);
        let first = cache.utterance("goodbye", 8000).await.expect("ascii");
        let again = cache.utterance("goodbye", 8000).await.expect("ascii");
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(cache.stats(), (1, 1));
        cache.utterance("goodbye", 16000).await.expect("ascii");
        assert_eq!(cache.stats(), (1, 2));
    }

    #[tokio::test]
    async fn the_least_recently_used_entry_goes_when_the_budget_is_reached() {
        let one = speech_code::utterance_samples(1, 8000) * 2 + 1;
        let cache = SpeechCache::new(one * 2);
        cache.utterance("a", 8000).await.expect("ascii");
        cache.utterance("b", 8000).await.expect("ascii");
        cache.utterance("a", 8000).await.expect("ascii");
        cache.utterance("c", 8000).await.expect("ascii");
        // "b" was the least recently used: gone; "a" stays.
        cache.utterance("a", 8000).await.expect("ascii");
        assert_eq!(cache.stats(), (2, 3));
        cache.utterance("b", 8000).await.expect("ascii");
        assert_eq!(cache.stats(), (2, 4));
    }
}
