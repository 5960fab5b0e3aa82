//! `modsynclog-testcerts DIR`: writes a fresh test CA and certificates into DIR (for the
//! C, Python and Node TLS tests). See the library docs for the files.

const USAGE: &str = "usage: modsynclog-testcerts DIR

Writes a fresh test CA (ca.pem), server, client and other test certificates with their
keys into DIR (created if needed). For tests only: the keys are not protected.";

fn main() {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let dir = match args.as_slice() {
        [flag] if flag == "-h" || flag == "--help" => {
            println!("{USAGE}");
            return;
        }
        [dir] if !dir.to_string_lossy().starts_with('-') => dir,
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    if let Err(e) = modsynclog_testcerts::TestPki::write(std::path::Path::new(dir)) {
        eprintln!("modsynclog-testcerts: {e}");
        std::process::exit(1);
    }
}
