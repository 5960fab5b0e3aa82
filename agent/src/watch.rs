//! File-system events on the inputs' folders (inotify, through the `notify` crate), as
//! wake-ups: the loop then reads and scans at once instead of at its next poll. Events
//! are only hints: polling still finds everything if the watch cannot be set up.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use notify::{RecommendedWatcher, RecursiveMode, Watcher as _};
use tokio::sync::mpsc;

use crate::config::Input;
use crate::discover::folders;

pub struct Watcher {
    inner: Option<RecommendedWatcher>,
    wake: mpsc::Sender<()>,
    watched: Vec<PathBuf>,
    /// Set when a file was created, renamed or removed: the globs are looked at again at
    /// once (a rotation's new file, before it too is renamed away).
    pub rescan: Arc<AtomicBool>,
}

impl Watcher {
    pub fn new(wake: mpsc::Sender<()>) -> Watcher {
        Watcher { inner: None, wake, watched: Vec::new(), rescan: Arc::default() }
    }

    /// Watches the folders of `inputs` (and no others).
    pub fn watch(&mut self, inputs: &[Input]) {
        let wanted = folders(inputs);
        if wanted == self.watched && self.inner.is_some() {
            return;
        }
        let (wake, rescan) = (self.wake.clone(), self.rescan.clone());
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            use notify::EventKind::{Create, Modify, Remove};
            use notify::event::ModifyKind;
            let names_changed = match &event {
                Ok(e) => matches!(e.kind, Create(_) | Remove(_) | Modify(ModifyKind::Name(_))),
                Err(_) => true,
            };
            if names_changed {
                rescan.store(true, Ordering::SeqCst);
            }
            // A full channel already holds a wake-up.
            let _ = wake.try_send(());
        });
        let mut watcher = match watcher {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!(error = %e, "no file-system events; polling only");
                self.inner = None;
                return;
            }
        };
        for dir in &wanted {
            let recursive = inputs.iter().flat_map(|i| &i.paths).any(|p| p.contains("**"));
            let mode = if recursive { RecursiveMode::Recursive } else { RecursiveMode::NonRecursive };
            if let Err(e) = watcher.watch(dir, mode) {
                tracing::debug!(dir = %dir.display(), error = %e, "cannot watch; polling it");
            }
        }
        self.inner = Some(watcher);
        self.watched = wanted;
    }
}
