//! The async adapters start no thread on Unix (own test binary, so no other test's threads
//! come and go meanwhile; Linux, which counts them in /proc).
#![cfg(all(target_os = "linux", not(spawnmux_force_bridge)))]

mod util;

use spawnmux::Events;

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").expect("tasks").count()
}

#[test]
fn tokio_and_async_io_adapters_start_no_thread() {
    // Warm up: spawnmux's process-wide group guard, smol's reactor thread (async-io's own,
    // started by its first use, not by spawnmux).
    smol::block_on(async {
        let mut mux = spawnmux::async_io::AsyncMux::new().expect("mux");
        mux.with_mux(|m| m.spawn(&util::child(&["exit", "0"])))
            .expect("spawn");
        let mut events = Events::new();
        while !mux.with_mux(|m| m.is_empty()) {
            mux.wait(&mut events).await.expect("wait");
        }
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let base = threads();
    // The same run through either adapter (they are two types with the same methods).
    macro_rules! peak_threads {
        ($adapter:ty) => {
            async {
                let mut mux = <$adapter>::new().expect("mux");
                for _ in 0..20 {
                    mux.spawn(&util::child(&["lines", "200", "both", "sleep", "100"]))
                        .expect("spawn");
                }
                let mut events = Events::new();
                let mut peak = threads();
                while !mux.is_empty() {
                    mux.wait(&mut events).await.expect("wait");
                    peak = peak.max(threads());
                }
                peak
            }
        };
    }
    let peak = rt.block_on(peak_threads!(spawnmux::tokio::AsyncMux));
    let smol_peak = smol::block_on(peak_threads!(spawnmux::async_io::AsyncMux));
    assert_eq!(peak, base, "tokio: threads went from {base} to {peak}");
    assert_eq!(
        smol_peak, base,
        "smol: threads went from {base} to {smol_peak}"
    );
}
