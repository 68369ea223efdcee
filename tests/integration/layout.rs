//! Layout rules of the workspace: in every crate, the top-level modules form a DAG.
//!
//! A *top-level module* `X` is `src/X.rs` plus everything under `src/X/`; `lib.rs` and `main.rs`
//! are the crate root and no module (the root re-exports and wires modules, it may use them all).
//! Module `A` depends on `B` when code of `A` names `crate::B` (`use crate::B::…`,
//! `use crate::{B, …}`, or a path `crate::B::…` in an expression or type). A cycle between
//! modules means neither can be understood, tested or moved without the other: move the shared
//! items into a module both sides use, or invert one dependency.
//!
//! What counts:
//! - only non-test code: files named `tests.rs`, files under a `tests/` directory, files of a
//!   `#[cfg(test)] mod name;` declaration and the bodies of inline `#[cfg(test)] mod name { … }`
//!   are skipped. Tests may reach across modules (a test helper of `paths` used by the tests of
//!   `choice`) without tying the product modules together;
//! - comments, string and character literals are blanked before matching, so prose and
//!   messages that mention `crate::x` are no dependency;
//! - `src/bin/` is skipped: each file there is its own crate root, which reaches the library by
//!   its name, not through `crate::`;
//! - relative paths (`super::super::x`) are not followed: the workspace style names other
//!   top-level modules through `crate::`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use integration_tests::tools::repo_root;
use regex::Regex;

/// Crates (workspace member paths) with a known module cycle, not checked until it is broken.
/// Each entry says which cycle. Remove an entry once its cycle is gone: the test fails while an
/// exempted crate no longer has a cycle, so the list only shrinks.
const EXEMPT: &[(&str, &str)] = &[];

/// Comments, string literals (plain, byte and raw, up to `r##"…"##`) and character literals,
/// matched left to right so that a `//` inside a string is not taken for a comment. A lifetime
/// (`'a`) has no closing quote one character later, so it is not taken for a character.
static NOT_CODE: LazyLock<Regex> = LazyLock::new(|| {
    let alternatives = [
        r"//[^\n]*",
        r"/\*.*?\*/",
        r###"b?r##".*?"##"###,
        r##"b?r#".*?"#"##,
        r#"b?r".*?""#,
        r#"b?"(?:\\.|[^"\\])*""#,
        r"b?'(?:\\u\{[0-9a-fA-F]+\}|\\.|[^'\\])'",
    ];
    Regex::new(&format!("(?s){}", alternatives.join("|"))).expect("the literal pattern compiles")
});

/// A test-only module: inline (`{`) or in its own file (`;`).
static TEST_MOD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"#\[cfg\(test\)\]\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+([A-Za-z_][A-Za-z0-9_]*)\s*([{;])",
    )
    .expect("the test module pattern compiles")
});

/// A reference to a top-level module (`crate::x`), or the start of a group (`crate::{`).
/// `$crate` (in a macro of this crate) means the same crate, so it counts too.
static CRATE_REF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\bcrate\s*::\s*(?:([A-Za-z_][A-Za-z0-9_]*)|(\{))")
        .expect("the crate path pattern compiles")
});

/// The first name of a path inside a `use` group (`a::b` → `a`).
static FIRST_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*([A-Za-z_][A-Za-z0-9_]*)").expect("the name pattern compiles")
});

/// Where a dependency `from → to` is first seen, to show in the failure.
#[derive(Debug, Clone)]
struct Evidence {
    file: PathBuf,
    line: usize,
}

/// The module graph of one crate: every top-level module, and each dependency with its
/// first occurrence.
#[derive(Debug, Default)]
struct Graph {
    modules: BTreeSet<String>,
    edges: BTreeMap<(String, String), Evidence>,
}

/// Replaces every match of `NOT_CODE` with spaces (newlines kept), so offsets and line numbers
/// stay those of the file.
fn blank_non_code(text: &str) -> String {
    NOT_CODE
        .replace_all(text, |caps: &regex::Captures<'_>| {
            caps[0]
                .chars()
                .map(|c| if c == '\n' { '\n' } else { ' ' })
                .collect::<String>()
        })
        .into_owned()
}

/// The byte offset just after the brace that closes the one at `open`, in blanked code (no
/// braces hide in literals or comments any more). `None` if it is never closed.
fn matching_brace(code: &str, open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in code[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(open + i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// The code of a file that counts: literals and comments blanked, inline test modules blanked.
/// Also returns the names of test modules declared in their own files (`#[cfg(test)] mod x;`).
fn product_code(text: &str, file: &Path) -> (String, Vec<String>) {
    let mut code = blank_non_code(text);
    let mut test_files = Vec::new();
    let mut blocks = Vec::new();
    for caps in TEST_MOD.captures_iter(&code) {
        let name = caps[1].to_string();
        let end = caps.get(2).expect("group 2 always takes part");
        if end.as_str() == ";" {
            test_files.push(name);
        } else {
            let close = matching_brace(&code, end.start())
                .unwrap_or_else(|| panic!("{}: `mod {name} {{` is never closed", file.display()));
            blocks.push(caps.get(0).expect("whole match").start()..close);
        }
    }
    for block in blocks.into_iter().rev() {
        let blank: String = code[block.clone()]
            .chars()
            .map(|c| if c == '\n' { '\n' } else { ' ' })
            .collect();
        code.replace_range(block, &blank);
    }
    (code, test_files)
}

/// The top-level names a `crate::{…}` group starting at `open` (its `{`) brings in.
fn group_names(code: &str, open: usize) -> Vec<String> {
    let Some(close) = matching_brace(code, open) else {
        return Vec::new();
    };
    let inner = &code[open + 1..close - 1];
    let mut items = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                items.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&inner[start..]);
    items
        .into_iter()
        .filter_map(|item| FIRST_NAME.captures(item).map(|c| c[1].to_string()))
        .collect()
}

/// Every `.rs` file under `dir`, sorted, as paths relative to `src`.
fn rust_files(src: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{} cannot be listed: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry can be read").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(src, &path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(
                path.strip_prefix(src)
                    .expect("files found under src are under src")
                    .to_path_buf(),
            );
        }
    }
}

/// The top-level module a file (relative to `src`) belongs to; `None` for the crate roots and
/// for `src/bin/`.
fn top_level_module(rel: &Path) -> Option<String> {
    let mut parts = rel.components().map(|c| c.as_os_str().to_string_lossy());
    let first = parts.next()?;
    let is_file = parts.next().is_none();
    if is_file {
        let name = first.strip_suffix(".rs")?;
        (!matches!(name, "lib" | "main")).then(|| name.to_string())
    } else {
        (first != "bin").then(|| first.to_string())
    }
}

/// Whether a file (relative to `src`) is test code by its place: `tests.rs`, or under `tests/`.
fn is_test_file(rel: &Path) -> bool {
    rel.file_name().is_some_and(|n| n == "tests.rs")
        || rel
            .parent()
            .is_some_and(|dir| dir.components().any(|c| c.as_os_str() == "tests"))
}

/// The directory where the file modules declared by `rel` live (`a.rs` and `a/mod.rs` → `a/`).
fn child_dir(rel: &Path) -> PathBuf {
    if rel.file_name().is_some_and(|n| n == "mod.rs") {
        rel.parent().unwrap_or(Path::new("")).to_path_buf()
    } else {
        rel.with_extension("")
    }
}

/// Builds the module graph of the crate whose sources are in `src`; `shown` is how file paths
/// appear in messages (relative to the repository).
fn module_graph(src: &Path, shown: &Path) -> Graph {
    let mut files = Vec::new();
    rust_files(src, src, &mut files);
    let mut graph = Graph::default();
    let mut owned = Vec::new();
    for rel in files {
        let module = top_level_module(&rel);
        if let Some(module) = &module {
            graph.modules.insert(module.clone());
        }
        if let Some(module) = module
            && !is_test_file(&rel)
        {
            owned.push((rel, module));
        }
    }
    // Files declared by `#[cfg(test)] mod x;` are known only once their parent is read: read
    // every file first, then skip those.
    let mut texts = Vec::new();
    let mut test_dirs: Vec<PathBuf> = Vec::new();
    for (rel, module) in owned {
        let path = src.join(&rel);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{} cannot be read: {e}", path.display()));
        let (code, test_mods) = product_code(&text, &path);
        let dir = child_dir(&rel);
        test_dirs.extend(test_mods.iter().map(|name| dir.join(name)));
        texts.push((rel, module, code));
    }
    for (rel, module, code) in texts {
        let declared_test = test_dirs
            .iter()
            .any(|t| rel == t.with_extension("rs") || rel.starts_with(t));
        if declared_test {
            continue;
        }
        let line_of = |offset: usize| code[..offset].matches('\n').count() + 1;
        for caps in CRATE_REF.captures_iter(&code) {
            let at = caps.get(0).expect("whole match").start();
            let names = match (caps.get(1), caps.get(2)) {
                (Some(name), _) => vec![name.as_str().to_string()],
                (None, Some(open)) => group_names(&code, open.start()),
                (None, None) => Vec::new(),
            };
            for name in names {
                if name != module && graph.modules.contains(&name) {
                    graph
                        .edges
                        .entry((module.clone(), name))
                        .or_insert_with(|| Evidence {
                            file: shown.join(&rel),
                            line: line_of(at),
                        });
                }
            }
        }
    }
    graph
}

/// The strongly connected components with more than one module (Tarjan's algorithm), each
/// sorted; each is a knot of cycles.
fn knots(graph: &Graph) -> Vec<Vec<String>> {
    struct Tarjan<'g> {
        next: BTreeMap<&'g str, Vec<&'g str>>,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        found: Vec<Vec<String>>,
    }
    impl<'g> Tarjan<'g> {
        fn visit(&mut self, v: &'g str) {
            let i = self.index.len();
            self.index.insert(v, i);
            self.low.insert(v, i);
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.next.get(v).cloned().unwrap_or_default() {
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.on_stack.contains(w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    component.push(w.to_string());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (from, to) in graph.edges.keys() {
        next.entry(from.as_str()).or_default().push(to.as_str());
    }
    let mut t = Tarjan {
        next,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for module in &graph.modules {
        if !t.index.contains_key(module.as_str()) {
            t.visit(module);
        }
    }
    t.found.sort();
    t.found
}

/// A shortest cycle through `start` inside `knot` (breadth-first), as `a -> b -> a`.
fn shortest_cycle(graph: &Graph, knot: &[String], start: &str) -> String {
    let inside = |m: &str| knot.iter().any(|k| k == m);
    let mut parent: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for (from, to) in graph.edges.keys() {
            if from != v || !inside(to) {
                continue;
            }
            if to == start {
                let mut path = vec![start, v];
                let mut at = v;
                while at != start {
                    at = parent[at];
                    path.push(at);
                }
                path.reverse();
                return path.join(" -> ");
            }
            if !parent.contains_key(to.as_str()) {
                parent.insert(to, v);
                queue.push_back(to);
            }
        }
    }
    unreachable!("every module of a strongly connected component is on a cycle")
}

/// A readable report of every cycle of `graph` (empty when the modules form a DAG).
fn describe_cycles(name: &str, graph: &Graph) -> Vec<String> {
    knots(graph)
        .iter()
        .map(|knot| {
            let mut text = format!(
                "{name}: modules {{{}}} depend on each other, e.g. {}\n",
                knot.join(", "),
                shortest_cycle(graph, knot, &knot[0])
            );
            for ((from, to), evidence) in &graph.edges {
                if knot.contains(from) && knot.contains(to) {
                    text.push_str(&format!(
                        "    {from} -> {to}  ({}:{})\n",
                        evidence.file.display(),
                        evidence.line
                    ));
                }
            }
            text
        })
        .collect()
}

/// The workspace members that have a `src/` directory, as written in the root `Cargo.toml`.
fn members_with_src(root: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(root.join("Cargo.toml"))
        .expect("the workspace Cargo.toml can be read");
    let manifest: toml::Table = text
        .parse()
        .expect("the workspace Cargo.toml is valid TOML");
    let members = manifest
        .get("workspace")
        .and_then(|w| w.get("members"))
        .and_then(|m| m.as_array())
        .expect("the workspace Cargo.toml lists [workspace] members");
    members
        .iter()
        .map(|m| {
            let m = m.as_str().expect("each workspace member is a string");
            assert!(
                !m.contains(['*', '?', '[']),
                "workspace member '{m}' is a glob: this test reads plain paths only"
            );
            m.to_string()
        })
        .filter(|m| root.join(m).join("src").is_dir())
        .collect()
}

#[test]
fn layout_top_level_modules_of_every_crate_form_a_dag() {
    let root = repo_root();
    let members = members_with_src(&root);
    assert!(
        members.iter().any(|m| m == "runner"),
        "the workspace members were not read: {members:?}"
    );
    for (exempt, _) in EXEMPT {
        assert!(
            members.iter().any(|m| m == exempt),
            "EXEMPT names '{exempt}', which is not a workspace member with a src/"
        );
    }
    let mut failures = Vec::new();
    for member in &members {
        let graph = module_graph(
            &root.join(member).join("src"),
            &Path::new(member).join("src"),
        );
        let cycles = describe_cycles(member, &graph);
        let exempt = EXEMPT.iter().any(|(m, _)| m == member);
        match (exempt, cycles.is_empty()) {
            (false, false) => failures.extend(cycles),
            (true, true) => failures.push(format!(
                "{member}: exempt in EXEMPT (layout.rs) but its modules form a DAG now: remove \
                 the exemption\n"
            )),
            _ => {}
        }
    }
    assert!(
        failures.is_empty(),
        "module cycles: the top-level modules of a crate must form a DAG (move what both sides \
         share into a module both use, or invert one dependency)\n{}",
        failures.concat()
    );
}

/// The checker itself finds a cycle, names it with its evidence, and ignores what does not
/// count (test code, comments, strings): a guard against a check that can never fail.
#[test]
fn layout_checker_finds_a_planted_cycle_and_ignores_test_code() {
    let dir = std::env::temp_dir().join(format!("layout-check-{}", std::process::id()));
    let src = dir.join("src");
    let write = |rel: &str, text: &str| {
        let path = src.join(rel);
        std::fs::create_dir_all(path.parent().expect("a file has a parent"))
            .expect("the scratch directory can be made");
        std::fs::write(path, text).expect("the scratch file can be written");
    };
    write(
        "lib.rs",
        "mod a;\nmod b;\nmod c;\nmod d;\npub use crate::a::A;\n",
    );
    write("a.rs", "use crate::{b::{B, Bb}, d};\npub struct A;\n");
    write(
        "b/mod.rs",
        "mod inner;\n#[cfg(test)]\nmod tests;\n#[cfg(test)]\nmod check;\n",
    );
    write("b/inner.rs", "pub fn f() { let _ = crate::c::C; }\n");
    write("b/tests.rs", "use crate::d::D;\n");
    write("b/check/mod.rs", "use crate::d::D;\n");
    write(
        "c.rs",
        "// use crate::d::D;\nconst S: &str = \"crate::d::D\";\n\
         pub struct C;\nfn g<'x>(_: &'x str) -> char { let _ = crate::a::A; '{' }\n\
         #[cfg(test)]\nmod tests {\n    use crate::d::D;\n    fn h() -> char { '}' }\n}\n",
    );
    write("d.rs", "pub struct D;\n");
    let graph = module_graph(&src, Path::new("demo/src"));
    std::fs::remove_dir_all(&dir).expect("the scratch directory can be removed");

    let edges: Vec<(&str, &str)> = graph
        .edges
        .keys()
        .map(|(f, t)| (f.as_str(), t.as_str()))
        .collect();
    assert_eq!(
        edges,
        [("a", "b"), ("a", "d"), ("b", "c"), ("c", "a")],
        "test files, test modules, comments and strings are no dependency"
    );
    let report = describe_cycles("demo", &graph).concat();
    assert!(
        report.contains("demo: modules {a, b, c} depend on each other, e.g. a -> b -> c -> a"),
        "{report}"
    );
    assert!(
        report.contains("b -> c  (demo/src/b/inner.rs:1)"),
        "{report}"
    );
    assert!(report.contains("c -> a  (demo/src/c.rs:4)"), "{report}");
}

/// The packages `cargo tree` lists as normal (non-dev, non-build) dependencies of `package`.
fn normal_dependencies(package: &str, extra: &[&str]) -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = std::process::Command::new(cargo)
        .current_dir(repo_root())
        .args(["tree", "-p", package, "-e", "normal", "--prefix", "none"])
        .args(extra)
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree -p {package}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// The local tooling: what the demo and the tests need, never a deployed artifact.
const TOOLING: [&str; 4] = ["devstack", "atlas-sim", "openapi-contract", "asl-runner"];

#[test]
fn layout_the_lambda_binary_and_the_deployed_side_cli_link_no_tooling() {
    let lambda = normal_dependencies("privatelink-lambdas", &[]);
    assert!(lambda.contains("privatelink-core"), "{lambda:?}");
    for tool in TOOLING {
        assert!(!lambda.contains(tool), "the Lambda binary links {tool}");
    }
    // The functions never publish events themselves (the state machines' events:putEvents
    // integration does) and never read a queue: those SDKs are the local side's.
    for sdk in ["aws-sdk-eventbridge", "aws-sdk-sqs"] {
        assert!(!lambda.contains(sdk), "the Lambda binary links {sdk}");
    }
    // The CLI without its local-world feature: validate, run --local, start, watch.
    let cli = normal_dependencies("atlas-privatelink", &["--no-default-features"]);
    assert!(cli.contains("asl-runner"), "{cli:?}");
    for tool in ["devstack", "atlas-sim", "openapi-contract", "jsonschema"] {
        assert!(!cli.contains(tool), "the deployed-side CLI links {tool}");
    }
    // With it (the default), the demo's simulator is there, and still no contract checker.
    let full = normal_dependencies("atlas-privatelink", &[]);
    assert!(
        full.contains("atlas-sim") && full.contains("devstack"),
        "{full:?}"
    );
    assert!(
        !full.contains("openapi-contract"),
        "the CLI links the contract checker"
    );
}
