//! Parsing a large registry in pieces, side by side.
//!
//! Scanning YAML is the largest single cost of loading a registry of thousands of services,
//! and it is sequential by nature. A registry, though, is a block mapping whose big sections
//! (`services`, `secrets`, `volumes`) are block mappings of small, independent entries. Cut
//! at the lines where a top-level key or an entry of such a section starts, the text falls
//! into pieces that are each a YAML document of their own; parsed on their own threads and
//! joined, they give the tree a single parse gives.
//!
//! Cutting is only ever an optimisation: whenever the text has a shape where a cut could
//! change its meaning or a span (document markers, directives, top-level content that is not
//! a plain block mapping, a block scalar ending where the cut would be, merge keys in the
//! mappings being joined, aliases that would reach across a cut) or any piece fails to parse, [`parse`] gives up and the caller parses the whole text,
//! which also reports syntax errors exactly as usual. Tests compare the joined tree with the
//! single parse, spans included.

use std::ops::Range;

use super::{MAX_ALIAS_EXPANSION, Node, Value, parse_piece};
use crate::source::{SourceFile, Span};

/// Below this size a single parse is fast enough that threads would not pay off.
const MIN_PARALLEL_BYTES: usize = 256 * 1024;

/// The most threads a parse uses.
const MAX_THREADS: usize = 8;

/// The document in `file`, parsed in pieces side by side; None when the text is small, the
/// machine has one core, or its shape does not allow cutting (the caller then parses it
/// whole).
pub(super) fn parse(file: &SourceFile) -> Option<Node> {
    if file.text.len() < MIN_PARALLEL_BYTES {
        return None;
    }
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(MAX_THREADS);
    if threads < 2 {
        return None;
    }
    let plan = plan(&file.text, threads)?;
    let parsed = parse_side_by_side(file, &plan)?;
    join(&plan, parsed)
}

/// How the text is cut: a list of parts in text order.
#[derive(Debug)]
struct Plan {
    parts: Vec<Part>,
}

#[derive(Debug)]
enum Part {
    /// Lines holding whole top-level entries.
    Top(Range<usize>),
    /// A top-level key alone on its line, whose value is a block mapping cut into runs of
    /// its entries.
    Section {
        key: Range<usize>,
        runs: Vec<Range<usize>>,
    },
}

impl Plan {
    /// Every piece of text to parse, in order.
    fn pieces(&self) -> Vec<Range<usize>> {
        let mut out = Vec::new();
        for part in &self.parts {
            match part {
                Part::Top(range) => out.push(range.clone()),
                Part::Section { key, runs } => {
                    out.push(key.clone());
                    out.extend(runs.iter().cloned());
                }
            }
        }
        out
    }
}

/// One line of the text: where it starts and ends (without its line break), and its
/// indentation.
#[derive(Clone, Copy)]
struct Line {
    start: usize,
    end: usize,
    indent: usize,
}

impl Line {
    fn text<'t>(&self, text: &'t str) -> &'t str {
        &text[self.start..self.end]
    }

    /// Blank or only a comment: never a place to cut, never content that matters here.
    fn is_blank(&self, text: &str) -> bool {
        let rest = self.text(text)[self.indent..].trim_end();
        rest.is_empty() || rest.starts_with('#')
    }

    /// Starts a simple mapping key: a name, a number or a quoted string.
    fn starts_key(&self, text: &str) -> bool {
        self.text(text)[self.indent..]
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'"' | b'\''))
    }
}

fn lines(text: &str) -> Vec<Line> {
    let mut out = Vec::new();
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        let end = start + line.trim_end_matches(['\n', '\r']).len();
        let indent = line.bytes().take_while(|&b| b == b' ').count();
        out.push(Line { start, end, indent });
        start += line.len();
    }
    out
}

/// Cuts `text` into about `2 * threads` pieces of similar size, or None when its shape does
/// not allow cutting safely.
fn plan(text: &str, threads: usize) -> Option<Plan> {
    // A lone carriage return is a line break to YAML but not to the line table.
    if text
        .bytes()
        .enumerate()
        .any(|(i, b)| b == b'\r' && text.as_bytes().get(i + 1) != Some(&b'\n'))
    {
        return None;
    }
    let lines = lines(text);
    // The top level: every significant line at column 0 must start a plain key (no
    // document markers, directives, flow collections, sequences, anchors or tags there).
    let mut tops: Vec<usize> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.text(text).starts_with('\t') {
            return None;
        }
        if line.indent > 0 || line.is_blank(text) {
            continue;
        }
        if !line.starts_key(text) {
            return None;
        }
        tops.push(i);
    }
    let first_significant = lines.iter().position(|l| !l.is_blank(text))?;
    if tops.first() != Some(&first_significant) {
        return None;
    }
    let cuttable = cuttable_lines(text, &lines);
    let target = text.len().div_ceil(threads * 2);
    let offset_of = |line: usize| lines.get(line).map_or(text.len(), |l| l.start);
    let mut parts: Vec<Part> = Vec::new();
    let mut run_start: Option<usize> = None;
    for (n, &top) in tops.iter().enumerate() {
        let next = tops.get(n + 1).copied().unwrap_or(lines.len());
        // Leading comments and blank lines belong to the first entry.
        let start = if n == 0 { 0 } else { offset_of(top) };
        let end = offset_of(next);
        let section = (end - start > target && cuttable[top] && cuttable[next])
            .then(|| section_runs(text, &lines, &cuttable, top..next, target))
            .flatten();
        match section {
            Some(runs) => {
                if let Some(s) = run_start.take() {
                    parts.push(Part::Top(s..start));
                }
                let key = start..offset_of(top + 1);
                parts.push(Part::Section { key, runs });
            }
            None => {
                let s = *run_start.get_or_insert(start);
                if end - s >= target && cuttable[next] {
                    parts.push(Part::Top(s..end));
                    run_start = None;
                }
            }
        }
    }
    if let Some(s) = run_start {
        parts.push(Part::Top(s..text.len()));
    }
    let plan = Plan { parts };
    (plan.pieces().len() > 1).then_some(plan)
}

/// For each line (and the end of the text), whether the text may be cut just before it.
/// It may not when the last line before it with anything on it belongs to a block scalar
/// (`|` or `>`): where such a scalar ends, and so its span, depends on what follows it.
fn cuttable_lines(text: &str, lines: &[Line]) -> Vec<bool> {
    let mut out = Vec::with_capacity(lines.len() + 1);
    let mut last_in_block = false;
    let mut header_indent: Option<usize> = None;
    for line in lines {
        out.push(!last_in_block);
        let body = line.text(text);
        if body.trim().is_empty() {
            continue;
        }
        let in_content = header_indent.is_some_and(|h| line.indent > h);
        if !in_content {
            header_indent = opens_block_scalar(body).then_some(line.indent);
        }
        last_in_block = in_content || header_indent.is_some();
    }
    out.push(!last_in_block);
    out
}

/// Whether a line ends with a block scalar header (`|`, `>-`, `|2+`...), comments aside.
/// Erring towards yes only costs a cut.
fn opens_block_scalar(line: &str) -> bool {
    let code = match line.find(" #") {
        Some(at) => &line[..at],
        None => line,
    };
    code.split_whitespace().last().is_some_and(|token| {
        token.starts_with(['|', '>'])
            && token[1..]
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'+' || b == b'-')
    })
}

/// The entries of the top-level section on `lines` (its key line first), in runs of about
/// `target` bytes; None when its key line holds more than the key or its value is not a
/// block mapping of entries at one indentation.
fn section_runs(
    text: &str,
    lines: &[Line],
    cuttable: &[bool],
    section: Range<usize>,
    target: usize,
) -> Option<Vec<Range<usize>>> {
    let key_line = lines[section.start].text(text);
    let (key, rest) = key_line.split_once(':')?;
    let rest = rest.trim();
    if key.trim().is_empty() || !(rest.is_empty() || rest.starts_with('#')) {
        return None;
    }
    let body = section.start + 1..section.end;
    let first = lines[body.clone()].iter().find(|l| !l.is_blank(text))?;
    let indent = first.indent;
    if indent == 0 || !first.starts_key(text) {
        return None;
    }
    let mut cuts: Vec<usize> = Vec::new();
    for i in body.clone() {
        let line = &lines[i];
        if line.is_blank(text) {
            continue;
        }
        if line.text(text)[..line.indent.min(line.end - line.start)].contains('\t') {
            return None;
        }
        match line.indent {
            n if n < indent => return None,
            n if n == indent => {
                if !line.starts_key(text) {
                    return None;
                }
                if cuttable[i] {
                    cuts.push(line.start);
                }
            }
            _ => {}
        }
    }
    let end = lines.get(body.end).map_or(text.len(), |l| l.start);
    let mut run_start = lines.get(body.start)?.start;
    let mut runs = Vec::new();
    for &cut in &cuts {
        if cut - run_start >= target {
            runs.push(run_start..cut);
            run_start = cut;
        }
    }
    runs.push(run_start..end);
    (runs.len() > 1).then_some(runs)
}

/// What parsing a piece gave: its document and how many nodes its aliases expanded to.
type Parsed = (Node, usize);

/// Parses every piece of `plan`, on as many threads as there are pieces; None when any
/// piece fails to parse.
fn parse_side_by_side(file: &SourceFile, plan: &Plan) -> Option<Vec<Parsed>> {
    let pieces = plan.pieces();
    let parse_one = |range: &Range<usize>| {
        let first_line = file.line_col(range.start).0 - 1;
        parse_piece(file, &file.text[range.clone()], first_line).ok()
    };
    let results: Vec<Option<Parsed>> = std::thread::scope(|scope| {
        let handles: Vec<_> = pieces[1..]
            .iter()
            .map(|range| scope.spawn(move || parse_one(range)))
            .collect();
        let first = parse_one(&pieces[0]);
        std::iter::once(first)
            .chain(handles.into_iter().map(|h| h.join().ok().flatten()))
            .collect()
    });
    let parsed: Vec<Parsed> = results.into_iter().collect::<Option<_>>()?;
    let expanded: usize = parsed.iter().map(|(_, n)| n).sum();
    (expanded <= MAX_ALIAS_EXPANSION).then_some(parsed)
}

/// The entries of a piece's document, which must be a mapping without merge keys (a merge
/// key's effect reaches across the entries being joined).
fn entries_of(node: Node) -> Option<(Vec<(Node, Node)>, Span)> {
    let span = node.span;
    match node.value {
        Value::Map(entries)
            if node.tag.is_none() && !entries.iter().any(|(k, _)| k.as_str() == Some("<<")) =>
        {
            Some((entries, span))
        }
        _ => None,
    }
}

/// The whole document from its parsed pieces, as a single parse would build it.
fn join(plan: &Plan, parsed: Vec<Parsed>) -> Option<Node> {
    let mut parsed = parsed.into_iter().map(|(node, _)| node);
    let mut entries: Vec<(Node, Node)> = Vec::new();
    let mut root_span: Option<Span> = None;
    let mut extend = |span: Span| {
        let whole = root_span.get_or_insert(span);
        whole.end = span.end;
    };
    for part in &plan.parts {
        match part {
            Part::Top(_) => {
                let (mut own, span) = entries_of(parsed.next()?)?;
                extend(span);
                entries.append(&mut own);
            }
            Part::Section { runs, .. } => {
                let (mut key_entry, span) = entries_of(parsed.next()?)?;
                if key_entry.len() != 1 || !key_entry[0].1.is_null() {
                    return None;
                }
                let (key, _) = key_entry.pop()?;
                let mut children: Vec<(Node, Node)> = Vec::new();
                let mut value_span: Option<Span> = None;
                for _ in runs {
                    let (mut own, span) = entries_of(parsed.next()?)?;
                    let whole = value_span.get_or_insert(span);
                    whole.end = span.end;
                    children.append(&mut own);
                }
                let value_span = value_span?;
                extend(Span::new(span.start, value_span.end));
                entries.push((key, Node::new(Value::Map(children), value_span)));
            }
        }
    }
    Some(Node::new(Value::Map(entries), root_span?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tree from pieces must be the tree from one parse, spans included.
    fn assert_same_as_whole(text: &str, threads: usize) -> bool {
        let file = SourceFile::new("muster.yaml", text);
        let whole = super::super::parse_piece(&file, text, 0).map(|(n, _)| n);
        let Some(plan) = plan(text, threads) else {
            return false;
        };
        let Some(joined) = parse_side_by_side(&file, &plan).and_then(|p| join(&plan, p)) else {
            return false;
        };
        assert_eq!(Ok(joined), whole, "{plan:#?}");
        true
    }

    fn registry(services: usize) -> String {
        let mut text = String::from("# A registry\nversion: 1\nname: big\n\nsecrets:\n");
        for i in 0..services {
            text.push_str(&format!("  s{i}-key: {{ kind: hex, bytes: 32 }}\n"));
        }
        text.push_str("services:\n");
        for i in 0..services {
            text.push_str(&format!(
                "  # service {i}\n  svc-{i}:\n    image: \"app:{i}\"\n    env:\n      A: |\n        line one\n\n        line three\n    ports: [\"{}:80\"]\n\n",
                10_000 + i
            ));
        }
        text.push_str("networks:\n  front: {}\n# the end\n");
        text
    }

    #[test]
    fn a_large_registry_is_cut_and_joined_exactly() {
        let text = registry(400);
        for threads in [2, 3, 8] {
            assert!(assert_same_as_whole(&text, threads), "{threads} threads");
        }
        let plan = plan(&text, 2).unwrap();
        assert!(
            plan.parts
                .iter()
                .any(|p| matches!(p, Part::Section { runs, .. } if runs.len() > 1))
        );
    }

    #[test]
    fn every_example_and_corpus_registry_parses_the_same_in_pieces() {
        let mut texts: Vec<String> = crate::examples::EXAMPLES
            .iter()
            .map(|e| e.text.to_string())
            .collect();
        let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
        let mut stack = vec![corpus];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml")
                    && let Ok(text) = std::fs::read_to_string(&path)
                {
                    texts.push(text);
                }
            }
        }
        let mut cut = 0;
        for text in &texts {
            // Small files are cut too here, to try every shape.
            if assert_same_as_whole(text, 8) {
                cut += 1;
            }
        }
        assert!(cut > texts.len() / 2, "{cut} of {} cut", texts.len());
    }

    #[test]
    fn shapes_that_a_cut_could_change_are_parsed_whole() {
        let body = "  a: 1\n  b: 2\n  c: 3\n  d: 4\n";
        for text in [
            format!("---\nx:\n{body}"),
            format!("%YAML 1.2\n---\nx:\n{body}"),
            format!("- a\n- b\nx:\n{body}"),
            format!("x: &anchor\n{body}y: *anchor\n"),
            format!("x:\n{body}<<: {{ m: 1 }}\n"),
            format!("x:\n{body}  <<: {{ m: 1 }}\n"),
            format!("x:\n{body}\ty: 1\n"),
            format!("x: [1,\n2]\n{body}"),
            format!("x:\r{body}"),
        ] {
            let file = SourceFile::new("muster.yaml", text.as_str());
            let joined = plan(&text, 8)
                .and_then(|plan| parse_side_by_side(&file, &plan).and_then(|p| join(&plan, p)));
            if let Some(joined) = joined {
                let whole = super::super::parse_piece(&file, &text, 0).map(|(n, _)| n);
                assert_eq!(Ok(joined), whole, "{text:?}");
            }
        }
    }

    #[test]
    fn a_broken_piece_gives_up_so_the_whole_text_reports_it() {
        let mut text = registry(50);
        text.push_str("late:\n  x: \"unclosed\n  y: 1\n");
        let file = SourceFile::new("muster.yaml", text.as_str());
        let plan = plan(&text, 8).unwrap();
        assert!(parse_side_by_side(&file, &plan).is_none());
    }
}

/// Mutated registries: whenever the pieces parse, they must give the whole parse's tree.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    /// Lines that, dropped anywhere, make cutting risky: document markers, anchors and
    /// aliases, merge keys, block and multi-line scalars, flow collections across lines,
    /// tabs, tags, sequences and complex keys.
    const FRAGMENTS: &[&str] = &[
        "---",
        "...",
        "%YAML 1.2",
        "<<: *a",
        "  <<: { m: 1 }",
        "x: &a { k: 1 }",
        "  y: *a",
        "  z: |",
        "    block text",
        "z: >-",
        "  z: |2",
        "x: [1,",
        "2]",
        "  k: [a,",
        "  b]",
        "\"q: 1",
        "  'unclosed: 2",
        "  - item",
        "- item",
        "\tx: 1",
        "  \ty: 1",
        "# comment",
        "",
        "  key: \"multi",
        "  line\"",
        "? complex",
        ": value",
        "x: !!str 1",
        "x: !reset",
        "  plain",
        "  continued: not",
        "x",
        "  svc-new:",
        "    image: a:1",
        "\r",
        "{ a: 1 }",
        "  * star",
        "  & amp",
        "  !tag x: 1",
        "  \"quoted key\": 1",
        "  'single': 2",
    ];

    /// 300 cases, or as many as `PROPTEST_CASES` asks for.
    fn config() -> ProptestConfig {
        let mut config = ProptestConfig::default();
        if std::env::var_os("PROPTEST_CASES").is_none() {
            config.cases = 300;
        }
        config
    }

    fn base_texts() -> Vec<String> {
        let mut texts: Vec<String> = crate::examples::EXAMPLES
            .iter()
            .map(|e| e.text.to_string())
            .collect();
        texts.push(tests_registry());
        texts
    }

    fn tests_registry() -> String {
        let mut text = String::from("version: 1\nname: t\nsecrets:\n");
        for i in 0..30 {
            text.push_str(&format!("  k{i}: {{ kind: hex }}\n"));
        }
        text.push_str("services:\n");
        for i in 0..30 {
            text.push_str(&format!(
                "  s{i}:\n    image: a:{i}\n    env: {{ A: \"{i}\" }}\n"
            ));
        }
        text
    }

    #[derive(Debug, Clone)]
    enum Mutation {
        Insert(usize, usize),
        Delete(usize),
        Duplicate(usize),
        Indent(usize, i8),
        Swap(usize, usize),
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        prop_oneof![
            (any::<usize>(), 0..FRAGMENTS.len()).prop_map(|(at, f)| Mutation::Insert(at, f)),
            any::<usize>().prop_map(Mutation::Delete),
            any::<usize>().prop_map(Mutation::Duplicate),
            (any::<usize>(), -2i8..=2).prop_map(|(at, by)| Mutation::Indent(at, by)),
            (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Swap(a, b)),
        ]
    }

    fn mutate(text: &str, mutations: &[Mutation]) -> String {
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        for m in mutations {
            if lines.is_empty() {
                break;
            }
            let n = lines.len();
            match *m {
                Mutation::Insert(at, f) => lines.insert(at % (n + 1), FRAGMENTS[f].to_string()),
                Mutation::Delete(at) => {
                    lines.remove(at % n);
                }
                Mutation::Duplicate(at) => {
                    let line = lines[at % n].clone();
                    lines.insert(at % n, line);
                }
                Mutation::Indent(at, by) => {
                    let line = &mut lines[at % n];
                    if by > 0 {
                        line.insert_str(0, &" ".repeat(by as usize));
                    } else {
                        let spaces = line.bytes().take_while(|&b| b == b' ').count();
                        line.drain(..spaces.min(by.unsigned_abs() as usize));
                    }
                }
                Mutation::Swap(a, b) => lines.swap(a % n, b % n),
            }
        }
        lines.join("\n") + "\n"
    }

    proptest! {
        #![proptest_config(config())]
        #[test]
        fn pieces_never_change_the_tree(
            which in any::<usize>(),
            mutations in prop::collection::vec(mutation(), 1..6),
            threads in 2usize..9,
        ) {
            let texts = base_texts();
            let text = mutate(&texts[which % texts.len()], &mutations);
            let file = SourceFile::new("muster.yaml", text.as_str());
            let joined = plan(&text, threads)
                .and_then(|plan| parse_side_by_side(&file, &plan).and_then(|p| join(&plan, p)));
            if let Some(joined) = joined {
                let whole = super::super::parse_piece(&file, &text, 0).map(|(n, _)| n);
                prop_assert_eq!(Ok(joined), whole);
            }
        }
    }
}
