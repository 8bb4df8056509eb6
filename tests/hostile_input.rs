//! Hostile input: registries nobody writes on purpose, but that editors, merges, copy-paste
//! and attackers produce. Whatever the text, loading, checking (base, every environment and
//! an environment that does not exist), building the dependency graph, finding cycles,
//! resolving selections and planning must not panic; every diagnostic must point inside the
//! text on character boundaries and must render.
//!
//! Two generators feed the same property: mutations of the registries that ship (examples and
//! invalid fixtures), and registries built from a small grammar of services, dependencies,
//! phases, groups, secrets and environment overlays, biased towards the mistakes `check`
//! exists for (cycles, unknown names, clashes, `from` loops).
//!
//! By default each property runs a fixed set of a few hundred cases (the same every time),
//! cheap enough for every `cargo test`. With `MUSTER_FUZZ_SECONDS=N` each property keeps
//! generating new cases for N seconds (run it with `--release --nocapture` to see the counts;
//! release builds do not check integer overflow, so an occasional debug run finds more);
//! `MUSTER_FUZZ_SEED=N` makes a run repeatable, and `MUSTER_FUZZ_REPLAY=FILE` replays one
//! input. Failing inputs are shrunk by proptest and written under the target folder
//! (`target/tmp/hostile_input/`), with the slowest input of each run.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use muster::check::check_source;
use muster::diagnostic::{Diagnostic, JsonDiagnostic, render, sort_and_dedup};
use muster::graph::{DepGraph, resolve_selection};
use muster::registry::{self, Loaded, References, Registry};
use muster::source::{SourceFile, Span};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};

/// An environment name no registry declares.
const BOGUS_ENV: &str = "no-such-environment";

/// The seed of a plain `cargo test` run.
const DEFAULT_SEED: u64 = 0x6d75_7374_6572;

/// A case that runs longer than this is treated as a hang: its input is saved and the
/// process aborts, so a loop in the library cannot stall CI silently.
const HANG_LIMIT: Duration = Duration::from_secs(60);

// ------------------------------------------------------------------------------------------
// The property

/// Runs every stage on `text` and checks what the stages promise about their output.
/// Panics are not caught here but by `exercise_caught`, which records where they happened.
fn exercise(text: &str) -> Result<(), TestCaseError> {
    let source = Arc::new(SourceFile::new("muster.yaml", text));

    // The base first (`check_source` loads, then checks base and every environment).
    let report = check_source(source.clone(), None);
    check_diagnostics(&source, &report.loaded.diagnostics, "load")?;
    check_diagnostics(&source, &report.diagnostics, "check")?;
    let mut environments: Vec<String> = Vec::new();
    if let Some(reg) = &report.loaded.registry {
        environments.extend(reg.environments.keys().cloned());
        exercise_graph(reg)?;
    }
    // Names the decoder may have refused are still worth asking for.
    if let Some(map) = report
        .loaded
        .root
        .as_ref()
        .and_then(|root| root.get("environments"))
        .and_then(|envs| envs.as_map())
    {
        environments.extend(map.iter().filter_map(|(k, _)| k.as_str().map(String::from)));
    }
    environments.sort();
    environments.dedup();
    environments.push(BOGUS_ENV.to_string());

    for env in &environments {
        same_from_base_as_from_scratch(&source, &report.loaded, env)?;
        let report = check_source(source.clone(), Some(env));
        check_diagnostics(&source, &report.loaded.diagnostics, env)?;
        check_diagnostics(&source, &report.diagnostics, env)?;
        if let Some(reg) = &report.loaded.registry {
            exercise_graph(reg)?;
        }
    }
    Ok(())
}

/// An environment decoded from the base's decoding (as `check` and `gen` do) is the one
/// decoded from scratch: registry, references and diagnostics.
fn same_from_base_as_from_scratch(
    source: &Arc<SourceFile>,
    base: &Loaded,
    env: &str,
) -> Result<(), TestCaseError> {
    let scratch = registry::load(source.clone(), Some(env));
    let reused = registry::load_environment(base, Some(env));
    prop_assert_eq!(&reused.registry, &scratch.registry, "{}: registry", env);
    let sorted = |refs: &References| {
        let mut all: Vec<Vec<(String, Span)>> = vec![
            refs.variables.clone(),
            refs.secrets.clone(),
            refs.hosts.clone(),
        ];
        for list in &mut all {
            list.sort_by_key(|(name, span)| (span.start, name.clone()));
        }
        all
    };
    prop_assert_eq!(
        sorted(&reused.references),
        sorted(&scratch.references),
        "{}: references",
        env
    );
    let (mut reused, mut scratch) = (reused.diagnostics, scratch.diagnostics);
    sort_and_dedup(&mut reused);
    sort_and_dedup(&mut scratch);
    let only_in = |a: &[Diagnostic], b: &[Diagnostic]| -> Vec<String> {
        a.iter()
            .filter(|d| !b.contains(d))
            .map(|d| format!("{} {:?} {}", d.code.as_str(), d.span, d.message))
            .collect()
    };
    prop_assert!(
        reused == scratch,
        "{}: diagnostics differ; only from the base: {:#?}; only from scratch: {:#?}",
        env,
        only_in(&reused, &scratch),
        only_in(&scratch, &reused)
    );
    Ok(())
}

fn check_diagnostics(
    source: &SourceFile,
    diagnostics: &[Diagnostic],
    stage: &str,
) -> Result<(), TestCaseError> {
    let text = source.text.as_str();
    for d in diagnostics {
        // Rendering first: a bad span that crashes the renderer is the worse finding.
        let rendered = render(d, source, false);
        prop_assert!(
            rendered.contains(d.code.as_str()),
            "{stage}: rendering lost the code:\n{rendered}"
        );
        let json = serde_json::to_string(&JsonDiagnostic::new(d, source));
        prop_assert!(json.is_ok(), "{stage}: JSON form failed: {json:?}");
        let spans = d.span.iter().chain(d.related.iter().map(|(s, _)| s));
        for &Span { start, end } in spans {
            prop_assert!(
                start <= end && end <= text.len(),
                "{stage}: {} span {start}..{end} outside a text of {} bytes: {}",
                d.code.as_str(),
                text.len(),
                d.message
            );
            prop_assert!(
                text.is_char_boundary(start) && text.is_char_boundary(end),
                "{stage}: {} span {start}..{end} splits a character: {}",
                d.code.as_str(),
                d.message
            );
        }
    }
    Ok(())
}

/// Graph, cycles, and closure + plan for `all`, a few groups, phases and services; the plan
/// must hold each service of the closure exactly once, and without cycles every service must
/// start after its dependencies in the same phase.
fn exercise_graph(reg: &Registry) -> Result<(), TestCaseError> {
    let graph = DepGraph::new(reg);
    let cycles = graph.cycles();
    for cycle in &cycles {
        prop_assert!(
            cycle.len() >= 2 && cycle.first() == cycle.last(),
            "a cycle is not a closed path: {cycle:?}"
        );
    }
    let mut words: Vec<String> = vec!["all".into()];
    words.extend(reg.groups.keys().take(4).cloned());
    words.extend(reg.phases.keys().take(4).cloned());
    words.extend(reg.services.keys().take(3).cloned());
    let everything: HashSet<String> = reg.services.keys().cloned().collect();
    let nothing = HashSet::new();
    for (i, word) in words.iter().enumerate() {
        let Ok(selected) = resolve_selection(reg, std::slice::from_ref(word)) else {
            continue;
        };
        // Once with nothing running, and for `all` also with everything running (optional
        // dependencies then count).
        let running_sets: &[&HashSet<String>] = if i == 0 {
            &[&nothing, &everything]
        } else {
            &[&nothing]
        };
        for running in running_sets {
            let closure = graph.closure(&selected, running);
            let plan = graph.plan(&closure);
            let mut planned: Vec<&str> = plan
                .phases
                .iter()
                .flat_map(|p| p.services.iter().map(String::as_str))
                .collect();
            let count = planned.len();
            planned.sort_unstable();
            planned.dedup();
            prop_assert_eq!(count, planned.len(), "a service is planned twice");
            let mut wanted: Vec<&str> = closure.services.keys().map(String::as_str).collect();
            wanted.sort_unstable();
            prop_assert_eq!(&planned, &wanted, "the plan differs from the closure");
            if cycles.is_empty() {
                for phase in &plan.phases {
                    let position: HashMap<&str, usize> = phase
                        .services
                        .iter()
                        .enumerate()
                        .map(|(i, s)| (s.as_str(), i))
                        .collect();
                    for (i, name) in phase.services.iter().enumerate() {
                        for dep in &reg.services[name.as_str()].depends_on {
                            if let Some(&j) = position.get(dep.service.value.as_str()) {
                                prop_assert!(
                                    j < i,
                                    "phase {}: `{name}` starts before its dependency `{}`",
                                    phase.name,
                                    dep.service.value
                                );
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------
// Inputs

/// A generated registry text and how it was made.
#[derive(Clone)]
struct Input {
    label: String,
    text: String,
}

impl fmt::Debug for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({} bytes)", self.label, self.text.len())
    }
}

/// The registries that ship: every example and every invalid fixture.
fn corpus() -> &'static [(String, String)] {
    static CORPUS: std::sync::OnceLock<Vec<(String, String)>> = std::sync::OnceLock::new();
    CORPUS.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files: Vec<PathBuf> = Vec::new();
        for entry in std::fs::read_dir(root.join("examples")).expect("examples folder") {
            let path = entry.expect("examples entry").path().join("muster.yaml");
            if path.is_file() {
                files.push(path);
            }
        }
        for entry in std::fs::read_dir(root.join("tests/fixtures/invalid")).expect("fixtures") {
            let path = entry.expect("fixtures entry").path();
            if path.extension().is_some_and(|e| e == "yaml") {
                files.push(path);
            }
        }
        files.sort();
        let corpus: Vec<(String, String)> = files
            .into_iter()
            .map(|p| {
                let text = std::fs::read_to_string(&p).expect("readable corpus file");
                let name = p.strip_prefix(root).unwrap_or(&p).display().to_string();
                (name, text)
            })
            .collect();
        assert!(corpus.len() >= 10, "only {} corpus files", corpus.len());
        corpus
    })
}

// --- (a) mutations of the shipped registries

/// Short texts that mean something to YAML, to muster's interpolation, or to Unicode.
const TOKENS: &[&str] = &[
    "&a ",
    "*a",
    "<<: *a",
    "!reset ",
    "!override ",
    "!!str ",
    "!!binary ",
    "!custom ",
    "{",
    "[",
    "]",
    "}",
    ": ",
    "- ",
    "? ",
    "\"",
    "'",
    "\t",
    "#",
    "|",
    ">-",
    "${",
    "${secret:",
    "${host:",
    "${VAR:?",
    "$$",
    "}",
    "\u{feff}",
    "é",
    "e\u{301}",
    "🙂",
    "\u{200b}",
    "\u{2028}",
    "\u{85}",
    "\0",
    "\r",
    "\r\n",
    "\n---\n",
    "\n...\n",
    "%YAML 1.2\n",
    "null",
    "~",
    "\"no\"",
    "99999999999999999999",
    "-1",
    ".inf",
    ".nan",
    "0x1F",
    "1e400",
    "16.10",
    "x-",
];

/// Where a mutation applies; indices are reduced modulo what the text has.
#[derive(Debug, Clone, Copy)]
enum Place {
    Offset(usize),
    /// After the indentation of a line.
    LineStart(usize),
    LineEnd(usize),
    /// After the first `: ` of a line (its value), else at its end.
    AfterColon(usize),
}

#[derive(Debug, Clone)]
enum Mutation {
    DeleteLine(usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    Reindent(usize, usize),
    FlipByte(usize, u8),
    InsertBytes(usize, Vec<u8>),
    InsertToken(Place, usize),
    LongString(Place, usize, usize),
    DeepNesting(Place, usize, usize, bool),
    Truncate(usize),
}

const LONG_UNITS: &[&str] = &["a", "é", "🙂", "${A}", "x ", "\\\"", "-", "\u{0}"];
const OPENERS: &[(&str, &str)] = &[
    ("[", "]"),
    ("{", "}"),
    ("- ", ""),
    ("[{a: ", "}]"),
    ("{a: [", "]}"),
    ("a:\n", ""),
];

fn place() -> impl Strategy<Value = Place> {
    prop_oneof![
        any::<usize>().prop_map(Place::Offset),
        any::<usize>().prop_map(Place::LineStart),
        any::<usize>().prop_map(Place::LineEnd),
        any::<usize>().prop_map(Place::AfterColon),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    // The ranges come first so that shrinking moves towards them.
    let length = prop_oneof![1usize..10_000, Just(10_000usize)];
    let depth = prop_oneof![1usize..500, Just(500usize)];
    prop_oneof![
        2 => any::<usize>().prop_map(Mutation::DeleteLine),
        2 => any::<usize>().prop_map(Mutation::DuplicateLine),
        2 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        1 => (any::<usize>(), 0usize..12).prop_map(|(l, n)| Mutation::Reindent(l, n)),
        2 => (any::<usize>(), 1u8..=255).prop_map(|(p, m)| Mutation::FlipByte(p, m)),
        1 => (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(p, b)| Mutation::InsertBytes(p, b)),
        6 => (place(), 0..TOKENS.len()).prop_map(|(p, t)| Mutation::InsertToken(p, t)),
        1 => (place(), 0..LONG_UNITS.len(), length)
            .prop_map(|(p, u, n)| Mutation::LongString(p, u, n)),
        1 => (place(), 0..OPENERS.len(), depth, any::<bool>())
            .prop_map(|(p, o, d, c)| Mutation::DeepNesting(p, o, d, c)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn split_lines(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect()
}

fn join_lines(lines: &[Vec<u8>]) -> Vec<u8> {
    lines.join(&b'\n')
}

/// Byte offsets of the start of each line.
fn line_starts(bytes: &[u8]) -> Vec<usize> {
    std::iter::once(0)
        .chain(
            bytes
                .iter()
                .enumerate()
                .filter(|(_, b)| **b == b'\n')
                .map(|(i, _)| i + 1),
        )
        .collect()
}

fn resolve_place(bytes: &[u8], place: Place) -> usize {
    let starts = line_starts(bytes);
    let line = |i: usize| {
        let n = i % starts.len();
        let start = starts[n];
        let end = starts
            .get(n + 1)
            .map(|s| s - 1)
            .unwrap_or(bytes.len())
            .max(start);
        (start, end)
    };
    match place {
        Place::Offset(o) => o % (bytes.len() + 1),
        Place::LineStart(i) => {
            let (start, end) = line(i);
            start + bytes[start..end].iter().take_while(|b| **b == b' ').count()
        }
        Place::LineEnd(i) => line(i).1,
        Place::AfterColon(i) => {
            let (start, end) = line(i);
            bytes[start..end]
                .windows(2)
                .position(|w| w == b": ")
                .map(|p| start + p + 2)
                .unwrap_or(end)
        }
    }
}

fn apply(bytes: &mut Vec<u8>, mutation: &Mutation) {
    let insert = |bytes: &mut Vec<u8>, at: usize, what: &[u8]| {
        bytes.splice(at..at, what.iter().copied());
    };
    match mutation {
        Mutation::DeleteLine(i) => {
            let mut lines = split_lines(bytes);
            let n = i % lines.len();
            lines.remove(n);
            *bytes = join_lines(&lines);
        }
        Mutation::DuplicateLine(i) => {
            let mut lines = split_lines(bytes);
            let n = i % lines.len();
            lines.insert(n, lines[n].clone());
            *bytes = join_lines(&lines);
        }
        Mutation::SwapLines(a, b) => {
            let mut lines = split_lines(bytes);
            let len = lines.len();
            lines.swap(a % len, b % len);
            *bytes = join_lines(&lines);
        }
        Mutation::Reindent(i, indent) => {
            let mut lines = split_lines(bytes);
            let n = i % lines.len();
            let content: Vec<u8> = lines[n]
                .iter()
                .copied()
                .skip_while(|b| *b == b' ')
                .collect();
            lines[n] = std::iter::repeat_n(b' ', *indent).chain(content).collect();
            *bytes = join_lines(&lines);
        }
        Mutation::FlipByte(p, mask) => {
            if !bytes.is_empty() {
                let n = p % bytes.len();
                bytes[n] ^= mask;
            }
        }
        Mutation::InsertBytes(p, what) => {
            let at = p % (bytes.len() + 1);
            insert(bytes, at, what);
        }
        Mutation::InsertToken(place, t) => {
            let at = resolve_place(bytes, *place);
            insert(bytes, at, TOKENS[*t].as_bytes());
        }
        Mutation::LongString(place, unit, len) => {
            let at = resolve_place(bytes, *place);
            insert(bytes, at, LONG_UNITS[*unit].repeat(*len).as_bytes());
        }
        Mutation::DeepNesting(place, opener, depth, close) => {
            let at = resolve_place(bytes, *place);
            let (open, shut) = OPENERS[*opener];
            let mut what = open.repeat(*depth);
            if *close {
                what.push('x');
                what.push_str(&shut.repeat(*depth));
            }
            insert(bytes, at, what.as_bytes());
        }
        Mutation::Truncate(p) => {
            let n = p % (bytes.len() + 1);
            bytes.truncate(n);
        }
    }
}

fn mutated_registry() -> impl Strategy<Value = Input> {
    let corpus = corpus();
    (0..corpus.len(), proptest::collection::vec(mutation(), 1..6)).prop_map(
        move |(i, mutations)| {
            let (name, text) = &corpus[i];
            let mut bytes = text.clone().into_bytes();
            for m in &mutations {
                apply(&mut bytes, m);
            }
            Input {
                label: format!("{name} with {mutations:?}"),
                // Byte flips may break UTF-8; the loader receives text, as from a file read.
                text: String::from_utf8_lossy(&bytes).into_owned(),
            }
        },
    )
}

// --- (b) registries built from a grammar
//
// The grammar draws from a stream of numbers: every decision takes the next one, and a
// stream that runs out answers "the simplest choice". Shrinking the stream (fewer, smaller
// numbers) therefore shrinks the registry.

struct Choices<'a> {
    data: &'a [u32],
    pos: usize,
}

impl Choices<'_> {
    fn next(&mut self) -> u32 {
        let v = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        v
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { self.next() as usize % n }
    }

    /// True with `percent` probability; false when the stream is exhausted.
    fn chance(&mut self, percent: u32) -> bool {
        self.next() % 100 >= 100 - percent
    }

    fn pick<'b>(&mut self, items: &[&'b str]) -> &'b str {
        items[self.below(items.len())]
    }

    /// Up to `max` picks from `pool` (repeats allowed), plus now and then a name that
    /// exists nowhere.
    fn some_of(&mut self, pool: &[String], max: usize) -> Vec<String> {
        let n = self.below(max + 1);
        (0..n)
            .map(|_| {
                if pool.is_empty() || self.chance(10) {
                    self.pick(&["ghost", "Ghost", "", "all"]).to_string()
                } else {
                    pool[self.below(pool.len())].clone()
                }
            })
            .collect()
    }
}

/// A YAML tree to print. Keys and scalars are written as given (quote them first).
enum Y {
    S(String),
    Seq(Vec<Y>, bool),
    Map(Vec<(String, Y)>, bool),
}

/// A scalar, plain when that is unambiguous enough, else double-quoted.
fn q(s: &str) -> String {
    let plain = s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'));
    if plain {
        s.to_string()
    } else {
        serde_json::to_string(s).expect("a string serialises")
    }
}

fn s(text: &str) -> Y {
    Y::S(q(text))
}

fn raw(text: &str) -> Y {
    Y::S(text.to_string())
}

fn seq(items: Vec<Y>, c: &mut Choices) -> Y {
    Y::Seq(items, c.chance(40))
}

fn map(entries: Vec<(String, Y)>, c: &mut Choices) -> Y {
    Y::Map(entries, c.chance(30))
}

fn emit_flow(y: &Y, out: &mut String) {
    match y {
        Y::S(v) => out.push_str(v),
        Y::Seq(items, _) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                emit_flow(item, out);
            }
            out.push(']');
        }
        Y::Map(entries, _) => {
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(k);
                out.push_str(": ");
                emit_flow(v, out);
            }
            out.push('}');
        }
    }
}

/// Writes the value that follows `key:` or `-` at `indent`.
fn emit_value(y: &Y, indent: usize, out: &mut String) {
    match y {
        Y::Seq(items, flow) if *flow || items.is_empty() => {
            out.push(' ');
            emit_flow(y, out);
            out.push('\n');
        }
        Y::Map(entries, flow) if *flow || entries.is_empty() => {
            out.push(' ');
            emit_flow(y, out);
            out.push('\n');
        }
        Y::S(_) => {
            out.push(' ');
            emit_flow(y, out);
            out.push('\n');
        }
        Y::Seq(items, _) => {
            out.push('\n');
            for item in items {
                out.push_str(&" ".repeat(indent + 2));
                out.push('-');
                emit_value(item, indent + 2, out);
            }
        }
        Y::Map(entries, _) => {
            out.push('\n');
            emit_block_map(entries, indent + 2, out);
        }
    }
}

fn emit_block_map(entries: &[(String, Y)], indent: usize, out: &mut String) {
    for (k, v) in entries {
        out.push_str(&" ".repeat(indent));
        out.push_str(k);
        out.push(':');
        emit_value(v, indent, out);
    }
}

/// Names for one kind of thing: mostly valid, some invalid, some clashing across kinds.
fn names(c: &mut Choices, prefix: &str, max: usize, min: usize) -> Vec<String> {
    const HOSTILE: &[&str] = &[
        "Bad",
        "a.b",
        "",
        "-x",
        "_x",
        "é",
        "all",
        "default",
        "a_b",
        "a-b",
        "123",
        "true",
        "null",
        "~",
        "with space",
        "p0",
        "g0",
        "s0",
        "x-ext",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    ];
    let n = min + c.below(max + 1 - min);
    (0..n)
        .map(|i| {
            if c.chance(15) {
                c.pick(HOSTILE).to_string()
            } else {
                format!("{prefix}{i}")
            }
        })
        .collect()
}

struct Names {
    services: Vec<String>,
    phases: Vec<String>,
    groups: Vec<String>,
    secrets: Vec<String>,
    networks: Vec<String>,
    volumes: Vec<String>,
    variables: Vec<String>,
}

fn duration(c: &mut Choices) -> Y {
    if c.chance(80) {
        raw(c.pick(&["10s", "90s", "2m", "1h30m", "500ms", "0s"]))
    } else {
        raw(c.pick(&[
            "10",
            "-5s",
            "1y",
            "\"\"",
            "99999999999999h",
            "s",
            "1.5s",
            "null",
        ]))
    }
}

fn size(c: &mut Choices) -> Y {
    if c.chance(80) {
        raw(c.pick(&["256M", "1G", "512Mi", "1.5G", "2gb"]))
    } else {
        raw(c.pick(&["1,5G", "lots", "-1M", "0", "99999999999999999999G"]))
    }
}

fn port(c: &mut Choices) -> Y {
    if c.chance(85) {
        raw(c.pick(&["80", "443", "5432", "8080", "9000"]))
    } else {
        raw(c.pick(&["0", "-1", "65536", "70000", "\"http\"", "8080.5"]))
    }
}

fn env_value(c: &mut Choices, n: &Names) -> Y {
    let any_of = |c: &mut Choices, pool: &[String]| -> String {
        if pool.is_empty() || c.chance(15) {
            "ghost".into()
        } else {
            pool[c.below(pool.len())].clone()
        }
    };
    match c.below(14) {
        0 => s("plain"),
        1 => s(&format!("${{{}}}", any_of(c, &n.variables))),
        2 => s(&format!("x-${{secret:{}}}-y", any_of(c, &n.secrets))),
        3 => s(&format!("http://${{host:{}}}:80", any_of(c, &n.services))),
        4 => s(&format!("${{{}:-fallback}}", any_of(c, &n.variables))),
        5 => s(c.pick(&[
            "${",
            "$$",
            "${secret:",
            "${host:}",
            "${ A }",
            "$${X}",
            "${X:?}",
        ])),
        6 => raw(c.pick(&["42", "true", "null", "3.14", "~", "-0"])),
        7 => Y::Map(vec![("secret".into(), s(&any_of(c, &n.secrets)))], true),
        8 => {
            let name = any_of(c, &n.secrets);
            let as_ = c.pick(&["file", "env", "bogus"]);
            map(vec![("secret".into(), s(&name)), ("as".into(), s(as_))], c)
        }
        9 => Y::Map(vec![("var".into(), s(&any_of(c, &n.variables)))], true),
        10 => map(vec![("nested".into(), raw("{deep: 1}"))], c),
        11 => seq(vec![s("a"), s("b")], c),
        12 => raw("${UNQUOTED}"),
        _ => Y::Map(
            vec![
                ("secret".into(), s(&any_of(c, &n.secrets))),
                ("var".into(), s(&any_of(c, &n.variables))),
            ],
            true,
        ),
    }
}

fn health(c: &mut Choices) -> Y {
    let mut e: Vec<(String, Y)> = Vec::new();
    let kinds = 1 + usize::from(c.chance(10));
    for _ in 0..kinds {
        match c.below(7) {
            0 => e.push(("exec".into(), seq(vec![s("pg_isready"), s("-q")], c))),
            1 => e.push(("exec".into(), s("curl -f http://localhost/ || exit 1"))),
            2 => {
                let mut h = vec![("port".into(), port(c))];
                if c.chance(50) {
                    h.push(("path".into(), s(c.pick(&["/health", "", "no-slash"]))));
                }
                if c.chance(20) {
                    h.push(("scheme".into(), s(c.pick(&["https", "gopher"]))));
                }
                e.push(("http".into(), map(h, c)));
            }
            3 => e.push(("tcp".into(), Y::Map(vec![("port".into(), port(c))], true))),
            4 => e.push(("image".into(), raw(c.pick(&["true", "false", "yes"])))),
            5 => e.push(("none".into(), raw("true"))),
            _ => e.push(("exec".into(), raw("[]"))),
        }
    }
    for key in ["interval", "timeout", "start_period"] {
        if c.chance(20) {
            e.push((key.into(), duration(c)));
        }
    }
    if c.chance(20) {
        e.push(("retries".into(), raw(c.pick(&["3", "0", "-1", "many"]))));
    }
    map(e, c)
}

fn dependency(c: &mut Choices, n: &Names, me: &str) -> Y {
    let target = if c.chance(10) {
        me.to_string()
    } else if c.chance(10) || n.services.is_empty() {
        c.pick(&["ghost", "postgress", "Bad", ""]).to_string()
    } else {
        n.services[c.below(n.services.len())].clone()
    };
    if c.chance(50) {
        return s(&target);
    }
    let mut e = vec![("service".into(), s(&target))];
    if c.chance(50) {
        let cond = c.pick(&["healthy", "started", "completed", "ready", "\"\""]);
        e.push(("condition".into(), raw(cond)));
    }
    if c.chance(40) {
        e.push(("optional".into(), raw(c.pick(&["true", "false", "maybe"]))));
    }
    map(e, c)
}

/// A service definition; `partial` gives the few fields an environment overlay changes.
fn service(c: &mut Choices, n: &Names, me: &str, partial: bool) -> Y {
    let mut e: Vec<(String, Y)> = Vec::new();
    let p = |c: &mut Choices, pct: u32| c.chance(if partial { pct / 3 } else { pct });
    if p(c, 95) {
        match c.below(8) {
            0..=3 => e.push((
                "image".into(),
                s(c.pick(&[
                    "nginx:1.27",
                    "postgres:16.4",
                    "ghcr.io/acme/api:1.2.3",
                    "redis@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                    "busybox",
                ])),
            )),
            4 => {
                e.push(("image".into(), s("postgres")));
                e.push((
                    "version".into(),
                    raw(c.pick(&["\"16.10\"", "16.10", "16", "null"])),
                ));
            }
            5 => e.push((
                "build".into(),
                Y::Map(vec![("context".into(), s("./app"))], true),
            )),
            6 => e.push((
                "image".into(),
                s(c.pick(&["UPPER/Case:1", "", "a b", ":::", "x:", "@sha256:zz"])),
            )),
            _ => {}
        }
    }
    if !n.phases.is_empty() && p(c, 85) {
        let phase = if c.chance(90) {
            n.phases[c.below(n.phases.len())].clone()
        } else {
            "nope".into()
        };
        e.push(("phase".into(), s(&phase)));
    }
    if p(c, 30) {
        let groups = c.some_of(&n.groups, 3);
        e.push((
            "groups".into(),
            seq(groups.iter().map(|g| s(g)).collect(), c),
        ));
    }
    if p(c, 60) {
        let count = c.below(4);
        let deps = (0..count).map(|_| dependency(c, n, me)).collect();
        e.push(("depends_on".into(), seq(deps, c)));
    }
    if p(c, 50) {
        e.push(("health".into(), health(c)));
    }
    if p(c, 40) {
        let count = 1 + c.below(3);
        let ports = (0..count)
            .map(|_| {
                if c.chance(15) {
                    map(
                        vec![("target".into(), port(c)), ("published".into(), port(c))],
                        c,
                    )
                } else {
                    s(c.pick(&[
                        "8080:80",
                        "127.0.0.1:5432:5432",
                        "443:443/udp",
                        "443:443",
                        "53:53/tcp",
                        "9000",
                        "99999:1",
                        "abc",
                        "0:0",
                        "1-3:1-3",
                        "[::1]:80:80",
                    ]))
                }
            })
            .collect();
        e.push(("ports".into(), seq(ports, c)));
    }
    if p(c, 30) {
        let count = 1 + c.below(2);
        let expose = (0..count)
            .map(|_| {
                if c.chance(20) {
                    map(
                        vec![
                            ("name".into(), s("metrics")),
                            ("port".into(), port(c)),
                            ("protocol".into(), s(c.pick(&["tcp", "http", "ftp"]))),
                        ],
                        c,
                    )
                } else {
                    port(c)
                }
            })
            .collect();
        e.push(("expose".into(), seq(expose, c)));
    }
    if p(c, 50) {
        let count = 1 + c.below(4);
        let vars = (0..count)
            .map(|_| {
                let key = c.pick(&["A", "DB_URL", "lower", "1BAD", "\"\"", "TOKEN", "A"]);
                (key.to_string(), env_value(c, n))
            })
            .collect();
        e.push(("env".into(), map(vars, c)));
    }
    if p(c, 20) {
        let secrets = c.some_of(&n.secrets, 2);
        e.push((
            "secrets".into(),
            seq(secrets.iter().map(|x| s(x)).collect(), c),
        ));
    }
    if p(c, 25) {
        if c.chance(20) {
            e.push(("network_mode".into(), s("host")));
        }
        let networks = c.some_of(&n.networks, 2);
        e.push((
            "networks".into(),
            seq(networks.iter().map(|x| s(x)).collect(), c),
        ));
    }
    if p(c, 25) {
        let count = 1 + c.below(2);
        let volumes = (0..count)
            .map(|_| {
                if !n.volumes.is_empty() && c.chance(60) {
                    s(&format!("{}:/data", n.volumes[c.below(n.volumes.len())]))
                } else {
                    s(c.pick(&["./x:/y:ro", "ghostvol:/z", ":", "", "/abs:/abs:zz"]))
                }
            })
            .collect();
        e.push(("volumes".into(), seq(volumes, c)));
    }
    if p(c, 20) {
        e.push((
            "replicas".into(),
            raw(c.pick(&["1", "3", "0", "-1", "two", "1e9"])),
        ));
    }
    if p(c, 10) {
        e.push(("container_name".into(), s("fixed")));
    }
    for (key, pct) in [("job", 10), ("enabled", 15), ("critical", 20)] {
        if p(c, pct) {
            e.push((key.into(), raw(c.pick(&["true", "false", "\"yes\""]))));
        }
    }
    if p(c, 15) {
        let restart = c.pick(&["always", "\"no\"", "no", "on-failure", "sometimes"]);
        e.push(("restart".into(), raw(restart)));
    }
    if p(c, 15) {
        e.push(("subdomain".into(), s(c.pick(&["www", "api", "Bad.Sub"]))));
    }
    if p(c, 15) {
        let mut route = vec![("path".into(), s(c.pick(&["/", "/api", ""])))];
        if c.chance(60) {
            route.push((
                "host".into(),
                s(c.pick(&["www.example.com", "${DOMAIN}", ""])),
            ));
        }
        if c.chance(40) {
            route.push(("port".into(), port(c)));
        }
        e.push(("routes".into(), seq(vec![map(route, c)], c)));
    }
    if p(c, 15) {
        let mut r = Vec::new();
        if c.chance(70) {
            r.push(("memory".into(), size(c)));
        }
        if c.chance(50) {
            r.push(("cpus".into(), raw(c.pick(&["0.5", "2", "-1", "lots"]))));
        }
        e.push(("resources".into(), map(r, c)));
    }
    if p(c, 10) {
        let category = c.pick(&[
            "databases/relational",
            "core/networks",
            "docker-compose",
            "stack",
            "../escape",
            "\"\"",
        ]);
        e.push(("category".into(), raw(category)));
    }
    if p(c, 10) {
        e.push((
            "mode".into(),
            s(c.pick(&["global", "replicated", "daemon"])),
        ));
    }
    if p(c, 5) {
        e.push(("imgae".into(), s("typo:1")));
    }
    if p(c, 5) {
        e.push(("x-note".into(), raw("{anything: [1, 2]}")));
    }
    if p(c, 5) {
        // A key twice.
        e.push(("image".into(), s("again:1")));
    }
    map(e, c)
}

fn secret(c: &mut Choices, n: &Names) -> Y {
    let from = |c: &mut Choices| -> Y {
        if n.secrets.is_empty() || c.chance(10) {
            s("ghost")
        } else {
            s(&n.secrets[c.below(n.secrets.len())])
        }
    };
    let mut e: Vec<(String, Y)> = Vec::new();
    match c.below(11) {
        0 => {
            e.push(("kind".into(), raw("password")));
            e.push(("length".into(), raw(c.pick(&["32", "0", "-1", "99999"]))));
        }
        1 => {
            e.push(("kind".into(), raw(c.pick(&["hex", "base64"]))));
            e.push(("bytes".into(), raw(c.pick(&["16", "0", "x"]))));
        }
        2 => {
            e.push(("kind".into(), raw("rsa")));
            e.push(("bits".into(), raw(c.pick(&["2048", "7", "4096"]))));
        }
        3 => e.push(("kind".into(), raw(c.pick(&["ed25519", "uuid"])))),
        4..=7 => {
            e.push((
                "kind".into(),
                raw(c.pick(&["argon2id", "ssha", "urlencode"])),
            ));
            e.push(("from".into(), from(c)));
        }
        8 => {
            e.push(("kind".into(), raw("external")));
            if c.chance(50) {
                e.push(("optional".into(), raw("true")));
            }
        }
        9 => {
            // `from` on a kind that does not take it.
            e.push(("kind".into(), raw("password")));
            e.push(("from".into(), from(c)));
        }
        _ => e.push(("kind".into(), raw(c.pick(&["pgp", "\"\"", "null"])))),
    }
    map(e, c)
}

fn overlay(c: &mut Choices, n: &Names) -> Y {
    let mut e: Vec<(String, Y)> = Vec::new();
    if c.chance(80) {
        let count = 1 + c.below(3);
        let services = (0..count)
            .map(|i| {
                let name = if !n.services.is_empty() && c.chance(70) {
                    n.services[c.below(n.services.len())].clone()
                } else {
                    format!("extra{i}")
                };
                let body = if c.chance(15) {
                    raw("null")
                } else {
                    let full = c.chance(30);
                    service(c, n, &name, !full)
                };
                (q(&name), body)
            })
            .collect();
        e.push(("services".into(), map(services, c)));
    }
    if c.chance(20) && !n.phases.is_empty() {
        let phase = q(&n.phases[c.below(n.phases.len())]);
        let body = if c.chance(30) {
            raw("null")
        } else {
            Y::Map(vec![("order".into(), raw(c.pick(&["9", "-1", "x"])))], true)
        };
        e.push(("phases".into(), map(vec![(phase, body)], c)));
    }
    if c.chance(20) {
        let members = c.some_of(&n.services, 3);
        let body = Y::Map(
            vec![(
                "services".into(),
                Y::Seq(members.iter().map(|m| s(m)).collect(), true),
            )],
            true,
        );
        let group = if n.groups.is_empty() {
            "newgroup".to_string()
        } else {
            n.groups[c.below(n.groups.len())].clone()
        };
        e.push(("groups".into(), map(vec![(q(&group), body)], c)));
    }
    if c.chance(15) {
        let name = q(&format!("envsecret{}", c.below(2)));
        e.push(("secrets".into(), map(vec![(name, secret(c, n))], c)));
    }
    if c.chance(15) {
        let body = Y::Map(vec![("default".into(), s("warn"))], true);
        e.push(("variables".into(), map(vec![("LOG_LEVEL".into(), body)], c)));
    }
    if c.chance(10) {
        let key = c.pick(&["phases", "groups", "services", "secrets", "networks"]);
        e.push((key.into(), raw("null")));
    }
    if c.chance(10) {
        let key = c.pick(&["version", "name", "environments", "bogus"]);
        e.push((key.into(), raw("2")));
    }
    if c.chance(10) {
        e.push(("domain".into(), s("example.com")));
    }
    map(e, c)
}

fn structured_text(data: &[u32]) -> String {
    let c = &mut Choices { data, pos: 0 };
    let n = Names {
        services: names(c, "s", 10, 1),
        phases: names(c, "p", 4, 0),
        groups: names(c, "g", 4, 0),
        secrets: names(c, "k", 5, 0),
        networks: names(c, "n", 2, 0),
        volumes: names(c, "v", 2, 0),
        variables: vec!["DOMAIN".into(), "LOG_LEVEL".into(), "TZ".into()],
    };
    let environments = names(c, "e", 3, 0);
    let mut top: Vec<(String, Y)> = Vec::new();
    if c.next() % 20 != 1 {
        let version = c.pick(&["1", "1", "1", "2", "\"1\"", "1.0", "-1", "null"]);
        top.push(("version".into(), raw(version)));
    }
    if c.next() % 20 != 1 {
        top.push((
            "name".into(),
            raw(c.pick(&["stack", "stack", "Bad Name", "\"\""])),
        ));
    }
    if c.chance(20) {
        let targets = (0..1 + c.below(3))
            .map(|_| s(c.pick(&["compose", "kubernetes", "nomad", "swarm", "bogus"])))
            .collect();
        top.push(("targets".into(), seq(targets, c)));
    }
    if c.chance(15) {
        let proxy = c
            .some_of(&n.services, 1)
            .pop()
            .unwrap_or_else(|| "ghost".into());
        top.push(("proxy".into(), s(&proxy)));
    }
    if c.chance(20) {
        top.push((
            "domain".into(),
            s(c.pick(&["${DOMAIN}", "example.com", "${"])),
        ));
    }
    if c.chance(20) {
        let mut d = Vec::new();
        if c.chance(50) {
            d.push((
                "restart".into(),
                raw(c.pick(&["unless-stopped", "no", "sometimes"])),
            ));
        }
        if c.chance(50) {
            d.push((
                "health".into(),
                map(vec![("interval".into(), duration(c))], c),
            ));
        }
        if c.chance(50) {
            d.push(("resources".into(), map(vec![("memory".into(), size(c))], c)));
        }
        top.push(("defaults".into(), map(d, c)));
    }
    if c.chance(40) {
        let mut vars = Vec::new();
        for v in &n.variables {
            if !c.chance(60) {
                continue;
            }
            let mut body = vec![("description".into(), s("something"))];
            if c.chance(50) {
                body.push(("required".into(), raw(c.pick(&["true", "false", "1"]))));
            } else {
                body.push(("default".into(), s("x")));
            }
            vars.push((v.clone(), map(body, c)));
        }
        top.push(("variables".into(), map(vars, c)));
    }
    if !n.secrets.is_empty() {
        let secrets = n.secrets.iter().map(|k| (q(k), secret(c, &n))).collect();
        top.push(("secrets".into(), map(secrets, c)));
    }
    if !n.phases.is_empty() {
        let phases = n
            .phases
            .iter()
            .map(|p| {
                let mut body = Vec::new();
                if c.next() % 10 != 1 {
                    let order =
                        c.pick(&["1", "2", "3", "1", "0", "-4", "9223372036854775807", "x"]);
                    body.push(("order".into(), raw(order)));
                }
                if c.chance(60) {
                    body.push(("timeout".into(), duration(c)));
                }
                (q(p), map(body, c))
            })
            .collect();
        top.push(("phases".into(), map(phases, c)));
    }
    if !n.groups.is_empty() {
        let groups = n
            .groups
            .iter()
            .map(|g| {
                let mut body = Vec::new();
                if c.chance(80) {
                    let members = c.some_of(&n.services, 4);
                    body.push((
                        "services".into(),
                        seq(members.iter().map(|m| s(m)).collect(), c),
                    ));
                }
                if c.chance(40) {
                    // Groups of groups, including themselves and each other: loops.
                    let inner = c.some_of(&n.groups, 2);
                    body.push((
                        "groups".into(),
                        seq(inner.iter().map(|m| s(m)).collect(), c),
                    ));
                }
                (q(g), map(body, c))
            })
            .collect();
        top.push(("groups".into(), map(groups, c)));
    }
    if !n.networks.is_empty() {
        let networks = n
            .networks
            .iter()
            .map(|x| {
                let body = match c.below(4) {
                    0 => raw("{}"),
                    1 => raw("{internal: true}"),
                    2 => raw("{external: true, name: shared-net}"),
                    _ => raw("{subnet: 172.20.0.0/24}"),
                };
                (q(x), body)
            })
            .collect();
        top.push(("networks".into(), map(networks, c)));
    }
    if !n.volumes.is_empty() {
        let volumes = n
            .volumes
            .iter()
            .map(|x| {
                let body = match c.below(3) {
                    0 => raw("{}"),
                    1 => raw("{path: \"${DATA_ROOT}/v\"}"),
                    _ => raw("{access: shared, size: 10Gi}"),
                };
                (q(x), body)
            })
            .collect();
        top.push(("volumes".into(), map(volumes, c)));
    }
    if !environments.is_empty() {
        let envs = environments
            .iter()
            .map(|e| {
                let body = if c.chance(5) {
                    raw("null")
                } else {
                    overlay(c, &n)
                };
                (q(e), body)
            })
            .collect();
        top.push(("environments".into(), map(envs, c)));
    }
    if c.next() % 30 != 1 {
        let services = n
            .services
            .iter()
            .map(|name| (q(name), service(c, &n, name, false)))
            .collect();
        top.push(("services".into(), Y::Map(services, false)));
    }
    // Now and then the top level is in a shuffled order: it must not matter.
    if c.chance(20) && top.len() > 1 {
        let i = c.below(top.len());
        let j = c.below(top.len());
        top.swap(i, j);
    }
    let mut out = String::new();
    emit_block_map(&top, 0, &mut out);
    out
}

fn structured_registry() -> impl Strategy<Value = Input> {
    proptest::collection::vec(any::<u32>(), 0..600).prop_map(|data| Input {
        label: format!("grammar registry from {} choices", data.len()),
        text: structured_text(&data),
    })
}

// ------------------------------------------------------------------------------------------
// Driving: a few cases in every `cargo test`, or as many as fit in MUSTER_FUZZ_SECONDS.

thread_local! {
    /// While set, panics are recorded here instead of printed: shrinking panics many times.
    static QUIET: Cell<bool> = const { Cell::new(false) };
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

fn install_panic_recorder() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if QUIET.with(Cell::get) {
                let trace = std::backtrace::Backtrace::force_capture();
                LAST_PANIC.with(|p| *p.borrow_mut() = Some(format!("{info}\n{trace}")));
            } else {
                default(info);
            }
        }));
    });
}

fn findings_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("hostile_input");
    std::fs::create_dir_all(&dir).expect("findings folder");
    dir
}

/// The case in flight, so a watchdog can save it when it never finishes.
type InFlight = Arc<Mutex<Option<(Instant, Arc<str>)>>>;

fn watchdog(name: &'static str, in_flight: InFlight, done: Arc<std::sync::atomic::AtomicBool>) {
    std::thread::spawn(move || {
        while !done.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(500));
            let stuck = in_flight
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
                .filter(|(since, _)| since.elapsed() > HANG_LIMIT)
                .map(|(_, text)| text.clone());
            if let Some(text) = stuck {
                let path = findings_dir().join(format!("{name}-hang.yaml"));
                let _ = std::fs::write(&path, text.as_bytes());
                eprintln!(
                    "{name}: one case ran longer than {HANG_LIMIT:?}; input saved to {}",
                    path.display()
                );
                std::process::abort();
            }
        }
    });
}

fn env_number(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(
        value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a whole number, not {value:?}")),
    )
}

fn seed_bytes(seed: u64) -> [u8; 32] {
    let mut bytes = [0u8; 32];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        let mixed = seed
            .wrapping_add(i as u64)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(29);
        chunk.copy_from_slice(&mixed.to_le_bytes());
    }
    bytes
}

struct Finding {
    seed: u64,
    reason: String,
    input: Input,
    panic: Option<String>,
}

/// What makes two findings the same bug: where the panic happened, or which property failed
/// (and for a bad span, which diagnostic code).
fn finding_key(reason: &str) -> String {
    if let Some(at) = reason.find("panicked at ") {
        let location = reason[at + "panicked at ".len()..]
            .split_whitespace()
            .next()
            .unwrap_or("");
        return location.trim_end_matches(':').to_string();
    }
    let location = reason.rsplit(" at ").next().unwrap_or(reason);
    let code = reason
        .split(|c: char| !c.is_ascii_alphanumeric())
        .find(|w| w.len() == 5 && w.starts_with('M') && w[1..].bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or("");
    format!("{location} {code}")
}

/// Runs the property on one input; a panic becomes a failure that says where it happened.
fn exercise_caught(text: &str) -> Result<(), TestCaseError> {
    LAST_PANIC.with(|p| p.borrow_mut().take());
    let was_quiet = QUIET.with(|q| q.replace(true));
    let outcome = std::panic::catch_unwind(|| exercise(text));
    QUIET.with(|q| q.set(was_quiet));
    match outcome {
        Ok(result) => result,
        Err(_) => {
            let panic = LAST_PANIC.with(|p| p.borrow().clone()).unwrap_or_default();
            let headline = panic.lines().take(2).collect::<Vec<_>>().join(" ");
            Err(TestCaseError::fail(headline))
        }
    }
}

/// Runs `strategy` through `exercise`: `ci_cases` cases once, or batches until
/// `MUSTER_FUZZ_SECONDS` have passed. Fails with every distinct finding, each saved to a file.
/// In a timed run a finding already made counts as a pass afterwards (and is tallied), so one
/// frequent bug neither stops the run nor spends it on shrinking the same thing again.
fn drive<S: Strategy<Value = Input>>(name: &'static str, strategy: S, ci_cases: u32) {
    install_panic_recorder();
    let budget = env_number("MUSTER_FUZZ_SECONDS").map(Duration::from_secs);
    // A plain `cargo test` (CI) always runs the same cases, so it fails only when the code
    // changes; a timed run explores new ones each time.
    let first_seed = env_number("MUSTER_FUZZ_SEED").unwrap_or_else(|| match budget {
        None => DEFAULT_SEED,
        Some(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0),
    });
    let in_flight: InFlight = Arc::new(Mutex::new(None));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    watchdog(name, in_flight.clone(), done.clone());

    let started = Instant::now();
    let executed = AtomicU64::new(0);
    let slowest: Mutex<(Duration, Arc<str>)> = Mutex::new((Duration::ZERO, "".into()));
    let known: Mutex<HashMap<String, u64>> = Mutex::new(HashMap::new());
    let mut findings: Vec<Finding> = Vec::new();
    let mut batch = 0u64;
    loop {
        let seed = first_seed.wrapping_add(batch);
        let config = Config {
            cases: if budget.is_some() { 64 } else { ci_cases },
            failure_persistence: None,
            max_shrink_iters: 2048,
            max_shrink_time: 10_000,
            ..Config::default()
        };
        let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes(seed));
        let mut runner = TestRunner::new_with_rng(config, rng);
        let result = runner.run(&strategy, |input| {
            executed.fetch_add(1, Ordering::Relaxed);
            let text: Arc<str> = input.text.as_str().into();
            let t0 = Instant::now();
            *in_flight.lock().unwrap_or_else(|e| e.into_inner()) = Some((t0, text.clone()));
            let outcome = exercise_caught(&input.text);
            *in_flight.lock().unwrap_or_else(|e| e.into_inner()) = None;
            let took = t0.elapsed();
            let mut slow = slowest.lock().unwrap_or_else(|e| e.into_inner());
            if took > slow.0 {
                *slow = (took, text);
            }
            drop(slow);
            if let Err(e) = &outcome {
                let mut known = known.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(count) = known.get_mut(&finding_key(&e.to_string())) {
                    *count += 1;
                    return Ok(());
                }
            }
            outcome
        });
        match result {
            Ok(()) => {}
            Err(TestError::Abort(reason)) => panic!("{name}: proptest gave up: {reason}"),
            Err(TestError::Fail(reason, input)) => {
                // Once more on the minimal input, for its backtrace.
                let again = exercise_caught(&input.text);
                let panic = LAST_PANIC.with(|p| p.borrow_mut().take());
                let reason = match again {
                    Err(e) => e.to_string(),
                    Ok(()) => format!("{reason} (did not fail again: flaky?)"),
                };
                let mut known = known.lock().unwrap_or_else(|e| e.into_inner());
                if known.insert(finding_key(&reason), 1).is_none() {
                    findings.push(Finding {
                        seed,
                        reason,
                        input,
                        panic,
                    });
                }
            }
        }
        batch += 1;
        match budget {
            Some(budget) if started.elapsed() < budget => continue,
            _ => break,
        }
    }
    done.store(true, Ordering::Relaxed);

    let elapsed = started.elapsed();
    let executed = executed.into_inner();
    let (slow_time, slow_text) = slowest.into_inner().unwrap_or_else(|e| e.into_inner());
    let slow_path = findings_dir().join(format!("{name}-slowest.yaml"));
    std::fs::write(&slow_path, slow_text.as_bytes()).expect("slowest case written");
    println!(
        "{name}: {executed} cases in {:.1} s ({:.0} cases/min), first seed {first_seed}, \
         slowest case {slow_time:?} ({} bytes, saved to {}), {} findings",
        elapsed.as_secs_f64(),
        executed as f64 / elapsed.as_secs_f64().max(1e-9) * 60.0,
        slow_text.len(),
        slow_path.display(),
        findings.len()
    );
    if findings.is_empty() {
        return;
    }
    let known = known.into_inner().unwrap_or_else(|e| e.into_inner());
    let dir = findings_dir();
    for (i, f) in findings.iter().enumerate() {
        let path = dir.join(format!("{name}-{}-{i}.yaml", f.seed));
        std::fs::write(&path, &f.input.text).expect("finding written");
        let times = known.get(&finding_key(&f.reason)).copied().unwrap_or(1);
        println!("\n=== finding {i} (failed {times} times): {}", f.reason);
        println!("input: {:?}, saved to {}", f.input, path.display());
        println!("seed: MUSTER_FUZZ_SEED={}", f.seed);
        if f.input.text.len() <= 2000 {
            println!("--- text ---\n{}\n--- end ---", f.input.text);
        }
        if let Some(panic) = &f.panic {
            println!("{panic}");
        }
    }
    panic!("{name}: {} distinct findings (see above)", findings.len());
}

#[test]
fn mutated_shipped_registries_never_panic() {
    drive("mutations", mutated_registry(), 96);
}

#[test]
fn grammar_registries_never_panic() {
    drive("grammar", structured_registry(), 256);
}

/// `MUSTER_FUZZ_REPLAY=FILE` runs the property once on a saved input (a finding, or the
/// slowest case of a run), to debug or profile it; without the variable this does nothing.
#[test]
fn replay_saved_input() {
    let Some(path) = std::env::var_os("MUSTER_FUZZ_REPLAY") else {
        return;
    };
    let bytes = std::fs::read(&path).expect("replay file readable");
    let text = String::from_utf8_lossy(&bytes);
    let started = Instant::now();
    let outcome = exercise(&text);
    println!("replayed {} bytes in {:?}", text.len(), started.elapsed());
    if let Err(e) = outcome {
        panic!("{e}");
    }
}

// ------------------------------------------------------------------------------------------
// The extremes, every time

#[test]
fn every_shipped_registry_passes_the_property() {
    for (name, text) in corpus() {
        if let Err(e) = exercise(text) {
            panic!("{name}: {e}");
        }
    }
}

#[test]
fn extreme_texts_pass_the_property() {
    let deep_flow = format!("services: {}x{}\n", "[".repeat(500), "]".repeat(500));
    let deep_open = format!("services:\n  a:\n    env: {}\n", "{a: ".repeat(500));
    let deep_block: String = (0..500)
        .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
        .collect();
    let long = format!(
        "version: 1\nname: {}\nservices:\n  {}: {{image: \"{}\"}}\n",
        "n".repeat(10_000),
        "s".repeat(10_000),
        "é".repeat(10_000)
    );
    let laughs = {
        let mut t = String::from("version: 1\nname: x\nx-a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n");
        for i in 1..12 {
            let prev = (b'a' + i - 1) as char;
            let this = (b'a' + i) as char;
            t.push_str(&format!(
                "x-{this}: &{this} [{}]\n",
                vec![format!("*{prev}"); 10].join(", ")
            ));
        }
        t.push_str("services:\n  s: {image: a:1}\n");
        t
    };
    let cases: Vec<(&str, String)> = vec![
        ("empty", String::new()),
        ("bom only", "\u{feff}".into()),
        ("nul only", "\0".into()),
        ("newlines", "\n\n\r\n\r".into()),
        ("a scalar document", "just text".into()),
        ("a list document", "- 1\n- 2\n".into()),
        ("two documents", "version: 1\n---\nversion: 2\n".into()),
        ("tabs", "version:\t1\n\tname: x\n".into()),
        ("deep flow", deep_flow),
        ("deep unclosed flow", deep_open),
        ("deep block", deep_block),
        ("long strings", long),
        ("alias bomb", laughs),
        (
            "self merge",
            "a: &a {<<: *a}\nservices: {s: {<<: *a, image: x:1}}\n".into(),
        ),
        (
            "environment everywhere",
            "version: 1\nname: x\nenvironments: {'': {}, null: {}, 1: {}, [a]: {}}\nservices: {s: {image: a:1}}\n".into(),
        ),
    ];
    for (name, text) in cases {
        if let Err(e) = exercise(&text) {
            panic!("{name}: {e}");
        }
    }
}
