//! What kind of filesystem a path lives on.
//!
//! SQLite must not run on a network filesystem (its locks are unreliable
//! there), while the logs directory is expected to be on one when jobctl spans
//! machines. `statfs(2)` tells the two apart.

use std::path::Path;

/// The name of the network filesystem `path` is on, or `None` when it is
/// local (or cannot be told).
pub fn network_filesystem(path: &Path) -> Option<&'static str> {
    let stat = nix::sys::statfs::statfs(path).ok()?;
    network_kind(stat.filesystem_type().0 as i64)
}

/// Maps a `statfs` magic number to a network filesystem's name.
fn network_kind(magic: i64) -> Option<&'static str> {
    // Magic numbers from linux/magic.h and the filesystems' own sources.
    Some(match magic as u32 {
        0x6969 => "NFS",
        0x517B => "SMB",
        0xFF53_4D42 => "CIFS",
        0xFE53_4D42 => "SMB2",
        0x00C3_6400 => "CephFS",
        0x5346_414F => "AFS",
        0x0BD0_0BD0 => "Lustre",
        0x4750_4653 => "GPFS",
        0x0102_1997 => "9P",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_network_magics_are_named() {
        assert_eq!(network_kind(0x6969), Some("NFS"));
        assert_eq!(network_kind(0xFF53_4D42), Some("CIFS"));
        assert_eq!(network_kind(0xEF53), None, "ext4 is local");
        assert_eq!(network_kind(0x0102_1994), None, "tmpfs is local");
    }

    #[test]
    fn a_temp_dir_is_local() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(network_filesystem(dir.path()), None);
    }
}
