//! The bindings' lists of error kinds, generated from the core's `ErrorKind` (the one
//! list, `error_kinds!` in core/src/error.rs): `go/kinds_gen.go` (Go's `Kind` constants,
//! their names and the `Err*` sentinels) and the `ErrorCode` type in
//! `node/dts-header.d.ts` (Node's `error.code`, between the `ErrorCode` markers) and the
//! exception classes of the Python stub `python/modsynclog/__init__.pyi` (between the
//! `error kinds` markers; the module creates the classes from `ErrorKind::ALL` at import).
//! The C statuses are checked by the unit test `statuses_match_core_codes`.
//!
//! Each test fails when the committed file differs from what it renders;
//! `MSL_BLESS=1 cargo test -p modsynclog-ffi --test kinds` rewrites the files.

use std::path::{Path, PathBuf};

use modsynclog_core::ErrorKind;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn bless() -> bool {
    std::env::var_os("MSL_BLESS").is_some_and(|v| v == "1")
}

/// Compares `path` (relative to the repository) with `want`, or writes it under `MSL_BLESS=1`.
fn check(path: &str, want: &str) {
    let full = repo().join(path);
    if bless() {
        std::fs::write(&full, want).unwrap();
        return;
    }
    let got = std::fs::read_to_string(&full).unwrap_or_default();
    if got != want {
        let first = got
            .lines()
            .zip(want.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(got.lines().count().min(want.lines().count()));
        panic!(
            "{path} is stale: it differs from what the core's ErrorKind list gives, from line {}:\n  \
             committed: {:?}\n  generated: {:?}\n\
             Regenerate it with: MSL_BLESS=1 cargo test -p modsynclog-ffi --test kinds\nand commit the result.",
            first + 1,
            got.lines().nth(first).unwrap_or("<end of file>"),
            want.lines().nth(first).unwrap_or("<end of file>"),
        );
    }
}

/// Checks (or, under `MSL_BLESS=1`, rewrites) the lines strictly between the line holding
/// `begin` and the next line holding `end` in `path`.
fn check_region(path: &str, begin: &str, end: &str, want: &str) {
    let full = repo().join(path);
    let text = std::fs::read_to_string(&full).unwrap();
    let start = text.find(begin).unwrap_or_else(|| panic!("{path}: no line with {begin:?}"));
    let start = start + text[start..].find('\n').unwrap() + 1;
    let stop = start + text[start..].find(end).unwrap_or_else(|| panic!("{path}: no line with {end:?}"));
    let stop = text[..stop].rfind('\n').map_or(start, |i| (i + 1).max(start));
    let whole = format!("{}{want}{}", &text[..start], &text[stop..]);
    if bless() {
        std::fs::write(&full, whole).unwrap();
    } else {
        check(path, &whole);
    }
}

/// The kind's core doc on one line.
fn doc_line(kind: ErrorKind) -> String {
    kind.doc().split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The first sentence of the kind's core doc, lower-cased first letter, no final dot.
fn summary(kind: ErrorKind) -> String {
    let doc: Vec<&str> = kind.doc().lines().map(str::trim).collect();
    let doc = doc.join(" ");
    let sentence = doc.split(". ").next().unwrap_or("").trim_end_matches('.');
    let mut chars = sentence.chars();
    chars.next().map(|c| c.to_lowercase().chain(chars).collect()).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// Go

/// Go names that are not the core's name (Go spells initialisms in capitals).
const GO_NAMES: &[(&str, &str)] = &[("Io", "IO")];

/// What a Go programmer reads next to each constant; a kind not listed here gets the first
/// sentence of its core doc.
const GO_COMMENTS: &[(&str, &str)] = &[
    ("InvalidArgument", "a value that cannot be accepted (bad date, bad option)"),
    ("NotFound", "a day, folder or file that does not exist"),
    ("Corrupt", "files or bytes that do not follow the format"),
    ("Io", "the operating system failed an I/O call"),
    ("Timeout", "a wait ran out of time (flush, or a reader's NextTimeout)"),
    ("Closed", "the producer (or the global SDK) was closed"),
    ("NotInitialized", "the global SDK was used before Init"),
    ("AlreadyInitialized", "Init again with another address"),
    ("TooLarge", "a record over MaxRecordLen (or a server limit)"),
    ("Protocol", "the peer broke the protocol"),
    ("Unauthenticated", "the server refused the credentials: final for a producer"),
    ("Unavailable", "the server cannot be reached or refused for now"),
    ("QueueFull", "the queue stayed full past EnqueueTimeout (TryCommit: at once)"),
    ("Conflict", "the request conflicts with the current state"),
    ("PermissionDenied", "valid credentials without this right: final for a producer"),
    ("NoSpace", "the server's disk is full: not final, records kept and retried"),
];

fn lookup(table: &[(&str, &'static str)], name: &str) -> Option<&'static str> {
    table.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
}

fn go_name(kind: ErrorKind) -> &'static str {
    lookup(GO_NAMES, kind.name()).unwrap_or(kind.name())
}

/// One gofmt-aligned block: `left` padded to the widest, then `right`.
fn aligned(rows: &[(String, String)]) -> String {
    let width = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    rows.iter().map(|(l, r)| format!("\t{l:width$} {r}\n")).collect()
}

fn render_go() -> String {
    let mut out = String::from(
        "// Code generated by `MSL_BLESS=1 cargo test -p modsynclog-ffi --test kinds` from the\n\
         // core's ErrorKind list (core/src/error.rs). DO NOT EDIT.\n\n\
         package modsynclog\n\n\
         // Every error kind of the core, with the numbers of modsynclog.h (MSL_*). Panic (101)\n\
         // is in errors.go: it is the C library's, not a kind of the core.\n\
         const (\n",
    );
    // gofmt aligns `Name Kind = N` in columns, then the comments.
    let name_width = ErrorKind::ALL.iter().map(|k| go_name(*k).len()).max().unwrap_or(0);
    let code_width = ErrorKind::ALL.iter().map(|k| k.code().to_string().len()).max().unwrap_or(0);
    for k in ErrorKind::ALL {
        let comment = lookup(GO_COMMENTS, k.name()).map(str::to_string).unwrap_or_else(|| summary(k));
        out += &format!("\t{:name_width$} Kind = {:<code_width$} // {comment}\n", go_name(k), k.code());
    }
    out += ")\n\n// The kinds' names, the same in every language (Node's error.code, the Python\n\
            // exception class without \"Error\").\nvar kindNames = map[Kind]string{\n";
    let rows: Vec<(String, String)> =
        ErrorKind::ALL.iter().map(|k| (format!("{}:", go_name(*k)), format!("\"{}\",", k.name()))).collect();
    out += &aligned(&rows);
    out += "}\n\n// One value per kind, for errors.Is.\nvar (\n";
    let rows: Vec<(String, String)> = ErrorKind::ALL
        .iter()
        .map(|k| (format!("Err{}", go_name(*k)), format!("= sentinel({})", go_name(*k))))
        .collect();
    out += &aligned(&rows);
    out += ")\n";
    out
}

#[test]
fn go_kinds_are_current() {
    for (name, _) in GO_NAMES.iter().chain(GO_COMMENTS) {
        assert!(ErrorKind::ALL.iter().any(|k| k.name() == *name), "{name} in the Go tables is not a core kind");
    }
    check("go/kinds_gen.go", &render_go());
}

// ---------------------------------------------------------------------------------------
// Python: the exception classes of the stub (the module creates them from
// `ErrorKind::ALL` at import, with the same docstrings: python/src/error.rs).

/// Bases a Python class has besides `Error` (as python/src/error.rs creates them).
const PY_EXTRA_BASES: &[(&str, &str)] = &[("Timeout", "builtins.TimeoutError")];

fn render_python_exceptions() -> String {
    let mut out = String::new();
    for k in ErrorKind::ALL {
        let bases = match lookup(PY_EXTRA_BASES, k.name()) {
            Some(extra) => format!("Error, {extra}"),
            None => "Error".to_string(),
        };
        out += &format!("class {}Error({bases}):\n    \"\"\"{} Code {}.\"\"\"\n\n", k.name(), doc_line(k), k.code());
    }
    out
}

#[test]
fn python_stub_exceptions_are_current() {
    check_region(
        "python/modsynclog/__init__.pyi",
        "BEGIN error kinds",
        "# END error kinds",
        &render_python_exceptions(),
    );
}

// ---------------------------------------------------------------------------------------
// Node: `error.code` is the kind's name (node/src/error.rs); its TypeScript type.

fn render_node_codes() -> String {
    let mut out = String::from(" */\nexport type ErrorCode =\n");
    for k in ErrorKind::ALL {
        out += &format!("  | '{}' // {}\n", k.name(), k.code());
    }
    out
}

#[test]
fn node_error_codes_are_current() {
    check_region("node/dts-header.d.ts", "BEGIN ErrorCode", "END ErrorCode", &render_node_codes());
}
