//! Where settings come from: flags, then `JOBCTL_*` variables (both through
//! clap), then the config file, then defaults — and the files `jobctl up`
//! leaves in its data dir so that client commands on the same machine work
//! with no set-up.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

/// The api's address when nothing else says.
pub const DEFAULT_API_LISTEN: &str = "127.0.0.1:8765";
/// The web UI's address when nothing else says.
pub const DEFAULT_WEB_LISTEN: &str = "127.0.0.1:8766";
/// File in the data dir holding the admin token `jobctl up` created.
pub const ADMIN_TOKEN_FILE: &str = "admin.token";
/// File in the data dir holding the worker token `jobctl up` created.
pub const WORKER_TOKEN_FILE: &str = "worker.token";
/// File in the data dir holding the api URL of the last `jobctl up`.
pub const API_URL_FILE: &str = "api-url";

/// `~/.config/jobctl/config.toml`, every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// The api's base URL, for client commands and workers.
    pub api_url: Option<String>,
    /// A token, for client commands and workers.
    pub token: Option<String>,
    /// A file holding the token instead.
    pub token_file: Option<PathBuf>,
    /// The data dir (SQLite file and logs) for the services.
    pub data_dir: Option<PathBuf>,
    /// The database URL for `api` and `token`.
    pub database_url: Option<String>,
    /// The logs dir for `api` and `worker`.
    pub logs_dir: Option<PathBuf>,
}

impl ConfigFile {
    /// The default location: `$XDG_CONFIG_HOME/jobctl/config.toml`.
    pub fn default_path() -> Option<PathBuf> {
        dirs::config_dir().map(|d| d.join("jobctl").join("config.toml"))
    }

    /// Reads `explicit` (an error if missing) or the default path (fine if
    /// missing).
    pub fn load(explicit: Option<&Path>) -> anyhow::Result<Self> {
        let (path, required) = match explicit {
            Some(p) => (p.to_path_buf(), true),
            None => match Self::default_path() {
                Some(p) => (p, false),
                None => return Ok(Self::default()),
            },
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
                return Ok(Self::default());
            }
            Err(e) if !required => {
                // A service whose home is hidden (systemd ProtectHome) must
                // still start; flags and variables carry its settings.
                tracing::warn!(path = %path.display(), error = %e, "ignoring the unreadable default config file");
                return Ok(Self::default());
            }
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
    }
}

/// The data dir: flag or variable, then config file, then
/// `$XDG_DATA_HOME/jobctl` (`~/.local/share/jobctl`).
pub fn data_dir(flag: Option<&Path>, file: &ConfigFile) -> anyhow::Result<PathBuf> {
    if let Some(d) = flag.or(file.data_dir.as_deref()) {
        return Ok(d.to_path_buf());
    }
    dirs::data_dir()
        .map(|d| d.join("jobctl"))
        .context("cannot find a data dir (no $HOME); pass --data-dir")
}

/// The database URL: flag, config file, else SQLite in the data dir.
pub fn database_url(flag: Option<&str>, file: &ConfigFile, data_dir: &Path) -> String {
    flag.map(str::to_string)
        .or_else(|| file.database_url.clone())
        .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("jobctl.db").display()))
}

/// The logs dir: flag, config file, else `logs` in the data dir.
pub fn logs_dir(flag: Option<&Path>, file: &ConfigFile, data_dir: &Path) -> PathBuf {
    flag.map(Path::to_path_buf)
        .or_else(|| file.logs_dir.clone())
        .unwrap_or_else(|| data_dir.join("logs"))
}

/// Reads a one-line file from the data dir, if there is one.
pub fn read_data_file(data_dir: &Path, name: &str) -> Option<String> {
    let text = std::fs::read_to_string(data_dir.join(name)).ok()?;
    let line = text.trim();
    (!line.is_empty()).then(|| line.to_string())
}

/// Writes `contents` to `path` readable by its owner only, replacing it
/// atomically so a reader never sees half a token.
pub fn write_private_file(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot create {}", tmp.display()))?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

/// Reads a token from a file that no one but its owner can read: a token
/// readable by others is as good as theirs.
pub fn read_token_file(path: &Path) -> anyhow::Result<String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path)
        .with_context(|| format!("cannot read token file {}", path.display()))?;
    let mode = meta.mode() & 0o777;
    if mode & 0o044 != 0 {
        anyhow::bail!(
            "token file {} is readable by {} (mode {mode:o}); a token others can read is theirs \
             to use: chmod 600 {}",
            path.display(),
            if mode & 0o004 != 0 {
                "everyone"
            } else {
                "its group"
            },
            path.display()
        );
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read token file {}", path.display()))?;
    let token = text.trim();
    if token.is_empty() {
        anyhow::bail!("token file {} is empty", path.display());
    }
    Ok(token.to_string())
}

/// The api URL: flag or variable, config file, what `jobctl up` wrote in the
/// data dir, else the default local address.
pub fn api_url(flag: Option<&str>, file: &ConfigFile, data_dir: Option<&Path>) -> String {
    flag.map(str::to_string)
        .or_else(|| file.api_url.clone())
        .or_else(|| data_dir.and_then(|d| read_data_file(d, API_URL_FILE)))
        .unwrap_or_else(|| format!("http://{DEFAULT_API_LISTEN}"))
}

/// The token: flag or variable (`--token`, then `--token-file`), then the
/// config file's `token` or `token_file`, then `fallback` (a file `jobctl
/// up` wrote in the data dir).
pub fn token(
    flag: Option<&str>,
    flag_file: Option<&Path>,
    file: &ConfigFile,
    fallback: Option<&Path>,
) -> anyhow::Result<Option<String>> {
    if let Some(t) = flag {
        return Ok(Some(t.trim().to_string()));
    }
    if let Some(path) = flag_file {
        return read_token_file(path).map(Some);
    }
    if let Some(t) = &file.token {
        return Ok(Some(t.trim().to_string()));
    }
    if let Some(path) = &file.token_file {
        return read_token_file(path).map(Some);
    }
    Ok(fallback.and_then(|p| {
        let dir = p.parent()?;
        read_data_file(dir, p.file_name()?.to_str()?)
    }))
}
