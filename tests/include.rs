//! `include = [...]`: fragments merge under the scenario file, and every error points
//! into the file that wrote the offending key.

mod common;

use std::path::{Path, PathBuf};

use failcast::scenario::{load, Diagnostics};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

const TOPOLOGY: &str = "\
[cdn]
edges = 4
backup_edges = 2

[ingest]
servers = 3

[[fault]]
id = \"shared-crash\"
at = \"2m\"
kind = \"node.crash\"
target = \"edge-1\"
duration = \"1m\"
";

fn with_topology(main: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "parts/topology.toml", TOPOLOGY);
    let file = write(dir.path(), "main.toml", main);
    (dir, file)
}

fn refused(file: &Path, overrides: &[&str]) -> Diagnostics {
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    load(file, &overrides).expect_err("the scenario must be refused")
}

#[test]
fn fragments_merge_under_the_scenario_file_and_faults_are_kept_in_order() {
    let (_dir, file) = with_topology(
        "[scenario]\nname = \"m\"\nduration = \"10m\"\ninclude = [\"parts/topology.toml\"]\n\n\
         [cdn]\nedges = 6\n\n[[fault]]\nid = \"own\"\nat = \"5m\"\nkind = \"node.crash\"\ntarget = \"ingest-3\"\n",
    );
    let s = load(&file, &[]).unwrap();
    assert_eq!(s.cdn.edges, 6, "the scenario file's key wins");
    assert_eq!(s.cdn.backup_edges, 2, "the fragment's other keys stay");
    assert_eq!(s.ingest.servers, 3);
    let ids: Vec<_> = s.faults.iter().map(|f| f.id.clone().unwrap()).collect();
    assert_eq!(ids, ["shared-crash", "own"]);
    assert!(s.scenario.include.is_empty(), "the loaded scenario is resolved");
    // --set reaches keys the fragment wrote, fault entries by their merged index.
    let s = load(&file, &["ingest.servers=4".into(), "fault[0].at=3m".into()]).unwrap();
    assert_eq!(s.ingest.servers, 4);
    assert_eq!(s.faults[0].at.0.as_secs_f64(), 180.0);
}

#[test]
fn an_included_scenario_runs_exactly_as_the_same_scenario_written_out() {
    let (dir, file) = with_topology(
        "[scenario]\nname = \"m\"\nduration = \"4m\"\ninclude = [\"parts/topology.toml\"]\n[viewers]\ncount = 20\n",
    );
    let inline = write(
        dir.path(),
        "inline.toml",
        &format!("[scenario]\nname = \"m\"\nduration = \"4m\"\n[viewers]\ncount = 20\n{TOPOLOGY}"),
    );
    let a = load(&file, &[]).unwrap();
    let b = load(&inline, &[]).unwrap();
    assert_eq!(a, b);
    let run = |s| failcast::experiment::run_scenario(s, 1, None, false).unwrap();
    assert_eq!(run(&a).summary.trace_digest, run(&b).summary.trace_digest);
}

#[test]
fn a_type_error_in_a_fragment_points_into_the_fragment() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "parts/bad.toml", "[cdn]\nedges = \"four\"\n");
    let file = write(
        dir.path(),
        "main.toml",
        "[scenario]\nname = \"m\"\nduration = \"10m\"\ninclude = [\"parts/bad.toml\"]\n",
    );
    let d = refused(&file, &[]);
    assert_eq!(d.0.len(), 1, "{d}");
    assert!(d.0[0].file.ends_with("parts/bad.toml"), "{d}");
    assert_eq!((d.0[0].line, d.0[0].column), (Some(2), Some(9)), "{d}");
}

#[test]
fn a_validation_error_names_the_fragment_that_wrote_the_key() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "parts/faults.toml",
        "[[fault]]\nat = \"1m\"\nkind = \"node.crash\"\ntarget = \"edge-9\"\n",
    );
    let file = write(
        dir.path(),
        "main.toml",
        "[scenario]\nname = \"m\"\nduration = \"10m\"\ninclude = [\"parts/faults.toml\"]\n\n\
         [[fault]]\nat = \"2m\"\nkind = \"node.crash\"\ntarget = \"edge-7\"\n",
    );
    let d = refused(&file, &[]);
    assert_eq!(d.0.len(), 2, "{d}");
    let places: Vec<_> =
        d.0.iter()
            .map(|e| (Path::new(&e.file).file_name().unwrap().to_owned(), e.line))
            .collect();
    assert_eq!(places[0], ("faults.toml".into(), Some(4)), "{d}");
    assert_eq!(places[1], ("main.toml".into(), Some(9)), "{d}");
}

#[test]
fn missing_twice_included_and_scenario_tables_in_fragments_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "parts/own.toml",
        "[scenario]\nname = \"x\"\nduration = \"1m\"\n[cdn]\nedges = 3\n",
    );
    write(dir.path(), "parts/ok.toml", "[cdn]\nedges = 3\n");
    let file = write(
        dir.path(),
        "main.toml",
        "[scenario]\nname = \"m\"\nduration = \"10m\"\n\
         include = [\"parts/missing.toml\", \"parts/own.toml\", \"parts/ok.toml\", \"parts/ok.toml\"]\n",
    );
    let d = refused(&file, &[]);
    let text = d.to_string();
    assert_eq!(d.0.len(), 3, "{text}");
    assert!(d.0[0].message.starts_with("included file: cannot read"), "{text}");
    assert_eq!((d.0[0].line, d.0[0].column), (Some(4), Some(12)), "{text}");
    assert_eq!(
        d.0[1].message, "an included file cannot have a [scenario] table",
        "{text}"
    );
    assert!(d.0[1].file.ends_with("own.toml"), "{text}");
    assert_eq!(d.0[2].message, "`parts/ok.toml` is included twice", "{text}");
}

#[test]
fn every_bundled_part_is_included_by_a_bundled_scenario() {
    let parts = common::repo_path("scenarios/parts");
    for part in std::fs::read_dir(&parts).unwrap() {
        let name = part.unwrap().file_name().into_string().unwrap();
        let users = std::fs::read_dir(common::repo_path("scenarios"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .filter(|p| std::fs::read_to_string(p).unwrap().contains(&format!("parts/{name}")))
            .count();
        assert!(users >= 1, "scenarios/parts/{name} is included by no scenario");
    }
}

#[test]
fn random_fault_kinds_of_every_file_are_kept_and_inline_faults_are_located() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "parts/chaos.toml",
        "fault = [{ at = \"1m\", kind = \"node.crash\", target = \"edge-9\" }]\n\
         [random_faults]\nmtbf = \"1h\"\n[[random_faults.kind]]\nkind = \"node.crash\"\ntarget = \"role:edge\"\nweight = 1\nmttr = \"5m\"\n",
    );
    let file = write(
        dir.path(),
        "main.toml",
        "[scenario]\nname = \"m\"\nduration = \"2h\"\ninclude = [\"parts/chaos.toml\"]\n\n\
         [[random_faults.kind]]\nkind = \"net.degrade\"\ntarget = \"role:edge\"\nweight = 1\nmttr = \"5m\"\nloss = 0.01\n\n\
         [[fault]]\nat = \"2m\"\nkind = \"node.crash\"\ntarget = \"edge-8\"\n",
    );
    let d = refused(&file, &[]);
    let places: Vec<_> = (d.0.iter())
        .map(|e| (Path::new(&e.file).file_name().unwrap().to_owned(), e.line))
        .collect();
    assert_eq!(
        places,
        [("chaos.toml".into(), Some(1)), ("main.toml".into(), Some(16))],
        "{d}"
    );
    // Without the bad targets: both kinds, the fragment's first; --set counts them so.
    let ok = std::fs::read_to_string(&file).unwrap().replace("edge-8", "edge-1");
    std::fs::write(&file, ok).unwrap();
    let fragment = dir.path().join("parts/chaos.toml");
    let fixed = std::fs::read_to_string(&fragment).unwrap().replace("edge-9", "edge-2");
    std::fs::write(&fragment, fixed).unwrap();
    let s = load(&file, &["random_faults.kind[1].loss=0.05".into()]).unwrap();
    let kinds = &s.random_faults.as_ref().unwrap().kinds;
    assert_eq!(
        kinds.iter().map(|k| k.kind.as_str()).collect::<Vec<_>>(),
        ["node.crash", "net.degrade"]
    );
    assert_eq!(kinds[1].loss, Some(0.05));
    assert_eq!(s.faults.len(), 2);
}

#[test]
fn a_problem_with_a_value_set_on_the_command_line_is_blamed_on_the_set() {
    let (_dir, file) =
        with_topology("[scenario]\nname = \"m\"\nduration = \"10m\"\ninclude = [\"parts/topology.toml\"]\n");
    let d = refused(&file, &["cdn.edges=0"]);
    assert_eq!(d.0[0].file, "--set", "{d}");
    assert!(d.to_string().contains(" | --set cdn.edges=0"), "{d}");
    let d = refused(&file, &["fault[0].target=edge-9"]);
    assert_eq!(d.0[0].file, "--set", "{d}");
    // Not an include: the same.
    let plain = file.with_file_name("plain.toml");
    std::fs::write(
        &plain,
        format!("[scenario]\nname = \"p\"\nduration = \"10m\"\n{TOPOLOGY}"),
    )
    .unwrap();
    let d = refused(&plain, &["cdn.edges=0"]);
    assert_eq!((d.0[0].file.as_str(), d.0[0].line), ("--set", None), "{d}");
}
