//! The shape of the source tree (ARCHITECTURE.md): no two files import each other, directly or
//! round a loop; no file is over 600 lines before its tests; the command line's `main.rs` stays a
//! table of commands; the library has no command-line crate.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_LINES: usize = 600;

fn crates() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

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

/// The module path of a source file under `src` (`training/fit.rs` → `["training", "fit"]`).
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let mut parts: Vec<String> = file
        .strip_prefix(src)
        .unwrap()
        .with_extension("")
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    parts
}

/// A file's code before its test module, without `//` comments.
fn code_of(text: &str) -> String {
    text[..before_tests(text)]
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Where a file's test module starts (its end without one).
fn before_tests(text: &str) -> usize {
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        let next = &text[at + line.len()..];
        if line.trim_end() == "#[cfg(test)]" && next.lines().next().is_some_and(|l| l.contains("mod ")) {
            return at;
        }
        at += line.len();
    }
    text.len()
}

fn ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every path a file names through `crate::` or `super::` (groups `{a, b::c}` expanded), as module
/// segments from the crate root.
fn paths_named(module: &[String], code: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let chars: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let word_start = i == 0 || !ident(chars[i - 1]) && chars[i - 1] != ':';
        let rest: String = chars[i..chars.len().min(i + 7)].iter().collect();
        let root = if rest.starts_with("crate::") {
            Some((Vec::new(), 7))
        } else if rest.starts_with("super::") {
            // `super` of a.rs or a/mod.rs is a's parent.
            Some((module[..module.len().saturating_sub(1)].to_vec(), 7))
        } else {
            None
        };
        let Some((mut base, skip)) = root.filter(|_| word_start) else {
            i += 1;
            continue;
        };
        i += skip;
        let mut segments = Vec::new();
        let mut grouped = false;
        loop {
            if chars.get(i) == Some(&'{') {
                let (mut depth, start) = (0, i);
                while i < chars.len() {
                    depth += match chars[i] {
                        '{' => 1,
                        '}' => -1,
                        _ => 0,
                    };
                    i += 1;
                    if depth == 0 {
                        break;
                    }
                }
                let group: String = chars[start + 1..i - 1].iter().collect();
                for item in group.split(',') {
                    let first: Vec<String> = item
                        .trim()
                        .split("::")
                        .map(|s| s.trim().chars().take_while(|&c| ident(c)).collect::<String>())
                        .take_while(|s| !s.is_empty())
                        .collect();
                    found.push([base.clone(), segments.clone(), first].concat());
                }
                grouped = true;
                break;
            }
            let start = i;
            while i < chars.len() && ident(chars[i]) {
                i += 1;
            }
            let segment: String = chars[start..i].iter().collect();
            if segment == "super" {
                base.pop();
            } else if !segment.is_empty() {
                segments.push(segment);
            }
            if chars.get(i) == Some(&':') && chars.get(i + 1) == Some(&':') {
                i += 2;
                continue;
            }
            break;
        }
        if grouped {
            continue;
        }
        found.push([base, segments].concat());
    }
    found
}

/// Each module of the crate at `src` and the modules it imports, leaving out a module's own
/// descendants (a parent declaring and re-exporting its children is the tree, not an import).
fn imports(src: &Path) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeMap<Vec<String>, PathBuf> =
        files.iter().map(|f| (module_of(src, f), f.clone())).collect();
    let mut graph = BTreeMap::new();
    for (module, file) in &modules {
        let code = code_of(&std::fs::read_to_string(file).unwrap());
        let mut deps = BTreeSet::new();
        for path in paths_named(module, &code) {
            // The longest prefix that is a module is the file the path reaches.
            if let Some(target) =
                (0..=path.len()).rev().map(|k| &path[..k]).find(|p| modules.contains_key(*p))
            {
                if !target.starts_with(module) {
                    deps.insert(target.to_vec());
                }
            }
        }
        graph.insert(module.clone(), deps);
    }
    graph
}

/// One import loop of `graph`, as the modules round it, if there is any.
fn a_cycle(graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Option<Vec<String>> {
    fn visit(
        node: &Vec<String>,
        graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        stack: &mut Vec<Vec<String>>,
        done: &mut BTreeSet<Vec<String>>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let name = |m: &Vec<String>| if m.is_empty() { "lib".to_string() } else { m.join("/") };
            return Some(stack[at..].iter().chain([node]).map(name).collect());
        }
        if !done.insert(node.clone()) {
            return None;
        }
        stack.push(node.clone());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, stack, done) {
                return Some(cycle);
            }
        }
        stack.pop();
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn no_two_source_files_import_each_other() {
    for krate in ["engine", "ae", "cli"] {
        let graph = imports(&crates().join(krate).join("src"));
        assert!(graph.len() > 10, "{krate}: only {} modules read", graph.len());
        assert_eq!(a_cycle(&graph), None, "an import loop in crates/{krate}");
    }
}

#[test]
fn the_loop_finder_sees_a_loop_through_a_re_export_and_a_group() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("lib.rs", "pub mod report;\npub mod training;\npub use training::Stats;\n");
    write("report/mod.rs", "mod html;\nuse crate::training::Stats;\npub struct Page;\n");
    write("report/html.rs", "use crate::{training::Stats, Thing};\n");
    write("training/mod.rs", "use crate::report::Page; // crate::elsewhere\npub struct Stats;\n");
    let module = |path: &str| path.split('/').filter(|s| !s.is_empty()).map(String::from).collect::<Vec<_>>();
    let graph = imports(dir.path());
    assert_eq!(graph[&module("report/html")], BTreeSet::from([module("training"), module("")]));
    assert_eq!(graph[&module("training")], BTreeSet::from([module("report")]));
    assert_eq!(graph[&module("")], BTreeSet::new(), "a parent's children are the tree, not imports");
    let cycle = a_cycle(&graph).expect("report → training → report");
    assert!(cycle.contains(&"training".to_string()) && cycle.contains(&"report".to_string()), "{cycle:?}");
    // Without the import back, a child reaching a module that imports its parent is no loop.
    write("report/mod.rs", "mod html;\npub struct Page;\n");
    assert_eq!(a_cycle(&imports(dir.path())), None);
}

#[test]
fn no_source_file_is_over_600_lines_before_its_tests() {
    let mut files = Vec::new();
    for krate in ["engine", "ae", "cli"] {
        rust_files(&crates().join(krate).join("src"), &mut files);
    }
    let long: Vec<String> = files
        .iter()
        .map(|f| (f, std::fs::read_to_string(f).unwrap()))
        .map(|(f, text)| (f, text[..before_tests(&text)].lines().count()))
        .filter(|&(_, lines)| lines > MAX_LINES)
        .map(|(f, lines)| format!("{} ({lines})", f.display()))
        .collect();
    assert!(files.len() > 60 && long.is_empty(), "over {MAX_LINES} lines: {long:?}");
    let main = std::fs::read_to_string(crates().join("cli/src/main.rs")).unwrap();
    assert!(main.lines().count() <= 150, "main.rs: {} lines", main.lines().count());
}

#[test]
fn only_the_command_line_depends_on_clap() {
    let manifest = |krate: &str| std::fs::read_to_string(crates().join(krate).join("Cargo.toml")).unwrap();
    for krate in ["engine", "ae"] {
        let text = manifest(krate);
        assert!(!text.contains("clap") && !text.contains("indicatif"), "crates/{krate}/Cargo.toml");
    }
    assert!(manifest("cli").contains("clap"));
}
