//! Hidden temp files that no two writers share, and the removal of those a killed run
//! left.
//!
//! A lake file (a part, a `_SUCCESS`, a tally, an outcome cache entry) becomes visible
//! by renaming a temp file written beside it. Shards of one partition run in different
//! pods, and processes in different pods often have the same PID (1, or another small
//! number). A temp name made of the PID alone could then be opened by two writers at
//! once, one publishing the other's half-written bytes, and a cleanup asking this pod's
//! `/proc` whether that PID runs would remove another pod's live temp file.
//!
//! So a temp file here is `.{name}.tmp-{pid}-{random}.{space}`. It is created
//! exclusively (`O_EXCL`) with a random part, so two writers never share one. `space`
//! names the PID namespace whose `/proc` can tell whether the writer still runs (the
//! host name and the namespace's inode). A temp file is abandoned when it is of this
//! PID namespace and its PID no longer runs, or, whoever wrote it, when nothing has
//! written to it for [`ABANDONED_AFTER`]. Names of the earlier form
//! `.{name}.tmp-{pid}`, which say nothing of their namespace, are judged by age alone.

use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

pub use tempfile::{NamedTempFile, TempPath};

/// How long a temp file of another PID namespace (or of unknown origin) must have gone
/// unwritten before it is taken as abandoned. Writers write to their temp file all the
/// time they hold it, for minutes at most, so a day leaves a wide margin.
pub const ABANDONED_AFTER: Duration = Duration::from_hours(24);

/// Characters of the random part of a temp name.
const RANDOM_CHARS: usize = 8;

/// The start of every temp file name for `name`.
pub fn temp_prefix(name: &str) -> String {
    format!(".{name}.tmp-")
}

/// This process's PID namespace, as a file name part: the host name (characters other
/// than ASCII letters, digits, `-` and `.` replaced by `_`, at most 64) and the inode of
/// `/proc/self/ns/pid`, e.g. `worker-7f9c+4026531836`. Empty where neither can be read.
pub fn writer_space() -> &'static str {
    static SPACE: OnceLock<String> = OnceLock::new();
    SPACE.get_or_init(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_default();
        let host: String = host
            .trim()
            .chars()
            .take(64)
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        // `pid:[4026531836]`
        let namespace: String = std::fs::read_link("/proc/self/ns/pid")
            .map(|link| link.to_string_lossy().chars().filter(char::is_ascii_digit).collect())
            .unwrap_or_default();
        if host.is_empty() && namespace.is_empty() {
            String::new()
        } else {
            format!("{host}+{namespace}")
        }
    })
}

/// Creates, exclusively, a new temp file for `name` in `dir` (see the module's
/// documentation), readable as a file created with [`std::fs::File::create`] would
/// be. Dropped unpersisted, it is removed.
pub fn create_temp(dir: &Path, name: &str) -> std::io::Result<NamedTempFile> {
    let prefix = format!("{}{}-", temp_prefix(name), std::process::id());
    let suffix = format!(".{}", writer_space());
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(&suffix).rand_bytes(RANDOM_CHARS);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        // The umask applies, as it does to `File::create`.
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    builder.tempfile_in(dir)
}

/// Who wrote a temp file, as its name says.
#[derive(Debug, PartialEq, Eq)]
struct TempWriter<'a> {
    pid: u32,
    /// `None` for a name of the earlier form, without a namespace.
    space: Option<&'a str>,
}

/// Parses what follows [`temp_prefix`] in a temp file's name.
fn parse_writer(rest: &str) -> Option<TempWriter<'_>> {
    let Some((pid, tail)) = rest.split_once('-') else {
        return rest.parse().ok().map(|pid| TempWriter { pid, space: None });
    };
    let (random, space) = tail.split_once('.')?;
    if random.len() != RANDOM_CHARS || !random.chars().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    Some(TempWriter {
        pid: pid.parse().ok()?,
        space: Some(space),
    })
}

/// Whether the temp file `path` of `writer` is abandoned at `now`, judged in the PID
/// namespace `space` by `runs(pid)`.
fn abandoned(path: &Path, writer: &TempWriter<'_>, space: &str, runs: impl Fn(u32) -> bool, now: SystemTime) -> bool {
    if writer.space == Some(space) && !space.is_empty() && writer.pid != std::process::id() && !runs(writer.pid) {
        return true;
    }
    let Ok(modified) = std::fs::symlink_metadata(path).and_then(|m| m.modified()) else {
        return false;
    };
    now.duration_since(modified).is_ok_and(|idle| idle >= ABANDONED_AFTER)
}

/// Removes the temp files for `name` in `dir` that are abandoned (see the module's
/// documentation): what runs killed while writing it left. A temp file another writer
/// may still be writing, here or in another pod, is left alone.
pub fn remove_abandoned_temps(dir: &Path, name: &str) {
    let prefix = temp_prefix(name);
    let proc_answers = Path::new("/proc/self").exists();
    let runs = |pid: u32| !proc_answers || Path::new(&format!("/proc/{pid}")).exists();
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(writer) = file.strip_prefix(&prefix).and_then(parse_writer) else {
            continue;
        };
        if abandoned(&entry.path(), &writer, writer_space(), runs, now) {
            tracing::info!(file = %entry.path().display(), "removing a temp file a killed run left");
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path, idle: Duration) {
        let file = std::fs::File::create(path).unwrap_or_else(|e| panic!("{e}"));
        file.set_modified(SystemTime::now() - idle).unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn temp_names_are_exclusive_and_name_the_writer() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let first = create_temp(dir.path(), "_SUCCESS").unwrap_or_else(|e| panic!("{e}"));
        let second = create_temp(dir.path(), "_SUCCESS").unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(first.path(), second.path());
        for temp in [&first, &second] {
            let name = temp
                .path()
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let rest = name.strip_prefix("._SUCCESS.tmp-").unwrap_or_else(|| panic!("{name}"));
            let writer = parse_writer(rest).unwrap_or_else(|| panic!("{name} does not parse"));
            assert_eq!(writer.pid, std::process::id(), "{name}");
            assert_eq!(writer.space, Some(writer_space()), "{name}");
        }
        // Linux names the namespace by host and inode.
        assert!(writer_space().contains('+'), "{}", writer_space());
        drop(first);
        assert_eq!(
            std::fs::read_dir(dir.path()).map_or(0, Iterator::count),
            1,
            "an unpersisted temp is removed"
        );
    }

    #[test]
    fn a_temp_is_abandoned_when_its_writer_is_known_dead_or_it_went_unwritten_for_a_day() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let here = writer_space();
        let fresh = Duration::from_mins(1);
        let old = ABANDONED_AFTER + Duration::from_mins(1);
        let cases = [
            // (name after the prefix, idle, removed)
            (format!("4000000000-aB3dE5gH.{here}"), fresh, true),
            (format!("1-aB3dE5gH.{here}"), fresh, false),
            (format!("{}-aB3dE5gH.{here}", std::process::id()), fresh, false),
            ("4000000000-aB3dE5gH.other-pod+4026531836".to_owned(), fresh, false),
            ("1-aB3dE5gH.other-pod+4026531836".to_owned(), old, true),
            ("4000000000".to_owned(), fresh, false),
            ("1".to_owned(), old, true),
            ("4000000000-short.x".to_owned(), old, false),
        ];
        let mut paths = Vec::new();
        for (k, (rest, idle, removed)) in cases.iter().enumerate() {
            // One directory per case, so names may repeat.
            let case = dir.path().join(k.to_string());
            std::fs::create_dir(&case).unwrap_or_else(|e| panic!("{e}"));
            let path = case.join(format!("._SUCCESS.tmp-{rest}"));
            touch(&path, *idle);
            let unrelated = case.join(format!(".tally.json.tmp-{rest}"));
            touch(&unrelated, *idle);
            remove_abandoned_temps(&case, "_SUCCESS");
            paths.push((path, unrelated, *removed));
        }
        for (path, unrelated, removed) in paths {
            assert_eq!(!path.exists(), removed, "{}", path.display());
            assert!(unrelated.exists(), "another name's temp is never touched: {}", unrelated.display());
        }
    }
}
