//! One `cfg` for the BSD family, so that its list of systems is written once: `spawnmux_bsd`
//! on macOS, iOS, FreeBSD, NetBSD, OpenBSD and DragonFly (kqueue watches processes there, and
//! they share the signals `SIGEMT` and `SIGINFO`, see `src/sys/unix/`).

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rustc-check-cfg=cfg(spawnmux_bsd)");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let bsd = ["macos", "ios", "freebsd", "netbsd", "openbsd", "dragonfly"];
    if bsd.contains(&os.as_str()) {
        println!("cargo::rustc-cfg=spawnmux_bsd");
    }
}
