//! What each subcommand does, between the parsed arguments and an exit code.

pub mod batch;
pub mod bench;
pub mod run;

use failcast::folders;

use crate::cli::exit;

/// A path as failcast prints it: control characters escaped.
pub fn shown(path: &std::path::Path) -> String {
    failcast::text::printable(&path.display().to_string()).into_owned()
}

/// Reports an output folder failcast will not or could not write: exit 2 for a place
/// that is not its to write (nothing was moved), 3 for an I/O failure.
pub fn folder_error(error: &folders::FolderError) -> i32 {
    tell!("error: {error}");
    match error.help() {
        Some(help) => {
            tell!("  = help: {help}");
            exit::INVALID
        }
        None => exit::INTERNAL,
    }
}
