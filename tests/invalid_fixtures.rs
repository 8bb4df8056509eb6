//! Every invalid registry under `tests/fixtures/invalid/` produces exactly the problems its
//! header announces (`# expect: CODE...`), and its rendered diagnostics match a snapshot.

use std::path::Path;
use std::sync::Arc;

use muster::check::check_source;
use muster::diagnostic::{render, summary};
use muster::source::SourceFile;

struct Case {
    name: String,
    text: String,
    expect: Vec<String>,
    env: Option<String>,
}

fn cases() -> Vec<Case> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid");
    let mut cases: Vec<Case> = std::fs::read_dir(&dir)
        .expect("fixtures folder")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let header = |key: &str| {
                text.lines().take(4).find_map(|l| {
                    l.strip_prefix(&format!("# {key}:"))
                        .map(|v| v.trim().to_string())
                })
            };
            let expect = header("expect")
                .unwrap_or_else(|| panic!("{} has no `# expect:` line", path.display()))
                .split_whitespace()
                .map(String::from)
                .collect();
            let env =
                header("args").and_then(|a| a.strip_prefix("--env").map(|e| e.trim().to_string()));
            Case {
                name: path.file_stem().unwrap().to_string_lossy().into_owned(),
                text,
                expect,
                env,
            }
        })
        .collect();
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    cases
}

#[test]
fn at_least_forty_fixtures_cover_every_code() {
    let cases = cases();
    assert!(cases.len() >= 40, "only {} fixtures", cases.len());
    // `muster import` codes (M10xx) judge foreign files, never a registry: the import tests
    // prove them (tests/import_compose.rs, tests/import_seeds.rs and the importers' units).
    for code in muster::diagnostic::Code::ALL
        .iter()
        .filter(|c| !c.as_str().starts_with("M10"))
    {
        assert!(
            cases
                .iter()
                .any(|c| c.expect.iter().any(|e| e == code.as_str())),
            "no fixture expects {}",
            code.as_str()
        );
    }
}

#[test]
fn each_fixture_reports_exactly_its_problems() {
    let mut failures = Vec::new();
    for case in cases() {
        let file = format!("{}.yaml", case.name);
        let source = Arc::new(SourceFile::new(file.clone(), case.text.clone()));
        let report = check_source(source.clone(), case.env.as_deref());
        let mut found: Vec<String> = report
            .diagnostics
            .iter()
            .map(|d| d.code.as_str().to_string())
            .collect();
        let mut expected = case.expect.clone();
        found.sort();
        expected.sort();
        if found != expected {
            failures.push(format!(
                "{}: expected {:?}, found {:?}",
                case.name, expected, found
            ));
        }
        let services = report
            .loaded
            .registry
            .as_ref()
            .map(|r| r.services.len())
            .unwrap_or(0);
        let mut rendered: String = report
            .diagnostics
            .iter()
            .map(|d| render(d, &source, false) + "\n\n")
            .collect();
        rendered.push_str(&summary(&report.diagnostics, &file, services));
        insta::with_settings!({
            snapshot_path => "fixtures/invalid/snapshots",
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_snapshot!(case.name.as_str(), rendered);
        });
    }
    assert!(
        failures.is_empty(),
        "{} fixtures disagree:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn diagnostics_come_in_file_order() {
    for case in cases() {
        let source = Arc::new(SourceFile::new("x.yaml", case.text.clone()));
        let report = check_source(source, case.env.as_deref());
        let starts: Vec<usize> = report
            .diagnostics
            .iter()
            .filter_map(|d| d.span.map(|s| s.start))
            .collect();
        let mut sorted = starts.clone();
        sorted.sort();
        assert_eq!(starts, sorted, "{} is not in file order", case.name);
    }
}
