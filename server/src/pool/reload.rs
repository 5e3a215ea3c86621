//! A config reload's effect on the pool: the new catalogue is swapped in
//! whole. Entries whose spec (file, size, llama-server settings) did not
//! change are kept with their process, so a reload never restarts a model
//! it did not touch. Removed and replaced entries are retired: their calls
//! in flight finish on the old process, which is then stopped and reaped
//! (it holds its slot until it has exited, like any other stopping child).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::entry::ModelEntry;
use super::{Catalogue, LocalModelSpec, Pool, PoolEvent, loader};

/// What a reload changed in the local catalogue (ids, sorted).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CatalogueChange {
    /// New ids.
    pub added: Vec<String>,
    /// Ids no longer catalogued.
    pub removed: Vec<String>,
    /// Ids whose file or settings changed: a new process on next use.
    pub replaced: Vec<String>,
    /// Ids kept as they were (with their process, if warm).
    pub unchanged: Vec<String>,
}

impl Pool {
    /// Swaps in `catalogue` (with `preload` as the new preload list) and
    /// retires what it drops or replaces. Returns at once; retired processes
    /// drain in the background.
    pub fn apply_catalogue(
        &self,
        catalogue: BTreeMap<String, LocalModelSpec>,
        preload: &[String],
    ) -> CatalogueChange {
        let inner = &self.inner;
        let old = inner.entries.load_full();
        let mut change = CatalogueChange::default();
        let mut next = Catalogue::new();
        let mut retired = Vec::new();
        for (id, spec) in catalogue {
            let preloaded = preload.contains(&id);
            let entry = match old.get(&id) {
                Some(kept) if kept.spec == spec => {
                    kept.preload.store(preloaded, Ordering::Release);
                    change.unchanged.push(id.clone());
                    kept.clone()
                }
                Some(stale) => {
                    retired.push(stale.clone());
                    change.replaced.push(id.clone());
                    Arc::new(ModelEntry::new(spec, preloaded))
                }
                None => {
                    change.added.push(id.clone());
                    Arc::new(ModelEntry::new(spec, preloaded))
                }
            };
            next.insert(id, entry);
        }
        for (id, gone) in old.iter() {
            if !next.contains_key(id) {
                change.removed.push(id.clone());
                retired.push(gone.clone());
            }
        }
        // Swapped before any entry is flagged: a caller that finds its entry
        // retired looks the id up again and must find the new map.
        inner.entries.store(Arc::new(next));
        for entry in retired {
            entry.retired.store(true, Ordering::Release);
            entry.pinned.store(false, Ordering::Release);
            let pool = self.clone();
            inner
                .tasks
                .spawn(async move { pool.drain_retired(entry).await });
        }
        for id in change.added.iter().chain(&change.replaced) {
            inner.events.send(PoolEvent::Added { model: id.clone() });
        }
        for id in &change.removed {
            inner.events.send(PoolEvent::Removed { model: id.clone() });
        }
        for entry in inner.entries.load().values() {
            if entry.is_preloaded() {
                loader::preload(inner, entry.clone());
            }
        }
        change
    }

    /// Lets a retired entry's calls finish, then stops its process; at
    /// shutdown, stops it at once.
    async fn drain_retired(&self, entry: Arc<ModelEntry>) {
        let stop = self.inner.shutdown.clone();
        tokio::select! {
            _ = self.unload_when_idle(&entry) => {}
            _ = stop.cancelled() => {
                self.unload_now(&entry).await;
            }
        }
    }
}
