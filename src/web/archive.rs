//! Unpacking a `.zip` or `.tar.gz` of dumps for a batch, with limits: entry count,
//! bytes per entry and in all, and expansion ratio (zip bombs), and no path that could
//! leave the target folder (entries are written under fresh random names anyway; an
//! unsafe name is refused so that the client learns its archive is suspicious).
//!
//! Synchronous: run it on a blocking thread.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// Archive container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// PKZIP.
    Zip,
    /// gzip-compressed tar.
    TarGz,
}

impl Kind {
    /// The kind a client file name announces (`.zip`, `.tar.gz`, `.tgz`).
    pub fn of_name(name: &str) -> Option<Self> {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".zip") {
            Some(Kind::Zip)
        } else if lower.ends_with(".tar.gz") || lower.ends_with(".tgz") {
            Some(Kind::TarGz)
        } else {
            None
        }
    }
}

/// Budgets for one archive.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most dump entries.
    pub max_entries: usize,
    /// Most bytes one entry may expand to.
    pub max_entry_bytes: u64,
    /// Most bytes all entries together may expand to.
    pub max_total_bytes: u64,
    /// Largest expansion ratio (uncompressed / compressed) once past `ratio_floor` bytes.
    pub max_ratio: u64,
    /// Below this many bytes the ratio is not checked (tiny files compress well).
    pub ratio_floor: u64,
}

/// Which side an entry's folder names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FolderRole {
    /// Under a `baseline/` folder.
    Baseline,
    /// Under a `candidate/` (or `candidates/`) folder.
    Candidate,
}

/// One unpacked dump.
#[derive(Debug)]
pub struct Entry {
    /// The entry's file name (last component).
    pub name: String,
    /// Role from its folder, if any.
    pub role: Option<FolderRole>,
    /// Where it was written.
    pub path: PathBuf,
    /// Its size.
    pub size: u64,
}

/// Why an archive was refused.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// An entry's name is absolute or climbs out with `..`.
    #[error("archive entry {0:?} has an unsafe path (absolute or containing '..')")]
    UnsafePath(String),
    /// Too many dumps.
    #[error("archive has more than {0} dump entries")]
    TooManyEntries(usize),
    /// An entry or the whole archive expands beyond the limits.
    #[error("archive entry {entry:?} expands beyond the limits ({why}); refusing it as a possible zip bomb")]
    Bomb {
        /// The entry.
        entry: String,
        /// Which limit.
        why: String,
    },
    /// Not a readable archive of that kind.
    #[error("not a readable {kind} archive: {msg}")]
    Corrupt {
        /// zip or tar.gz.
        kind: &'static str,
        /// Reader's message.
        msg: String,
    },
    /// Writing an entry failed.
    #[error("writing an unpacked entry: {0}")]
    Io(String),
}

const DUMP_EXTENSIONS: &[&str] = &["prof", "pstats", "pkl"];

/// Checks an entry name; returns its components (without empty and `.` ones).
fn safe_components(name: &str) -> Result<Vec<&str>, ArchiveError> {
    let unsafe_path = || ArchiveError::UnsafePath(name.chars().take(200).collect());
    if name.starts_with('/')
        || name.starts_with('\\')
        || name.contains('\0')
        || name.get(1..2) == Some(":")
    {
        return Err(unsafe_path());
    }
    let parts: Vec<&str> = name
        .split(['/', '\\'])
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    if parts.contains(&"..") {
        return Err(unsafe_path());
    }
    Ok(parts)
}

fn role_of(folders: &[&str]) -> Option<FolderRole> {
    folders
        .iter()
        .find_map(|f| match f.to_ascii_lowercase().as_str() {
            "baseline" | "baselines" => Some(FolderRole::Baseline),
            "candidate" | "candidates" => Some(FolderRole::Candidate),
            _ => None,
        })
}

fn is_dump(file: &str) -> bool {
    !file.starts_with('.')
        && file
            .rsplit_once('.')
            .is_some_and(|(_, e)| DUMP_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

struct Unpacker<'a> {
    out_dir: &'a Path,
    limits: Limits,
    total: u64,
    entries: Vec<Entry>,
}

impl Unpacker<'_> {
    /// Copies one entry to a fresh file, enforcing the byte budgets as it reads (declared
    /// sizes are not trusted). `compressed` is the entry's compressed size when known.
    fn take(
        &mut self,
        raw_name: &str,
        mut reader: impl Read,
        compressed: Option<u64>,
    ) -> Result<(), ArchiveError> {
        let parts = safe_components(raw_name)?;
        let Some((file, folders)) = parts.split_last() else {
            return Ok(());
        };
        if !is_dump(file) || folders.iter().any(|f| f.starts_with("__MACOSX")) {
            return Ok(());
        }
        if self.entries.len() >= self.limits.max_entries {
            return Err(ArchiveError::TooManyEntries(self.limits.max_entries));
        }
        let path = self.out_dir.join(uuid::Uuid::new_v4().simple().to_string());
        let mut out = File::create(&path).map_err(|e| ArchiveError::Io(e.to_string()))?;
        let mut size: u64 = 0;
        let mut buf = vec![0u8; 64 * 1024];
        let bomb = |why: String| ArchiveError::Bomb {
            entry: raw_name.chars().take(200).collect(),
            why,
        };
        let result = loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    break Err(ArchiveError::Corrupt {
                        kind: "archive",
                        msg: e.to_string(),
                    })
                }
            };
            size += n as u64;
            self.total += n as u64;
            if size > self.limits.max_entry_bytes {
                break Err(bomb(format!(
                    "more than {} bytes",
                    self.limits.max_entry_bytes
                )));
            }
            if self.total > self.limits.max_total_bytes {
                break Err(bomb(format!(
                    "all entries together more than {} bytes",
                    self.limits.max_total_bytes
                )));
            }
            if let Some(c) = compressed {
                if size > self.limits.ratio_floor
                    && size > c.max(1).saturating_mul(self.limits.max_ratio)
                {
                    break Err(bomb(format!(
                        "expansion ratio above {}:1",
                        self.limits.max_ratio
                    )));
                }
            }
            if let Some(chunk) = buf.get(..n) {
                if let Err(e) = out.write_all(chunk) {
                    break Err(ArchiveError::Io(e.to_string()));
                }
            }
        };
        drop(out);
        if let Err(e) = result {
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
        self.entries.push(Entry {
            name: (*file).to_owned(),
            role: role_of(folders),
            path,
            size,
        });
        Ok(())
    }

    fn cleanup(&self) {
        for e in &self.entries {
            let _ = std::fs::remove_file(&e.path);
        }
    }
}

/// Unpacks the dumps of an archive file into `out_dir` under random names. On any error
/// nothing it wrote is left behind.
pub fn unpack(
    archive: &Path,
    kind: Kind,
    out_dir: &Path,
    limits: Limits,
) -> Result<Vec<Entry>, ArchiveError> {
    let mut u = Unpacker {
        out_dir,
        limits,
        total: 0,
        entries: Vec::new(),
    };
    let result = match kind {
        Kind::Zip => unpack_zip(archive, &mut u),
        Kind::TarGz => unpack_tar_gz(archive, &mut u),
    };
    match result {
        Ok(()) => Ok(u.entries),
        Err(e) => {
            u.cleanup();
            Err(e)
        }
    }
}

fn unpack_zip(archive: &Path, u: &mut Unpacker<'_>) -> Result<(), ArchiveError> {
    let corrupt = |e: zip::result::ZipError| ArchiveError::Corrupt {
        kind: "zip",
        msg: e.to_string(),
    };
    let f = File::open(archive).map_err(|e| ArchiveError::Io(e.to_string()))?;
    let mut z = zip::ZipArchive::new(f).map_err(corrupt)?;
    // The central directory's count is a claim; bound the loop by it only after checking.
    if z.len() > u.limits.max_entries.saturating_mul(4).max(64) {
        return Err(ArchiveError::TooManyEntries(u.limits.max_entries));
    }
    for i in 0..z.len() {
        let entry = z.by_index(i).map_err(corrupt)?;
        if entry.is_dir() {
            safe_components(entry.name())?;
            continue;
        }
        let name = entry.name().to_owned();
        let compressed = entry.compressed_size();
        u.take(&name, entry, Some(compressed))?;
    }
    Ok(())
}

fn unpack_tar_gz(archive: &Path, u: &mut Unpacker<'_>) -> Result<(), ArchiveError> {
    let corrupt = |e: io::Error| ArchiveError::Corrupt {
        kind: "tar.gz",
        msg: e.to_string(),
    };
    let f = File::open(archive).map_err(|e| ArchiveError::Io(e.to_string()))?;
    let compressed = f.metadata().map(|m| m.len()).unwrap_or(0);
    let mut t = tar::Archive::new(flate2::read::GzDecoder::new(f));
    let mut seen = 0usize;
    for entry in t.entries().map_err(corrupt)? {
        let entry = entry.map_err(corrupt)?;
        seen += 1;
        if seen > u.limits.max_entries.saturating_mul(4).max(64) {
            return Err(ArchiveError::TooManyEntries(u.limits.max_entries));
        }
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        match entry.header().entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => {}
            tar::EntryType::Directory => {
                safe_components(&name)?;
                continue;
            }
            // Links and devices are never followed or created.
            _ => continue,
        }
        // The whole gzip stream's ratio: the archive's size is the compressed size of
        // everything read so far, so checking each entry against it bounds the total.
        let before = u.total;
        let budget = compressed
            .max(1)
            .saturating_mul(u.limits.max_ratio)
            .max(u.limits.ratio_floor);
        if before > budget {
            return Err(ArchiveError::Bomb {
                entry: name,
                why: format!("expansion ratio above {}:1", u.limits.max_ratio),
            });
        }
        u.take(
            &name,
            entry,
            Some(budget.saturating_sub(before) / u.limits.max_ratio.max(1)),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_roles() {
        assert!(safe_components("../x.prof").is_err());
        assert!(safe_components("a/../../x.prof").is_err());
        assert!(safe_components("/etc/x.prof").is_err());
        assert!(safe_components("C:\\x.prof").is_err());
        assert!(safe_components("a\\..\\x.prof").is_err());
        assert_eq!(
            safe_components("./run/baseline/a.prof").unwrap(),
            vec!["run", "baseline", "a.prof"]
        );
        assert_eq!(role_of(&["run", "Candidates"]), Some(FolderRole::Candidate));
        assert_eq!(role_of(&["x"]), None);
        assert!(is_dump("a.PROF") && !is_dump("README.md") && !is_dump("._a.prof"));
        assert_eq!(Kind::of_name("x.TGZ"), Some(Kind::TarGz));
        assert_eq!(Kind::of_name("x.prof"), None);
    }
}
