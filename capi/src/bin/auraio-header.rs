//! Prints `auraio.h` for this library (the Makefile installs it); `--preset` prints the preset.

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("--preset") => println!("{}", auraio_capi::PRESET),
        _ => print!("{}", auraio_capi::AURAIO_H),
    }
}
