//! The committed stub `python/modsynclog/__init__.pyi` is what the `gen_stub_*`
//! annotations in `src/` give (`cargo run -p modsynclog-python --bin stub_gen` writes it).
//! A test of the workspace, so that `cargo test --workspace` checks it with the features
//! it already built (running the generator with `-p` alone would compile much again).

#[test]
fn committed_stub_is_what_the_annotations_give() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("modsynclog").join("__init__.pyi");
    let current = std::fs::read_to_string(&path).expect("read the committed stub");
    let want = _modsynclog::stub::render(&current).expect("render the stub");
    if let Some(message) = _modsynclog::stub::staleness(&current, &want) {
        panic!("{message}");
    }
}
