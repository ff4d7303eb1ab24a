//! Where the models and the built web app are found when not configured.

use std::path::{Path, PathBuf};

/// Candidates for a directory named `name`: `./name`, then the checkout the
/// binary was built in (`target/<profile>/ocrchat` → `<checkout>/name`).
fn candidates(name: &str) -> Vec<PathBuf> {
    let mut out = vec![PathBuf::from(name)];
    if let Ok(exe) = std::env::current_exe() {
        if let Some(root) = exe.ancestors().nth(3) {
            out.push(root.join(name));
        }
    }
    out
}

/// The models directory: explicit, else the first candidate holding `manifest.json`.
pub fn find_models_dir(explicit: Option<&Path>) -> PathBuf {
    if let Some(dir) = explicit {
        return dir.to_path_buf();
    }
    let all = candidates("models");
    all.iter().find(|d| d.join("manifest.json").is_file()).cloned().unwrap_or_else(|| all[0].clone())
}

/// The built web app: explicit, else the first `dist/` holding `index.html`.
pub fn find_web_dir(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(dir) = explicit {
        return Some(dir.to_path_buf());
    }
    candidates("dist").into_iter().find(|d| d.join("index.html").is_file())
}
