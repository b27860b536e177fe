//! The layers point one way (ARCHITECTURE.md, "Layers"): each top-level module uses
//! only modules below it, and no two modules side by side use each other. Read from the
//! source text: a `crate::x` or `failcast::x` path, and a `super::x` path to a sibling.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

mod common;

/// Top to bottom; a module may use those after it. The binary's own files are `bin`;
/// the last group are leaves any layer may use.
const LAYERS: &[&[&str]] = &[
    &["bin"],
    &["report"],
    &["experiment"],
    &["actors"],
    &["plan"],
    &["scenario"],
    &["metrics"],
    &["sim"],
    &["control"],
    &["files", "folders"],
    &["names", "text", "time"],
];

const BINARY_FILES: &[&str] = &["main", "cli", "commands", "allocator", "print"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file below `src/`: `sim/kernel.rs` → `["sim", "kernel"]`,
/// `scenario/validate/mod.rs` → `["scenario", "validate"]`, `lib.rs` → `[]`.
fn module_of(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let file = parts.pop().unwrap();
    let stem = file.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_string());
    }
    parts
}

/// The source without its `#[cfg(test)]` module and comments (tests may reach anywhere).
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests {") {
        Some(at) => &text[..at],
        None => text,
    };
    text.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every path a file names, as written: `crate::a::b`, `super::x`, `failcast::y`, with
/// `use a::{b, c}` groups expanded one level.
fn paths_in(code: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let bytes = code.as_bytes();
    for root in ["crate::", "super::", "failcast::"] {
        let mut from = 0;
        while let Some(found) = code[from..].find(root) {
            let start = from + found;
            from = start + root.len();
            let boundary = start == 0 || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
            if !boundary || (start >= 2 && &code[start - 2..start] == "::") {
                continue;
            }
            let rest = &code[start..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            let head: Vec<String> = rest[..end]
                .split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            if rest[end..].starts_with('{') {
                let close = rest[end..].find('}').map_or(rest.len(), |c| end + c);
                for item in rest[end + 1..close].split(',') {
                    let mut path = head.clone();
                    path.extend(item.trim().split("::").filter(|s| !s.is_empty()).map(str::to_string));
                    paths.push(path);
                }
            } else {
                paths.push(head);
            }
        }
    }
    paths
}

/// The module a path leads to, from a file in module `here`: absolute, as far as
/// `depth` components.
fn target_of(here: &[String], path: &[String]) -> Option<Vec<String>> {
    let mut at: Vec<String> = here.to_vec();
    let mut rest = path;
    match rest.first().map(String::as_str) {
        Some("crate") | Some("failcast") => {
            at.clear();
            rest = &rest[1..];
        }
        Some("super") => {
            while rest.first().map(String::as_str) == Some("super") {
                at.pop()?;
                rest = &rest[1..];
            }
        }
        _ => return None,
    }
    at.extend(rest.iter().cloned());
    Some(at)
}

fn layer_of(top: &str) -> usize {
    LAYERS
        .iter()
        .position(|layer| layer.contains(&top))
        .unwrap_or_else(|| panic!("module `{top}` is in no layer of tests/layers.rs: add it where it belongs"))
}

/// (file, its module, the modules it names).
fn sources() -> Vec<(String, Vec<String>, Vec<Vec<String>>)> {
    let src = common::repo_path("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    assert!(files.len() > 50, "found only {} files under src/", files.len());
    files
        .into_iter()
        .map(|file| {
            let relative = file.strip_prefix(&src).unwrap().to_path_buf();
            let mut module = module_of(&relative);
            if module.first().is_some_and(|m| BINARY_FILES.contains(&m.as_str())) {
                module.insert(0, "bin".into());
            }
            let code = code_of(&std::fs::read_to_string(&file).unwrap());
            let targets = paths_in(&code)
                .iter()
                .filter_map(|path| target_of(&module, path))
                .filter(|target| !target.is_empty())
                .collect();
            (relative.display().to_string(), module, targets)
        })
        .collect()
}

type Edges = BTreeMap<(String, String), BTreeSet<String>>;

/// Every circle among sibling modules, each as `top::a -> top::b -> …`.
fn circles(edges: &Edges) -> Vec<String> {
    fn visit(
        node: &(String, String),
        edges: &Edges,
        on_path: &mut Vec<(String, String)>,
        found: &mut Vec<String>,
        done: &mut BTreeSet<(String, String)>,
    ) {
        if let Some(start) = on_path.iter().position(|n| n == node) {
            let names: Vec<String> = on_path[start..].iter().map(|(t, m)| format!("{t}::{m}")).collect();
            found.push(names.join(" -> "));
            return;
        }
        if !done.insert(node.clone()) {
            return;
        }
        on_path.push(node.clone());
        for next in edges.get(node).into_iter().flatten() {
            visit(&(node.0.clone(), next.clone()), edges, on_path, found, done);
        }
        on_path.pop();
    }
    let (mut found, mut done, mut on_path) = (Vec::new(), BTreeSet::new(), Vec::new());
    for node in edges.keys() {
        visit(node, edges, &mut on_path, &mut found, &mut done);
    }
    found
}

#[test]
fn every_module_uses_only_layers_below_it() {
    let mut upward = BTreeSet::new();
    let mut seen = 0;
    for (file, module, targets) in sources() {
        let Some(top) = module.first() else { continue };
        for target in targets {
            let used = &target[0];
            if used == top || target.len() < 2 && module.len() > 1 && module[0] == "bin" {
                continue;
            }
            // The binary names the library as `failcast::x`; its own files as `crate::x`.
            let used_top = if top == "bin" && BINARY_FILES.contains(&used.as_str()) {
                "bin"
            } else {
                used.as_str()
            };
            if used_top == top.as_str() {
                continue;
            }
            seen += 1;
            if layer_of(used_top) <= layer_of(top) {
                upward.insert(format!("{file}: `{top}` uses `{used_top}`"));
            }
        }
    }
    assert!(
        seen > 100,
        "only {seen} uses across modules were found: the scan is broken"
    );
    assert!(
        upward.is_empty(),
        "uses that point up or sideways:\n{}",
        Vec::from_iter(upward).join("\n")
    );
}

#[test]
fn no_two_modules_side_by_side_use_each_other() {
    // Edges between sibling modules `top::a` → `top::b`, from any file inside `top::a`.
    let mut edges: Edges = BTreeMap::new();
    for (_, module, targets) in sources() {
        if module.len() < 2 {
            continue;
        }
        for target in targets {
            if target.len() >= 2 && target[0] == module[0] && target[1] != module[1] {
                edges
                    .entry((module[0].clone(), module[1].clone()))
                    .or_default()
                    .insert(target[1].clone());
            }
        }
    }
    assert!(
        edges.len() > 20,
        "only {} modules use a sibling: the scan is broken",
        edges.len()
    );
    let circles = circles(&edges);
    assert!(
        circles.is_empty(),
        "modules that use each other:\n{}",
        circles.join("\n")
    );
}

#[test]
fn the_scan_finds_a_planted_upward_use_and_a_circle() {
    let code = "use crate::report::write_run;\nuse super::{batch::Plan, check};\n";
    let paths = paths_in(&code_of(code));
    let here = vec!["experiment".to_string(), "compare".to_string()];
    let targets: Vec<Vec<String>> = paths.iter().filter_map(|p| target_of(&here, p)).collect();
    assert!(targets.contains(&vec!["report".into(), "write_run".into()]));
    assert!(targets.contains(&vec!["experiment".into(), "batch".into(), "Plan".into()]));
    assert!(targets.contains(&vec!["experiment".into(), "check".into()]));
    assert!(
        layer_of("report") < layer_of("experiment"),
        "so the use above is upward"
    );
    let key = |m: &str| ("experiment".to_string(), m.to_string());
    let mut edges: Edges = BTreeMap::new();
    edges.entry(key("batch")).or_default().insert("check".into());
    assert!(circles(&edges).is_empty());
    edges.entry(key("check")).or_default().insert("run".into());
    edges.entry(key("run")).or_default().insert("batch".into());
    assert_eq!(
        circles(&edges),
        ["experiment::batch -> experiment::check -> experiment::run"]
    );
}
