//! `modsynclog-testcerts DIR`: writes a fresh test CA and certificates into DIR (for the
//! C, Python and Node TLS tests). See the library docs for the files.

fn main() {
    let Some(dir) = std::env::args_os().nth(1) else {
        eprintln!("usage: modsynclog-testcerts DIR");
        std::process::exit(2);
    };
    if let Err(e) = modsynclog_testcerts::TestPki::write(std::path::Path::new(&dir)) {
        eprintln!("modsynclog-testcerts: {e}");
        std::process::exit(1);
    }
}
