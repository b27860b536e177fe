//! Output folders and what failcast may do to them. failcast replaces or deletes only
//! what it wrote: a run folder is recognised by the marker file written into it, an
//! experiment folder by its manifest, and an experiment folder is locked (an OS
//! advisory lock) while a batch writes it. Files are replaced atomically, and what an
//! interrupted writer left (`.NAME.tmp-PID-XXXXXX` files, `.NAME.tmp-PID` and
//! `.NAME.old-PID` folders) is cleaned up by the next command that writes there.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The marker file of a run folder: `failcast run` replaces a folder only if it holds
/// this file (or is empty).
pub const RUN_MARKER: &str = ".failcast-run";
const RUN_MARKER_TEXT: &str = "This folder holds a failcast run. A later `failcast run` with this folder as --out \
replaces it whole; failcast replaces no folder that lacks this file.\n";
/// The lock file of an experiment folder, held for the whole of a batch.
pub const LOCK_FILE: &str = ".failcast.lock";

/// Why failcast will not write where it was asked to, or could not.
#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    /// The place is not failcast's to write (exit 2): nothing was moved or written.
    #[error("{place}: {message}")]
    Refused {
        place: String,
        message: String,
        help: &'static str,
    },
    #[error("cannot write {path}: {source}")]
    Io { path: String, source: io::Error },
}

impl FolderError {
    pub fn refused(place: &Path, message: impl Into<String>, help: &'static str) -> FolderError {
        FolderError::Refused {
            place: crate::text::printable(&place.display().to_string()).into_owned(),
            message: message.into(),
            help,
        }
    }

    pub fn io(path: &Path) -> impl FnOnce(io::Error) -> FolderError + '_ {
        move |source| FolderError::Io {
            path: crate::text::printable(&path.display().to_string()).into_owned(),
            source,
        }
    }

    /// The help line for a refusal.
    pub fn help(&self) -> Option<&'static str> {
        match self {
            FolderError::Refused { help, .. } => Some(help),
            FolderError::Io { .. } => None,
        }
    }
}

/// Whether `dir` is a run folder failcast wrote (it holds the marker, as a file).
pub fn is_run_folder(dir: &Path) -> bool {
    fs::symlink_metadata(dir.join(RUN_MARKER)).is_ok_and(|m| m.is_file())
}

/// Whether `dir` may be written as a run folder: missing, empty, or a run folder. A
/// file, a symbolic link or any other folder is refused, before anything moves.
pub fn check_run_target(dir: &Path) -> Result<(), FolderError> {
    let meta = match fs::symlink_metadata(dir) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(FolderError::io(dir)(e)),
    };
    let help = "give another --out (failcast replaces only an empty folder or a run folder it wrote)";
    if meta.file_type().is_symlink() {
        return Err(FolderError::refused(dir, "is a symbolic link", help));
    }
    if !meta.is_dir() {
        return Err(FolderError::refused(dir, "exists and is not a folder", help));
    }
    let empty = fs::read_dir(dir).map_err(FolderError::io(dir))?.next().is_none();
    if empty || is_run_folder(dir) {
        return Ok(());
    }
    Err(FolderError::refused(
        dir,
        format!("exists and is not a failcast run folder (it has no {RUN_MARKER})"),
        help,
    ))
}

/// `.NAME.TAG-PID`: where `path` is staged (`tmp`) or set aside (`old`) by this process.
pub fn sibling(path: &Path, tag: &str) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(|| "run".into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.{tag}-{}", std::process::id()))
}

/// Writes the run folder `dir`: `fill` writes the files into a staging folder beside
/// it (the marker is already there), which then replaces `dir` in a rename, so a reader
/// sees the old run or the new one, never half of one. `dir` must pass
/// [`check_run_target`], checked again here just before anything moves.
pub fn write_run_folder(dir: &Path, fill: impl FnOnce(&Path) -> io::Result<()>) -> Result<(), FolderError> {
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(FolderError::io(parent))?;
    clean_leftovers(dir, false);
    let staging = sibling(dir, "tmp");
    let written = (|| {
        fs::create_dir(&staging)?;
        write_synced(&staging.join(RUN_MARKER), RUN_MARKER_TEXT.as_bytes())?;
        fill(&staging)
    })();
    if let Err(e) = written {
        let _ = fs::remove_dir_all(&staging);
        return Err(FolderError::io(dir)(e));
    }
    if let Err(refusal) = check_run_target(dir) {
        let _ = fs::remove_dir_all(&staging);
        return Err(refusal);
    }
    let retired = sibling(dir, "old");
    let swapped = (|| {
        if dir.exists() {
            fs::rename(dir, &retired)?;
        }
        fs::rename(&staging, dir)
    })();
    if let Err(e) = swapped {
        let _ = fs::remove_dir_all(&staging);
        if !dir.exists() && retired.exists() {
            let _ = fs::rename(&retired, dir);
        }
        return Err(FolderError::io(dir)(e));
    }
    if retired.exists() {
        fs::remove_dir_all(&retired).map_err(FolderError::io(&retired))?;
    }
    Ok(())
}

fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// A new temporary file beside `path`, `.NAME.tmp-PID-XXXXXX` + `suffix`: created
/// exclusively under a fresh random name (tempfile), so it never opens a file or
/// follows a link someone left there, and removed when dropped unpersisted. The PID
/// lets the next writer tell a dead writer's leftover from a live one's.
pub fn temporary_beside(path: &Path, suffix: &str) -> io::Result<tempfile::NamedTempFile> {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    tempfile::Builder::new()
        .prefix(&format!(".{name}.tmp-{}-", std::process::id()))
        .suffix(suffix)
        .rand_bytes(6)
        .tempfile_in(parent)
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, synced, renamed
/// over it. On failure (a full disk) the temporary file is removed and `path` is as it
/// was.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)?;
    }
    let mut tmp = temporary_beside(path, "")?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Removes what an interrupted writer of `path` left beside it: `.NAME.tmp-PID` and
/// `.NAME.old-PID`. Without `exclusive` (nobody else can be writing, as under an
/// experiment's lock) only those of processes no longer running, and folders only if
/// they are run folders or empty: nothing failcast did not write.
pub fn clean_leftovers(path: &Path, exclusive: bool) {
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return;
    };
    let parent = if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    };
    let prefix = format!(".{}.", name.to_string_lossy());
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = leftover_pid(&file_name, &prefix) else {
            continue;
        };
        if !exclusive && process_may_be_running(pid) {
            continue;
        }
        let leftover = entry.path();
        match fs::symlink_metadata(&leftover) {
            Ok(meta) if meta.is_dir() => {
                let empty = fs::read_dir(&leftover).is_ok_and(|mut d| d.next().is_none());
                if empty || is_run_folder(&leftover) {
                    let _ = fs::remove_dir_all(&leftover);
                }
            }
            Ok(meta) if meta.is_file() => {
                let _ = fs::remove_file(&leftover);
            }
            _ => {}
        }
    }
}

/// Removes every temporary file an interrupted writer left in `dir` (not below it):
/// `.NAME.tmp-PID-XXXXXX`. For folders only one writer can be in (an experiment's, locked).
pub fn clean_temporary_files(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let temporary =
            name.starts_with('.') && (name.rsplit_once(".tmp-")).is_some_and(|(_, rest)| pid_of(rest).is_some());
        if temporary && entry.file_type().is_ok_and(|t| t.is_file()) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// The PID at the start of what follows `tmp-` or `old-` in a leftover's name: `PID`
/// (a staging folder), `PID-XXXXXX` (a temporary file), or `PID-XXXXXX.png` (a picture,
/// whose encoder needs the extension).
fn pid_of(rest: &str) -> Option<u32> {
    let rest = rest.strip_suffix(".png").unwrap_or(rest);
    let (pid, random) = rest.split_once('-').unwrap_or((rest, ""));
    let random_ok = random.is_empty() || (random.len() == 6 && random.bytes().all(|b| b.is_ascii_alphanumeric()));
    let pid_ok = !pid.is_empty() && pid.len() <= 10 && pid.bytes().all(|b| b.is_ascii_digit());
    if pid_ok && random_ok {
        pid.parse().ok()
    } else {
        None
    }
}

/// The PID in a leftover beside `.NAME` (`prefix` is `.NAME.`).
fn leftover_pid(file_name: &str, prefix: &str) -> Option<u32> {
    let rest = file_name.strip_prefix(prefix)?;
    pid_of(rest.strip_prefix("tmp-").or_else(|| rest.strip_prefix("old-"))?)
}

/// Whether process `pid` may still be writing. This process's own PID is never a
/// writer yet (a leftover with it comes from an earlier process that had the same PID,
/// as a restarted container does). Where processes cannot be looked up, any may be.
fn process_may_be_running(pid: u32) -> bool {
    if pid == std::process::id() {
        return false;
    }
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

/// Why a file was not read.
#[derive(Debug)]
pub enum Unreadable {
    Io(io::Error),
    /// A folder, a FIFO, a device or a socket (named).
    NotRegular(&'static str),
    /// More bytes than allowed (its size, when it says one).
    TooLarge(Option<u64>),
}

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unreadable::Io(e) => write!(f, "{e}"),
            Unreadable::NotRegular(kind) => write!(f, "it is {kind}, not a regular file"),
            Unreadable::TooLarge(Some(size)) => write!(f, "it is too large ({size} bytes)"),
            Unreadable::TooLarge(None) => write!(f, "it is too large"),
        }
    }
}

/// Reads at most `max_bytes` of the regular file `path`: a FIFO, a device (/dev/zero)
/// or a folder is refused without blocking or reading on, and so is a file larger
/// than allowed, whatever size it claims (/proc files claim none).
pub fn read_regular(path: &Path, max_bytes: u64) -> Result<Vec<u8>, Unreadable> {
    use std::io::Read;
    let mut file = open_without_blocking(path).map_err(Unreadable::Io)?;
    // Checked on the open file, so it cannot be swapped for a FIFO after the check.
    let meta = file.metadata().map_err(Unreadable::Io)?;
    if !meta.is_file() {
        return Err(Unreadable::NotRegular(kind_of(&meta)));
    }
    if meta.len() > max_bytes {
        return Err(Unreadable::TooLarge(Some(meta.len())));
    }
    let mut bytes = Vec::new();
    (&mut file)
        .take(max_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(Unreadable::Io)?;
    if bytes.len() as u64 > max_bytes {
        return Err(Unreadable::TooLarge(None));
    }
    Ok(bytes)
}

/// As [`read_regular`], as UTF-8 text, the refusal as a message.
pub fn read_regular_text(path: &Path, max_bytes: u64) -> Result<String, String> {
    let bytes = read_regular(path, max_bytes).map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|_| "it is not UTF-8 text".to_string())
}

#[cfg(target_os = "linux")]
fn open_without_blocking(path: &Path) -> io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    // Opening a FIFO for reading waits for a writer; O_NONBLOCK returns at once, and
    // the type check after the open refuses it.
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

#[cfg(not(target_os = "linux"))]
fn open_without_blocking(path: &Path) -> io::Result<fs::File> {
    // Without O_NONBLOCK, look first: a FIFO is refused before opening it could block.
    let meta = fs::metadata(path)?;
    if !meta.is_file() {
        return Err(io::Error::other(format!("it is {}", kind_of(&meta))));
    }
    fs::File::open(path)
}

fn kind_of(meta: &fs::Metadata) -> &'static str {
    if meta.is_dir() {
        return "a folder";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let kind = meta.file_type();
        if kind.is_fifo() {
            return "a FIFO";
        }
        if kind.is_char_device() || kind.is_block_device() {
            return "a device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    "not a file"
}

/// An experiment folder's lock: held while it lives, released when dropped (or when
/// the process ends, however it ends).
#[derive(Debug)]
pub struct FolderLock {
    _file: fs::File,
}

/// Locks the experiment folder `dir` (creating it) for this process; a folder another
/// failcast command is writing is refused.
pub fn lock_experiment(dir: &Path) -> Result<FolderLock, FolderError> {
    fs::create_dir_all(dir).map_err(FolderError::io(dir))?;
    let path = dir.join(LOCK_FILE);
    let file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(FolderError::io(&path))?;
    match file.try_lock() {
        Ok(()) => Ok(FolderLock { _file: file }),
        Err(fs::TryLockError::WouldBlock) => Err(FolderError::refused(
            dir,
            "another failcast command is writing this folder",
            "wait for it to finish, or give another --out",
        )),
        Err(fs::TryLockError::Error(e)) => Err(FolderError::io(&path)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_missing_or_empty_folder_or_a_run_folder_may_be_written() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        assert!(check_run_target(&missing).is_ok());
        let empty = dir.path().join("empty");
        fs::create_dir(&empty).unwrap();
        assert!(check_run_target(&empty).is_ok());
        let home = dir.path().join("home");
        fs::create_dir(&home).unwrap();
        fs::write(home.join("thesis.tex"), "years of work").unwrap();
        let refused = check_run_target(&home).unwrap_err().to_string();
        assert!(refused.contains("not a failcast run folder"), "{refused}");
        let file = dir.path().join("file");
        fs::write(&file, "x").unwrap();
        assert!(check_run_target(&file)
            .unwrap_err()
            .to_string()
            .contains("not a folder"));
        #[cfg(unix)]
        {
            let link = dir.path().join("link");
            std::os::unix::fs::symlink(&empty, &link).unwrap();
            assert!(check_run_target(&link)
                .unwrap_err()
                .to_string()
                .contains("symbolic link"));
        }
        write_run_folder(&home.join("run"), |d| fs::write(d.join("a.csv"), "1")).unwrap();
        assert!(
            check_run_target(&home.join("run")).is_ok(),
            "a run folder failcast wrote"
        );
    }

    #[test]
    fn a_run_folder_is_replaced_whole_and_a_foreign_one_is_left_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        write_run_folder(&out, |d| fs::write(d.join("old.csv"), "1")).unwrap();
        write_run_folder(&out, |d| fs::write(d.join("new.csv"), "2")).unwrap();
        assert!(!out.join("old.csv").exists() && out.join("new.csv").exists() && is_run_folder(&out));
        let foreign = dir.path().join("foreign");
        fs::create_dir(&foreign).unwrap();
        fs::write(foreign.join("notes.txt"), "mine").unwrap();
        let error = write_run_folder(&foreign, |d| fs::write(d.join("new.csv"), "2")).unwrap_err();
        assert!(matches!(error, FolderError::Refused { .. }), "{error}");
        assert_eq!(fs::read_to_string(foreign.join("notes.txt")).unwrap(), "mine");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "no staging folder is left behind: {names:?}");
    }

    #[test]
    fn leftovers_of_dead_writers_go_and_the_rest_stays() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("run");
        // PIDs above the kernel's pid_max (4194304 at most) cannot be running.
        let dead = dir.path().join(".run.tmp-4294967");
        fs::create_dir(&dead).unwrap();
        fs::write(dead.join(RUN_MARKER), "").unwrap();
        let dead_old = dir.path().join(".run.old-4294968");
        fs::create_dir(&dead_old).unwrap();
        let dead_file = dir.path().join(".run.tmp-4294969");
        fs::write(&dead_file, "").unwrap();
        let foreign = dir.path().join(".run.tmp-4294970");
        fs::create_dir(&foreign).unwrap();
        fs::write(foreign.join("mine.txt"), "not failcast's").unwrap();
        let alive = dir.path().join(".run.tmp-1");
        fs::create_dir(&alive).unwrap();
        let user = dir.path().join(".run.tmp-notes");
        fs::write(&user, "a user's file").unwrap();
        clean_leftovers(&out, false);
        assert!(!dead.exists() && !dead_old.exists() && !dead_file.exists());
        assert!(foreign.exists(), "a folder failcast did not write stays");
        assert!(alive.exists() || !cfg!(target_os = "linux"), "PID 1 is running");
        assert!(user.exists());
    }

    #[test]
    fn a_failed_atomic_write_leaves_the_old_file_and_no_temporary_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("check.json");
        write_atomic(&path, b"old").unwrap();
        write_atomic(&path, b"new").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        // A folder in the way (with something in it) makes the rename fail.
        let blocked = dir.path().join("blocked");
        fs::create_dir(&blocked).unwrap();
        fs::write(blocked.join("inside"), "x").unwrap();
        assert!(write_atomic(&blocked, b"new").is_err());
        assert_eq!(fs::read(blocked.join("inside")).unwrap(), b"x");
        let names = |dir: &Path| {
            let mut names: Vec<_> = (fs::read_dir(dir).unwrap())
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            names.sort();
            names
        };
        assert_eq!(names(dir.path()), ["blocked", "check.json"]);
        // What a killed writer left goes; what is only named alike stays.
        for leftover in [
            ".seed-1.json.tmp-123-a1B2c3",
            ".plot.png.tmp-9-zzzzzz.png",
            ".old.json.tmp-123",
        ] {
            fs::write(dir.path().join(leftover), "").unwrap();
        }
        for mine in [".notes.tmp-x", ".notes.tmp-12-toolong", ".notes.tmp-12-abc"] {
            fs::write(dir.path().join(mine), "mine").unwrap();
        }
        clean_temporary_files(dir.path());
        assert_eq!(
            names(dir.path()),
            [
                ".notes.tmp-12-abc",
                ".notes.tmp-12-toolong",
                ".notes.tmp-x",
                "blocked",
                "check.json"
            ]
        );
    }

    #[cfg(unix)]
    #[test]
    fn an_atomic_write_never_follows_a_link_left_where_a_temporary_file_goes() {
        let dir = tempfile::tempdir().unwrap();
        let precious = dir.path().join("precious.txt");
        fs::write(&precious, "a user's data").unwrap();
        let path = dir.path().join("check.json");
        // A link where a predictable scheme (`.NAME.tmp-PID`, as failcast once used)
        // would put its temporary file, and so open the user's file through it.
        let pid = std::process::id();
        std::os::unix::fs::symlink(&precious, dir.path().join(format!(".check.json.tmp-{pid}"))).unwrap();
        write_atomic(&path, b"new").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert_eq!(fs::read_to_string(&precious).unwrap(), "a user's data");
    }

    #[test]
    fn a_locked_experiment_folder_is_refused_until_the_lock_goes() {
        let dir = tempfile::tempdir().unwrap();
        let first = lock_experiment(dir.path()).unwrap();
        let second = lock_experiment(dir.path()).unwrap_err().to_string();
        assert!(second.contains("another failcast command"), "{second}");
        drop(first);
        assert!(lock_experiment(dir.path()).is_ok());
    }
}
