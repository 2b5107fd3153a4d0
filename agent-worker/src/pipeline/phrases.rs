//! Phrases the agent says often (first messages, voicemail messages, re-prompts, the
//! apology) are synthesised once per voice and kept, shared by every call in the process.
//! A campaign's first message then costs no TTS request and starts with no TTS latency.

use crate::providers::{ProviderError, Tts, TtsRequest};
use futures::StreamExt;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

/// Identifies one rendering of a phrase.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PhraseKey {
    pub provider: String,
    pub voice: String,
    pub model: Option<String>,
    pub text: String,
}

#[derive(Debug, Default)]
struct Store {
    audio: HashMap<PhraseKey, Arc<[u8]>>,
    /// Insertion order, for evicting the oldest when over budget.
    order: VecDeque<PhraseKey>,
    bytes: usize,
}

/// A bounded cache of synthesised phrases (8 kHz mu-law).
#[derive(Debug, Clone)]
pub struct PhraseCache {
    store: Arc<Mutex<Store>>,
    max_bytes: usize,
}

impl PhraseCache {
    /// A cache holding at most `max_bytes` of audio.
    pub fn new(max_bytes: usize) -> Self {
        PhraseCache {
            store: Arc::default(),
            max_bytes,
        }
    }

    /// The cached audio, if any.
    pub fn get(&self, key: &PhraseKey) -> Option<Arc<[u8]>> {
        self.lock().audio.get(key).cloned()
    }

    /// Keeps `audio` for `key`, evicting the oldest phrases past the budget.
    pub fn put(&self, key: PhraseKey, audio: Arc<[u8]>) {
        let mut store = self.lock();
        if audio.len() > self.max_bytes || store.audio.contains_key(&key) {
            return;
        }
        store.bytes += audio.len();
        store.order.push_back(key.clone());
        store.audio.insert(key, audio);
        while store.bytes > self.max_bytes {
            let Some(old) = store.order.pop_front() else {
                break;
            };
            if let Some(evicted) = store.audio.remove(&old) {
                store.bytes -= evicted.len();
            }
        }
    }

    /// The phrase's audio from the cache, or synthesised in full with `tts` and cached.
    pub async fn get_or_synthesize(
        &self,
        key: PhraseKey,
        tts: &dyn Tts,
    ) -> Result<Arc<[u8]>, ProviderError> {
        if let Some(audio) = self.get(&key) {
            return Ok(audio);
        }
        let mut stream = tts
            .synthesize(TtsRequest {
                text: key.text.clone(),
                voice: key.voice.clone(),
                model: key.model.clone(),
            })
            .await?;
        let mut audio = Vec::new();
        while let Some(chunk) = stream.next().await {
            audio.extend_from_slice(&chunk?);
        }
        let audio: Arc<[u8]> = audio.into();
        self.put(key, audio.clone());
        Ok(audio)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Store> {
        // A panic while holding the lock leaves a consistent map; keep serving it.
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> PhraseKey {
        PhraseKey {
            provider: "elevenlabs".into(),
            voice: "v".into(),
            model: None,
            text: text.into(),
        }
    }

    #[test]
    fn keeps_phrases_within_its_budget_oldest_out_first() {
        let cache = PhraseCache::new(250);
        cache.put(key("a"), vec![1u8; 100].into());
        cache.put(key("b"), vec![2u8; 100].into());
        assert!(cache.get(&key("a")).is_some());
        cache.put(key("c"), vec![3u8; 100].into());
        assert!(cache.get(&key("a")).is_none());
        assert_eq!(cache.get(&key("c")).as_deref(), Some(&[3u8; 100][..]));
        cache.put(key("huge"), vec![0u8; 1000].into());
        assert!(cache.get(&key("huge")).is_none());
    }
}
